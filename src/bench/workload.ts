/**
 * Benchmark workloads, each N requests long and generated lazily (memory does not grow with N):
 *  - `azure`: the Azure 2023 conversation trace repeated back to back with shifted times;
 *  - `decode`: the decode-heavy synthetic run `--request-rate 20 --input-len 512 --output-len 256`
 *    (the CLI's own generator, Poisson arrivals, seed 0);
 *  - `mooncake`: the Mooncake FAST'25 conversation trace (prefix-block hash ids) repeated the same
 *    way, each copy's hash ids shifted past the previous copy's, so a copy shares prefixes within
 *    itself as the trace does, not with the copy before.
 */
import { Chunk, Effect, Stream } from "effect"
import type { Arrival } from "../engine/Engine.js"
import type { PromptContent } from "../memory/blockHash.js"
import { resolveWorkload } from "../workload/Workload.js"
import { openTrace } from "../workload/traces/TraceReader.js"

/** The Azure 2023 conversation trace (relative to the project root). */
export const DEFAULT_TRACE = "../shared/reference/traces/AzureLLMInferenceTrace_conv.csv"
/** The Mooncake FAST'25 conversation trace (relative to the project root). */
export const MOONCAKE_TRACE = "../shared/reference/traces/mooncake/conversation_trace.jsonl"

/** The benchmark workloads, in the table's order. */
export const BENCH_WORKLOADS = ["azure", "decode", "mooncake"] as const
export type BenchWorkload = typeof BENCH_WORKLOADS[number]

/** All arrivals of a trace file. */
export const loadBase = (file: string) =>
  openTrace(file).pipe(Effect.flatMap((t) => Stream.runCollect(t.arrivals)), Effect.map(Chunk.toArray))

/** The largest hash id of the arrivals' prompt contents, or -1 when none has hash-block content. */
const maxHashId = (base: ReadonlyArray<Arrival>): number => {
  let m = -1
  for (const a of base) if (a.content?.kind === "hash-blocks") for (const id of a.content.ids) if (id > m) m = id
  return m
}

const shifted = (c: PromptContent | undefined, by: number): PromptContent | undefined =>
  c === undefined || by === 0 || c.kind !== "hash-blocks" ? c : { kind: "hash-blocks", blockTokens: c.blockTokens, ids: c.ids.map((id) => id + by) }

/**
 * `n` arrivals: the base trace repeated, each copy shifted past the previous one's end (by the
 * trace's span plus its mean gap) and, for hash-block contents, its ids past the previous copy's.
 */
export function* repeated(base: ReadonlyArray<Arrival>, n: number): Generator<Arrival> {
  const span = base[base.length - 1]!.arrivalNs
  const gap = Math.round(span / base.length)
  const idSpan = maxHashId(base) + 1
  let offset = 0
  let copy = 0
  let i = 0
  for (let k = 0; k < n; k++) {
    const a = base[i]!
    const content = shifted(a.content, copy * idSpan)
    yield { arrivalNs: a.arrivalNs + offset, promptTokens: a.promptTokens, outputTokens: a.outputTokens, ...(content === undefined ? {} : { content }) }
    if (++i === base.length) {
      i = 0
      copy++
      offset += span + gap
    }
  }
}

/** The arrivals of benchmark workload `w` with `n` requests (`trace` overrides the Azure/Mooncake file). */
export const benchArrivals = (w: BenchWorkload, n: number, trace?: string) =>
  Effect.gen(function*() {
    if (w === "decode") {
      const wl = yield* resolveWorkload({ numRequests: n, requestRate: "20", inputLen: 512, outputLen: 256 }, 0)
      return wl.arrivals as Stream.Stream<Arrival, unknown>
    }
    const base = yield* loadBase(trace ?? (w === "azure" ? DEFAULT_TRACE : MOONCAKE_TRACE))
    return Stream.fromIterable(repeated(base, n)) as Stream.Stream<Arrival, unknown>
  })

/** What each workload is, for the table's heading. */
export const WORKLOAD_TEXT: Record<BenchWorkload, string> = {
  azure: "Azure 2023 conversation trace repeated",
  decode: "decode-heavy synthetic: --request-rate 20 --input-len 512 --output-len 256",
  mooncake: "Mooncake conversation trace repeated (hash ids shifted per copy), prefix caching on"
}

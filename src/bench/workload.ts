/**
 * Benchmark workload: the Azure 2023 conversation trace repeated back to back with shifted times
 * until it has N requests (read once, repeated lazily, so memory does not grow with N).
 */
import { Chunk, Effect, Stream } from "effect"
import type { Arrival } from "../engine/Engine.js"
import { openTrace } from "../workload/traces/TraceReader.js"

export const DEFAULT_TRACE = "../shared/reference/traces/AzureLLMInferenceTrace_conv.csv"

export const loadBase = (file: string) =>
  openTrace(file).pipe(Effect.flatMap((t) => Stream.runCollect(t.arrivals)), Effect.map(Chunk.toArray))

/** `n` arrivals: the base trace repeated, each copy shifted past the previous one's end. */
export function* repeated(base: ReadonlyArray<Arrival>, n: number): Generator<Arrival> {
  const span = base[base.length - 1]!.arrivalNs
  const gap = Math.round(span / base.length)
  let offset = 0
  let i = 0
  for (let k = 0; k < n; k++) {
    const a = base[i]!
    yield { arrivalNs: a.arrivalNs + offset, promptTokens: a.promptTokens, outputTokens: a.outputTokens }
    if (++i === base.length) {
      i = 0
      offset += span + gap
    }
  }
}

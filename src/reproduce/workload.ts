/**
 * Workloads for published rows whose dataset is not bundled. ShareGPT's prompt and output lengths
 * are not in the project, but `traces/llmservingsim/` holds ShareGPT-derived LLMServingSim JSONL
 * workloads with real lengths. A row on "ShareGPT" is reproduced by drawing its requests' (prompt,
 * output) pairs with replacement from those files (seeded), sent at the row's rate with vLLM
 * bench's / SGLang bench_serving's arrival process (gamma gaps of shape `burstiness` and mean
 * 1 / rate, Poisson at burstiness 1; everything at t = 0 for rate inf). This is an approximation:
 * a few hundred ShareGPT conversations stand in for the thousands the benchmark sampled, tokenized
 * with the Llama-3.1 tokenizer.
 *
 * The pool is filtered as the benchmark clients sample ShareGPT (vLLM's benchmark_serving.py and
 * SGLang's bench_serving.py `sample_sharegpt_requests`: prompt and output at least 4 tokens, prompt
 * at most 1024, prompt + output at most 2048).
 */
import { Chunk, Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Arrival } from "../engine/Engine.js"
import { Rng } from "../workload/Rng.js"
import { openTrace, type TraceError } from "../workload/traces/TraceReader.js"

/** The benchmark clients' ShareGPT length filter (see the module comment). */
export const SHAREGPT_FILTER = { minPrompt: 4, minOutput: 4, maxPrompt: 1024, maxTotal: 2048 } as const

/** The filter as one line. */
export const SHAREGPT_FILTER_TEXT = `prompt >= ${SHAREGPT_FILTER.minPrompt}, output >= ${SHAREGPT_FILTER.minOutput}, prompt <= ${SHAREGPT_FILTER.maxPrompt}, prompt + output <= ${SHAREGPT_FILTER.maxTotal} tokens (vLLM/SGLang bench ShareGPT sampler)`

/** (prompt, output) lengths to draw requests from. */
export interface LengthPool {
  readonly files: ReadonlyArray<string>
  /** Pairs kept by the filter, in file order. */
  readonly prompt: ReadonlyArray<number>
  readonly output: ReadonlyArray<number>
  /** Requests read before filtering. */
  readonly read: number
  readonly meanPrompt: number
  readonly meanOutput: number
}

/**
 * The default pool: the ShareGPT-derived files of `traces/llmservingsim/v2-2026-02/` under
 * `tracesDir` (`sharegpt_*.jsonl`). `current/`'s sps10 workloads are left out: they are
 * LLMServingSim 2.0's own 300-request sample (mean prompt ~860, output ~650 tokens), far from the
 * benchmark clients' filtered ShareGPT; they are replayed exactly where a row names them.
 */
export const defaultPoolFiles = (tracesDir: string): ReadonlyArray<string> => {
  const dir = path.join(tracesDir, "v2-2026-02")
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir).filter((f) => /^sharegpt.*\.jsonl$/i.test(f)).sort().map((f) => path.join(dir, f))
}

/** Read `files` (any trace format the simulator reads) and keep the pairs that pass SHAREGPT_FILTER. */
export const readLengthPool = (files: ReadonlyArray<string>): Effect.Effect<LengthPool, TraceError> =>
  Effect.gen(function*() {
    const prompt: Array<number> = []
    const output: Array<number> = []
    let read = 0
    for (const f of files) {
      const t = yield* openTrace(f)
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(t.arrivals))
      for (const a of all) {
        read++
        const p = a.promptTokens
        const o = a.outputTokens
        const f0 = SHAREGPT_FILTER
        if (p < f0.minPrompt || o < f0.minOutput || p > f0.maxPrompt || p + o > f0.maxTotal) continue
        prompt.push(p)
        output.push(o)
      }
    }
    const mean = (xs: ReadonlyArray<number>) => xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length
    return { files, prompt, output, read, meanPrompt: mean(prompt), meanOutput: mean(output) }
  })

/** How resampled requests are sent. */
export interface ResampleSpec {
  readonly numRequests: number
  /** Requests per second; Infinity = all at t = 0. */
  readonly requestRate: number
  /** Gamma shape of the gaps (1 = Poisson). */
  readonly burstiness: number
  readonly seed: number
}

/**
 * `numRequests` arrivals whose lengths are drawn uniformly with replacement from `pool`, sent as
 * the benchmark clients send them (see the module comment). Deterministic for a given seed.
 */
export function* resampledArrivals(pool: LengthPool, spec: ResampleSpec): Generator<Arrival> {
  const n = pool.prompt.length
  if (n === 0) return
  const rng = new Rng(spec.seed)
  const meanGapNs = 1e9 / spec.requestRate
  let t = 0
  for (let i = 0; i < spec.numRequests; i++) {
    if (i > 0 && Number.isFinite(spec.requestRate)) {
      t += spec.burstiness === 1 ? rng.exponential(meanGapNs) : rng.gamma(spec.burstiness, meanGapNs / spec.burstiness)
    }
    const k = rng.int(0, n - 1)
    yield { arrivalNs: Math.round(t), promptTokens: pool.prompt[k]!, outputTokens: pool.output[k]! }
  }
}

/** Find a trace file named `name` under `dir` (recursively; first match in sorted order), or undefined. */
export const findTrace = (dir: string, name: string): string | undefined => {
  if (!fs.existsSync(dir)) return undefined
  const walk = (d: string): string | undefined => {
    const entries = fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
    for (const e of entries) if (e.isFile() && e.name === name) return path.join(d, e.name)
    for (const e of entries) {
      if (!e.isDirectory()) continue
      const hit = walk(path.join(d, e.name))
      if (hit !== undefined) return hit
    }
    return undefined
  }
  return walk(dir)
}

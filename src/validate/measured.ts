/**
 * A measured serving run as `validate` compares it: per-request samples (ms) and totals, whatever
 * file they came from (LLMServingSim's bench layout, bench.ts; a `vllm bench serve` result JSON,
 * vllmBenchResult.ts).
 */

export interface MeasuredSamples {
  /** Per completed request, ms. */
  readonly ttft: Float64Array
  /** Per completed request with > 1 output token, ms. */
  readonly tpot: Float64Array
  /** Per completed request, ms. */
  readonly e2el: Float64Array
  /** Every inter-token (inter-chunk) gap of every completed request, ms; absent when the run records none. */
  readonly itl?: Float64Array | undefined
}

/**
 * The completed requests one by one, aligned (index i is one request): what `calibrate --run`
 * pairs with the simulated requests to score a subset of them.
 */
export interface MeasuredRequests {
  readonly inputTokens: ReadonlyArray<number>
  readonly outputTokens: ReadonlyArray<number>
  /** When it was sent or queued, s, on any clock (orders the requests as the replay submits them). */
  readonly sendS: ReadonlyArray<number>
  /** ms. */
  readonly ttftMs: Float64Array
  /** ms; NaN for a request with one output token. */
  readonly tpotMs: Float64Array
  /** ms. */
  readonly e2elMs: Float64Array
}

export interface MeasuredRun {
  readonly format: "llmservingsim-bench" | "vllm-bench-serve"
  /** The path given to --run. */
  readonly source: string
  /** Completed requests. */
  readonly requests: number
  readonly samples: MeasuredSamples
  /** The run's span, s (the bench layout: first queued to last token; vLLM bench: its benchmark duration). */
  readonly durationS: number
  readonly totalInput: number
  readonly totalOutput: number
  /** The completed requests one by one. */
  readonly perRequest: MeasuredRequests
}

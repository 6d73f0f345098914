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
}

/**
 * Ranking the configurations an SLA search found limits for: by the limit per GPU (request rate
 * or max concurrency / (TP x PP x DP)), highest first, with the cost per million output tokens at
 * the limit when a GPU-hour price is given, and the Pareto front of output tokens/s per GPU against
 * output tokens/s per user (vLLM's `bench sweep plot_pareto` axes) marked per row.
 */
import { paretoFront } from "../metrics/pareto.js"
import type { SweepJob } from "../sweep/grid.js"
import type { SweepRow } from "../sweep/job.js"
import type { Outcome, SearchResult } from "./search.js"

/** One configuration's line of the ranked table. */
export interface SlaRow {
  /** 1 = best; configurations without a limit (infeasible, error) have none. */
  readonly rank: number | undefined
  readonly index: number
  readonly point: Readonly<Record<string, string>>
  readonly outcome: Outcome
  /** The highest value that met every constraint (req/s or concurrency), undefined when none did. */
  readonly found: number | undefined
  /** The lowest value probed that did not. */
  readonly failed_at: number | undefined
  readonly probes: number
  readonly num_gpus: number
  /** found / num_gpus. */
  readonly found_per_gpu: number | undefined
  /** The metrics of the probe at `found`. */
  readonly at: SweepRow | undefined
  /** USD per 10^6 output tokens at `found`: price x GPUs / (output tokens/s x 3600) x 10^6. */
  readonly cost_per_million_output_tokens: number | undefined
  /** On the Pareto front of (output_tokens_per_s_per_gpu, output_tokens_per_s_per_user) among rows with a limit. */
  readonly pareto: boolean
  readonly error: string | undefined
}

/** GPUs of a job's engine flags: TP x PP x DP (defaults 1; --num-instances is DP's alias). */
export const gpusOf = (job: SweepJob): number =>
  (job.engine.tensorParallelSize ?? 1) * (job.engine.pipelineParallelSize ?? 1) * (job.engine.dataParallelSize ?? job.engine.numInstances ?? 1)

/**
 * USD per million output tokens for `gpus` GPUs at `usdPerGpuHour` producing `outputTokensPerS`
 * (undefined when the throughput is not positive).
 */
export const costPerMillionOutputTokens = (usdPerGpuHour: number, gpus: number, outputTokensPerS: number): number | undefined =>
  outputTokensPerS > 0 && Number.isFinite(outputTokensPerS) ? (usdPerGpuHour * gpus) / (outputTokensPerS * 3600) * 1e6 : undefined

/** The rows, ranked: limit per GPU descending (ties: configuration order), then those without a limit. */
export const rankResults = (
  results: ReadonlyArray<SearchResult<SweepJob, SweepRow>>,
  gpuHourPrice?: number
): Array<SlaRow> => {
  const rows = results.map((r): Omit<SlaRow, "rank" | "pareto"> => {
    const gpus = r.best?.result.num_gpus ?? gpusOf(r.config)
    const at = r.best?.result
    return {
      index: r.config.index, point: r.config.point, outcome: r.outcome, found: r.found, failed_at: r.failedAt,
      probes: r.probes.length, num_gpus: gpus, found_per_gpu: r.found === undefined ? undefined : r.found / gpus, at,
      cost_per_million_output_tokens: gpuHourPrice === undefined || at === undefined ? undefined : costPerMillionOutputTokens(gpuHourPrice, gpus, at.output_throughput),
      error: r.error
    }
  })
  const withLimit = rows.filter((r) => r.at !== undefined)
  const front = new Set(paretoFront(withLimit, (r) => r.at!.output_tokens_per_s_per_gpu, (r) => r.at!.output_tokens_per_s_per_user))
  const order = [...rows].sort((a, b) =>
    (a.found_per_gpu === undefined ? 1 : 0) - (b.found_per_gpu === undefined ? 1 : 0) ||
    (b.found_per_gpu ?? 0) - (a.found_per_gpu ?? 0) || a.index - b.index)
  return order.map((r, i) => ({ ...r, rank: r.found_per_gpu === undefined ? undefined : i + 1, pareto: front.has(r) }))
}

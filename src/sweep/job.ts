/**
 * One sweep configuration run to completion: resolve, simulate (no files), summarise as a row.
 * A configuration that fails (e.g. the model does not fit) gives a row with its error, so one
 * bad point does not stop the sweep.
 */
import { Effect, Layer } from "effect"
import { FrontEndService } from "../frontend/FrontEnd.js"
import { resolveConfig } from "../config/resolve.js"
import { simulate } from "../engine/simulate.js"
import { simulationLayer } from "../layers.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { resolveWorkload } from "../workload/Workload.js"
import type { SweepJob } from "./grid.js"

/** One configuration's result (or error), one CSV row. */
export interface SweepRow {
  readonly index: number
  readonly point: Readonly<Record<string, string>>
  readonly error: string | null
  readonly completed: number
  readonly rejected: number
  readonly kv_cache_blocks: number
  readonly request_throughput: number
  readonly output_throughput: number
  readonly mean_ttft_ms: number
  readonly p99_ttft_ms: number
  readonly mean_tpot_ms: number
  readonly p99_tpot_ms: number
  readonly mean_e2el_ms: number
  readonly p99_e2el_ms: number
  readonly num_preemptions: number
  /** Prompt tokens found in the prefix cache / prompt tokens looked up. */
  readonly prefix_cache_hit_rate: number
  /** GPUs the configuration uses: tensor x pipeline x data parallel size. */
  readonly num_gpus: number
  /** output_throughput / num_gpus (vLLM bench sweep plot_pareto's x axis), tokens/s. */
  readonly output_tokens_per_s_per_gpu: number
  /** 1000 / mean_tpot_ms: one user's decode speed (plot_pareto's y axis), tokens/s. */
  readonly output_tokens_per_s_per_user: number
  /** Wall time of this configuration's simulation, s. */
  readonly wall_s: number
  /** The summary.json metrics the job asked for (SweepJob.metrics), by name; absent when none were. */
  readonly metrics?: Readonly<Record<string, number>>
}

/** The result columns of a row, in CSV order. */
export const RESULT_COLUMNS = [
  "completed", "rejected", "kv_cache_blocks", "request_throughput", "output_throughput", "mean_ttft_ms", "p99_ttft_ms",
  "mean_tpot_ms", "p99_tpot_ms", "mean_e2el_ms", "p99_e2el_ms", "num_preemptions", "prefix_cache_hit_rate",
  "num_gpus", "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user", "wall_s"
] as const

/** Run one configuration; a failure is a row with its error (never a failed effect). */
export const runJob = (job: SweepJob): Effect.Effect<SweepRow> =>
  Effect.gen(function*() {
    const t0 = performance.now()
    const cfg = yield* resolveConfig(job.engine)
    const workload = yield* resolveWorkload(job.workload, cfg.seed, cfg.engine.lora?.adapters.map((a) => a.name) ?? null)
    const { summary: s } = yield* simulate(workload.arrivals, { router: job.router, client: workload.client, sessions: workload.sessions }).pipe(
      Effect.provide(Layer.merge(simulationLayer(cfg, TraceWriter.none), FrontEndService.layer(cfg.frontEnd)))
    )
    return {
      index: job.index, point: job.point, error: null,
      completed: s.completed, rejected: s.rejected, kv_cache_blocks: s.kv_cache_blocks,
      request_throughput: s.request_throughput, output_throughput: s.output_throughput,
      mean_ttft_ms: s.mean_ttft_ms, p99_ttft_ms: s.p99_ttft_ms, mean_tpot_ms: s.mean_tpot_ms, p99_tpot_ms: s.p99_tpot_ms,
      mean_e2el_ms: s.mean_e2el_ms, p99_e2el_ms: s.p99_e2el_ms, num_preemptions: s.num_preemptions,
      prefix_cache_hit_rate: s.prefix_cache_hit_rate,
      ...perGpu(cfg.engine, s.output_throughput, s.mean_tpot_ms),
      wall_s: (performance.now() - t0) / 1000,
      ...(job.metrics === undefined ? {} : { metrics: pick(s, job.metrics) })
    } satisfies SweepRow
  }).pipe(
    Effect.catchAll((e) => Effect.succeed(errorRow(job, e.message)))
  )

/** The row of a configuration that gave no result (failed, or not finished): zeros and `error`. */
export const errorRow = (job: Pick<SweepJob, "index" | "point">, error: string): SweepRow => ({
  index: job.index, point: job.point, error, completed: 0, rejected: 0, kv_cache_blocks: 0, request_throughput: 0,
  output_throughput: 0, mean_ttft_ms: 0, p99_ttft_ms: 0, mean_tpot_ms: 0, p99_tpot_ms: 0, mean_e2el_ms: 0, p99_e2el_ms: 0,
  num_preemptions: 0, prefix_cache_hit_rate: 0, num_gpus: 0, output_tokens_per_s_per_gpu: 0, output_tokens_per_s_per_user: 0, wall_s: 0
})

/**
 * The per-GPU and per-user rates of a run, as vLLM's `bench sweep plot_pareto` computes them: GPUs =
 * TP x PP x DP; tokens/s per GPU = output throughput / GPUs; tokens/s per user = 1000 / mean TPOT (ms).
 */
export const perGpu = (
  e: { readonly tensorParallelSize: number; readonly pipelineParallelSize: number; readonly dataParallelSize: number },
  outputThroughput: number,
  meanTpotMs: number
): Pick<SweepRow, "num_gpus" | "output_tokens_per_s_per_gpu" | "output_tokens_per_s_per_user"> => {
  const gpus = e.tensorParallelSize * e.pipelineParallelSize * e.dataParallelSize
  return { num_gpus: gpus, output_tokens_per_s_per_gpu: outputThroughput / gpus, output_tokens_per_s_per_user: 1000 / meanTpotMs }
}

/** The named numeric fields of a summary (NaN for a name it lacks or that is not a number). */
const pick = (s: object, names: ReadonlyArray<string>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const n of names) {
    const v = (s as Record<string, unknown>)[n]
    out[n] = typeof v === "number" ? v : NaN
  }
  return out
}

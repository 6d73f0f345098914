/**
 * Running an SLA search on sweep's runners: each probe is a sweep job (the configuration with the
 * searched flag set to the probe's value), run on a local worker pool kept for the whole search, in
 * this process (`workers` 1), or on the sweep-runner processes of a cluster database, one batch per
 * search round. A probe that cannot run is an error row, which stops that configuration's search.
 */
import type { WorkerError } from "@effect/platform/WorkerError"
import { Effect, type Scope } from "effect"
import type { InvalidOption } from "../domain/errors.js"
import type { SweepJob } from "../sweep/grid.js"
import { errorRow, runJob, type SweepRow } from "../sweep/job.js"
import { makeWorkerPool } from "../sweep/pool.js"
import { type Constraint, showConstraint, violated } from "./constraint.js"
import { type Probe, type SearchDomain, searchAll, type SearchResult } from "./search.js"

/** The flag an SLA search varies (vLLM bench's names). */
export type SearchVariable = "request-rate" | "max-concurrency"

/** Runs a batch of jobs, rows in the same order. */
export type JobRunner<E = never> = (jobs: ReadonlyArray<SweepJob>) => Effect.Effect<ReadonlyArray<SweepRow>, E>

/** The configuration `base` with `variable` set to `value`, as probe job number `index`. */
export const probeJob = (base: SweepJob, variable: SearchVariable, value: number, index: number, metrics: ReadonlyArray<string>): SweepJob => ({
  ...base,
  index,
  point: { ...base.point, [variable]: String(value) },
  workload: variable === "request-rate" ? { ...base.workload, requestRate: String(value) } : { ...base.workload, maxConcurrency: value },
  metrics
})

/**
 * A runner over `size` local worker processes (sweep's pool), alive for the scope; with `size` <= 1
 * the jobs run one by one in this process. A worker that dies costs its job an error row.
 */
export const localRunner = (size: number): Effect.Effect<JobRunner, WorkerError, Scope.Scope> =>
  size <= 1
    ? Effect.succeed((jobs) => Effect.forEach(jobs, runJob))
    : Effect.map(makeWorkerPool(size), (pool): JobRunner => (jobs) =>
      Effect.forEach(jobs, (j) =>
        pool.run(j).pipe(Effect.catchAll((e) => Effect.succeed(errorRow(j, `worker process failed: ${e.message}`)))), { concurrency: size }).pipe(
        Effect.onInterrupt(() => pool.killAll)
      ))

/** A runner on the sweep-runners registered in the cluster database at `url` (sweep/cluster.ts). */
export const clusterRunner = (url: string): Effect.Effect<JobRunner<InvalidOption>> =>
  Effect.map(Effect.promise(() => import("../sweep/cluster.js")), (cluster): JobRunner<InvalidOption> => (jobs) =>
    Effect.map(cluster.runClusterSweep(jobs, url), (r) => r.rows))

/**
 * Whether a row meets the constraints, and which it breaks. A probe in which no request finished,
 * or some were rejected (too long for max_model_len, no KV memory), fails: its latency metrics
 * describe nobody (they read 0) or only the requests the configuration could take.
 */
export const judgeRow = (constraints: ReadonlyArray<Constraint>) => (row: SweepRow): { pass: boolean; why: string } => {
  if (row.completed === 0) return { pass: false, why: "no request finished" }
  if (row.rejected > 0) return { pass: false, why: `${row.rejected} requests rejected` }
  const bad = violated(constraints, row.metrics ?? {})
  return {
    pass: bad.length === 0,
    why: bad.map((c) => `${c.metric} ${fmt(row.metrics?.[c.metric])} breaks ${showConstraint(c)}`).join("; ")
  }
}

const fmt = (x: unknown) => (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(2)) : "missing")

/**
 * Search every configuration for the highest `variable` value meeting `constraints` (search.ts),
 * each probe one job on `runner`; `onProbe` sees each probe as it is judged.
 */
export const runSla = <E>(
  configs: ReadonlyArray<SweepJob>,
  variable: SearchVariable,
  domain: SearchDomain,
  constraints: ReadonlyArray<Constraint>,
  runner: JobRunner<E>,
  onProbe: (p: Probe<SweepRow>) => void = () => {}
): Effect.Effect<Array<SearchResult<SweepJob, SweepRow>>, E> => {
  const metrics = [...new Set(constraints.map((c) => c.metric))]
  let next = 0
  return searchAll(configs, domain, judgeRow(constraints), (batch) =>
    runner(batch.map((b) => probeJob(b.config, variable, b.value, next++, metrics))), onProbe)
}

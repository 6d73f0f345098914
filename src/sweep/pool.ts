/**
 * Run sweep configurations: in this thread one by one (`workers <= 1`), or across a pool of
 * worker threads (@effect/platform Worker with the Node worker-thread backend). Each run is
 * isolated: it writes no files and shares no state. Rows come back in configuration order;
 * `onDone` is called as each finishes (progress).
 */
import * as Worker from "@effect/platform/Worker"
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Effect } from "effect"
import * as WT from "node:worker_threads"
import type { SweepJob } from "./grid.js"
import { runJob, type SweepRow } from "./job.js"

const workerUrl = new URL("./worker.js", import.meta.url)

export const runSweep = (jobs: ReadonlyArray<SweepJob>, workers: number, onDone: (row: SweepRow) => void = () => {}) =>
  Effect.gen(function*() {
    if (workers <= 1) {
      return yield* Effect.forEach(jobs, (j) => runJob(j).pipe(Effect.tap((r) => Effect.sync(() => onDone(r)))))
    }
    const pool = yield* Worker.makePool<SweepJob, SweepRow, never>({ size: Math.min(workers, jobs.length) })
    return yield* Effect.forEach(jobs, (j) => pool.executeEffect(j).pipe(Effect.tap((r) => Effect.sync(() => onDone(r)))), { concurrency: "unbounded" })
  }).pipe(
    Effect.scoped,
    Effect.provide(NodeWorker.layer(() => new WT.Worker(workerUrl)))
  )

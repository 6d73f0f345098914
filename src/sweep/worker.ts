/**
 * Sweep worker (a child process): runs the configurations it is sent (see pool.ts). Deep imports keep the
 * thread's start-up short (the package indexes load the HTTP stack too).
 */
import * as WorkerRunner from "@effect/platform/WorkerRunner"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Layer from "effect/Layer"
import type { SweepJob } from "./grid.js"
import { runJob } from "./job.js"

const RunnerLive = WorkerRunner.layer((job: SweepJob) => runJob(job)).pipe(Layer.provide(NodeWorkerRunner.layer))

// the sweep that started this worker went away without closing it (killed): nothing to report to
process.on("disconnect", () => process.exit(0))

NodeRuntime.runMain(WorkerRunner.launch(RunnerLive))

/** Sweep worker thread: runs the configurations it is sent (see pool.ts). */
import { WorkerRunner } from "@effect/platform"
import { NodeRuntime, NodeWorkerRunner } from "@effect/platform-node"
import { Layer } from "effect"
import type { SweepJob } from "./grid.js"
import { runJob } from "./job.js"

const RunnerLive = WorkerRunner.layer((job: SweepJob) => runJob(job)).pipe(Layer.provide(NodeWorkerRunner.layer))

NodeRuntime.runMain(WorkerRunner.launch(RunnerLive))

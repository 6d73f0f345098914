/**
 * Standard wiring: the configured perf model and network, the vLLM paged KV cache and the vLLM V1
 * scheduler over a resolved configuration (`poolLayer`, one per pool of a cluster), plus a
 * TraceWriter (`simulationLayer`). Tests build their own mixes.
 */
import { Layer } from "effect"
import { ConfigService, type SimConfig } from "./config/ConfigService.js"
import { MemoryService } from "./memory/MemoryService.js"
import { networkLayer } from "./network/spec.js"
import { PerfModelService } from "./perf/PerfModelService.js"
import { perfModelLayer } from "./perf/spec.js"
import { SchedulerService } from "./scheduler/SchedulerService.js"
import type { TraceWriter } from "./trace/TraceWriter.js"

/** ConfigService, NetworkService, PerfModelService, MemoryService and SchedulerService for `config`. */
export const poolLayer = (config: SimConfig) => {
  const cfg = ConfigService.make(config)
  const net = networkLayer(config.network).pipe(Layer.provide(cfg))
  const perf = (config.perfModel === undefined ? PerfModelService.roofline : perfModelLayer(config.perfModel.spec, config.perfModel.stepOverheadNs))
    .pipe(Layer.provide(net))
  const memory = MemoryService.paged
  const scheduler = SchedulerService.vllmV1
  return Layer.mergeAll(net, perf, memory, scheduler).pipe(Layer.provideMerge(cfg))
}

export const simulationLayer = <E, R>(config: SimConfig, writer: Layer.Layer<TraceWriter, E, R>) =>
  Layer.merge(poolLayer(config), writer)

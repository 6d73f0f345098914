/**
 * Standard wiring: the datasheet roofline, the vLLM paged KV cache and the vLLM V1 scheduler over
 * a resolved configuration, with the given TraceWriter. Tests build their own mixes.
 */
import { Layer } from "effect"
import { ConfigService, type SimConfig } from "./config/ConfigService.js"
import { MemoryService } from "./memory/MemoryService.js"
import { networkLayer } from "./network/spec.js"
import { PerfModelService } from "./perf/PerfModelService.js"
import { perfModelLayer } from "./perf/spec.js"
import { SchedulerService } from "./scheduler/SchedulerService.js"
import { TraceWriter } from "./trace/TraceWriter.js"

export const simulationLayer = <E, R>(config: SimConfig, writer: Layer.Layer<TraceWriter, E, R>) => {
  const cfg = ConfigService.make(config)
  const net = networkLayer(config.network).pipe(Layer.provide(cfg))
  const perf = (config.perfModel === undefined ? PerfModelService.roofline : perfModelLayer(config.perfModel.spec, config.perfModel.stepOverheadNs))
    .pipe(Layer.provide(net), Layer.provide(cfg))
  const memory = MemoryService.paged.pipe(Layer.provide(cfg))
  const scheduler = SchedulerService.vllmV1.pipe(Layer.provide(cfg))
  return Layer.mergeAll(cfg, perf, memory, scheduler, writer)
}

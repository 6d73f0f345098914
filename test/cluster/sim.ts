/** A small multi-instance simulation with a chosen router; returns each request's instance. */
import { Effect, Layer, Stream } from "effect"
import type { RouterPolicy, RouterSpec } from "../../src/cluster/RouterSpec.js"
import { ConfigService } from "../../src/config/ConfigService.js"
import type { SimRequest } from "../../src/domain/SimRequest.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { simulate } from "../../src/engine/simulate.js"
import { MemoryService } from "../../src/memory/MemoryService.js"
import { PerfModelService } from "../../src/perf/PerfModelService.js"
import { SchedulerService } from "../../src/scheduler/SchedulerService.js"
import { TraceWriter } from "../../src/trace/TraceWriter.js"
import { testConfig } from "../helpers.js"

export const runRouted = (arrivals: ReadonlyArray<Arrival>, router: RouterPolicy | RouterSpec, numInstances: number, stepNs = 10_000_000) =>
  Effect.gen(function*() {
    const cfg = testConfig({ enablePrefixCaching: true }, numInstances)
    const reqs: Array<SimRequest> = []
    const layer = Layer.mergeAll(
      ConfigService.make(cfg),
      PerfModelService.constant(stepNs),
      MemoryService.fixed(10_000, cfg.engine.blockSize, true),
      SchedulerService.vllmV1With(cfg.engine),
      TraceWriter.none
    )
    const result = yield* simulate(Stream.fromIterable(arrivals), { router, observer: { onArrive: (r) => reqs.push(r) } }).pipe(Effect.provide(layer))
    return { instanceOf: reqs.map((r) => r.instance), summary: result.summary }
  })

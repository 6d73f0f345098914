/**
 * The offline simulation: the arrival Stream folded through the engine on virtual time, then
 * drained. Services are looked up once here; the per-arrival work is plain function calls
 * (one Effect per Stream chunk, none per request or token).
 */
import { Effect, Stream } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import { emptyPrefixCacheStats } from "../memory/KvCache.js"
import { MemoryService } from "../memory/MemoryService.js"
import type { KvCapacity } from "../memory/capacity.js"
import { MetricsCollector } from "../metrics/MetricsCollector.js"
import type { Summary } from "../metrics/Summary.js"
import { moeParallelSummary } from "../perf/expertParallel.js"
import { PerfModelService } from "../perf/PerfModelService.js"
import { SchedulerService } from "../scheduler/SchedulerService.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import type { FileError } from "../domain/errors.js"
import { networkConfig } from "../network/spec.js"
import { type Arrival, Engine } from "./Engine.js"
import { combineObservers, type EngineObserver } from "./EngineObserver.js"
import { makeRouter, type RouterPolicy } from "./Router.js"

export interface SimulationResult {
  readonly summary: Summary
  readonly capacity: KvCapacity
  readonly perfModel: string
  readonly engine: Engine
}

export interface SimulationOptions {
  readonly router?: RouterPolicy
  /** Extra observer (progress, tests). */
  readonly observer?: EngineObserver
  /** Never fast-forward steady decode runs (slower; the oracle the fast path must match). */
  readonly exactSteps?: boolean
  /** Called after each chunk of arrivals with the requests submitted so far and the engine clock (ns). */
  readonly onProgress?: (submitted: number, clockNs: number) => void
  /** Description of the workload, copied into summary.config. */
  readonly workload?: Record<string, unknown>
}

/**
 * Run a simulation of `arrivals` (non-decreasing arrival times). Fails with the stream's error or
 * a FileError from the TraceWriter.
 */
export const simulate = <E>(arrivals: Stream.Stream<Arrival, E>, options: SimulationOptions = {}) =>
  Effect.gen(function*() {
    const cfg = yield* ConfigService
    const perf = yield* PerfModelService
    const memory = yield* MemoryService
    const policy = yield* SchedulerService
    const sink = yield* TraceWriter
    const metrics = new MetricsCollector()
    const observers = [metrics.observer, sink.observer]
    if (options.observer !== undefined) observers.push(options.observer)
    const engine = new Engine({
      numInstances: cfg.numInstances,
      policy,
      makeKvCache: memory.makeKvCache,
      perf,
      observer: combineObservers(...observers),
      router: makeRouter(options.router ?? "round-robin"),
      maxModelLen: cfg.engine.maxModelLen,
      maxNumSeqs: cfg.engine.maxNumSeqs,
      exactSteps: options.exactSteps ?? false
    })
    yield* Stream.runForEachChunk(arrivals, (chunk) =>
      Effect.sync(() => {
        for (const a of chunk) engine.submit(a)
        options.onProgress?.(engine.submitted, engine.clock)
      }))
    engine.drain()
    const prefixCache = emptyPrefixCacheStats()
    for (const inst of engine.instances) {
      const st = inst.scheduler.kv.stats
      prefixCache.queries += st.queries
      prefixCache.hits += st.hits
      prefixCache.preemptedQueries += st.preemptedQueries
      prefixCache.preemptedHits += st.preemptedHits
    }
    const summary = metrics.summary({
      kvCacheBlocks: memory.capacity.numBlocks,
      prefixCache,
      seed: cfg.seed,
      config: {
        model: cfg.model.id,
        hardware: cfg.hardware.name,
        perf_model: perf.name,
        network: networkConfig(cfg),
        scheduler: policy.name,
        num_instances: cfg.numInstances,
        ...(cfg.model.moe === null ? {} : { moe_parallel: moeParallelSummary(cfg.model, cfg.engine) }),
        engine: cfg.engine,
        // the datasheet roofline's parameters, only when it is the model in use
        ...(cfg.perfModel === undefined ? { roofline: cfg.roofline } : {}),
        kv_cache: memory.capacity,
        ...(options.workload === undefined ? {} : { workload: options.workload })
      }
    })
    yield* sink.writeSummary(summary)
    return { summary, capacity: memory.capacity, perfModel: perf.name, engine } satisfies SimulationResult
  }) as Effect.Effect<SimulationResult, E | FileError, ConfigService | PerfModelService | MemoryService | SchedulerService | TraceWriter>

/** Shared test wiring: a small engine over swapped layers (constant perf, fixed KV, in-memory trace). */
import type { SessionSpec } from "../src/workload/sessions.js"
import { Effect, Layer, Stream } from "effect"
import { ConfigService, type SimConfig } from "../src/config/ConfigService.js"
import { defaultEngineConfig, type EngineConfig } from "../src/domain/EngineConfig.js"
import { type Hardware } from "../src/domain/Hardware.js"
import { shapeOf } from "../src/domain/Model.js"
import { defaultRooflineParams } from "../src/domain/PerfParams.js"
import type { ClientSpec } from "../src/engine/ClosedLoopClient.js"
import type { RouterPolicy } from "../src/cluster/RouterSpec.js"
import type { Arrival } from "../src/engine/Engine.js"
import type { EngineObserver } from "../src/engine/EngineObserver.js"
import { simulate } from "../src/engine/simulate.js"
import { MemoryService, type OffloadSpec } from "../src/memory/MemoryService.js"
import type { SwapSpec } from "../src/scheduler/SwapSpace.js"
import type { GoodputSlo } from "../src/metrics/goodput.js"
import type { BatchShape } from "../src/perf/BatchShape.js"
import { PerfModelService } from "../src/perf/PerfModelService.js"
import { SchedulerService } from "../src/scheduler/SchedulerService.js"
import { makeInMemoryTrace, TraceWriter } from "../src/trace/TraceWriter.js"
import { FrontEndService, type FrontEndParams, NO_FRONT_END } from "../src/frontend/FrontEnd.js"

export const testModel = shapeOf("test/tiny", {
  model_type: "llama", hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2,
  vocab_size: 1000, intermediate_size: 1024, max_position_embeddings: 1 << 20
})

export const testHardware: Hardware = {
  name: "TESTGPU", fullName: "test GPU", aliases: [], vendor: "test", bf16Tflops: 100, fp16Tflops: 100, fp8Tflops: null,
  memoryGB: 16, memoryBandwidthGBs: 1000, interconnect: "none", interconnectGBs: 64, tdpW: 100, source: "test"
}

export const testConfig = (engine: Partial<EngineConfig> = {}, numInstances = 1): SimConfig => ({
  model: testModel,
  modelSource: "test",
  hardware: testHardware,
  engine: { ...defaultEngineConfig(1 << 20, 2), ...engine },
  roofline: defaultRooflineParams,
  numInstances,
  seed: 0,
  frontEnd: NO_FRONT_END
})

export interface ScenarioOptions {
  readonly engine?: Partial<EngineConfig>
  /** Step time: a constant in ns, or a function of the batch. */
  readonly stepNs?: number | ((b: BatchShape) => number)
  readonly numBlocks?: number
  readonly numInstances?: number
  readonly observer?: EngineObserver
  readonly exactSteps?: boolean
  /** A closed-loop client (--max-concurrency) sending the arrivals. */
  readonly client?: ClientSpec
  /**
   * Pipeline parallelism: `stages` stages, stage s taking `stageNs(b, s)` (default: the step time
   * for every stage) and each send `sendNs`; the engine then runs `stages` virtual engines per instance.
   */
  readonly pipeline?: { readonly stages: number; readonly sendNs: number; readonly stageNs?: (b: BatchShape, s: number) => number }
  /** The API server in front (default none). */
  readonly frontEnd?: FrontEndParams
  /** Keep the run's time series (store.timeseries) in buckets of this many s. */
  readonly timeseriesIntervalS?: number
  /** The fixed per-step time the perf model declares to be inside every step time (multi-step pays it once per block). */
  readonly stepOverheadNs?: number
  /** Multiply every step time by this (SimulationOptions.stepTimeScale; default 1). */
  readonly stepTimeScale?: number
  /** Router among the instances (default round-robin). */
  readonly router?: RouterPolicy
  /** A multi-turn session workload: `arrivals` are its first turns (workload/sessions.ts sessionStarts). */
  readonly sessions?: SessionSpec | "trace"
  /** CPU KV offloading's host tier (memory/MemoryService.ts OffloadSpec), with prefix caching. */
  readonly offload?: OffloadSpec
  /** Swap preemption's host swap space (scheduler/SwapSpace.ts). */
  readonly swap?: SwapSpec
  /** vLLM bench's --goodput objectives (metrics/goodput.ts). */
  readonly goodput?: GoodputSlo
  /** The GPU (default testHardware). */
  readonly hardware?: Hardware
  /** SimulationOptions.energy (--energy; default off). */
  readonly energy?: boolean
}

/** Run arrivals through the vLLM V1 scheduler with a swapped perf model and a fixed KV cache. */
export const runScenario = (arrivals: ReadonlyArray<Arrival>, o: ScenarioOptions = {}) =>
  Effect.gen(function*() {
    const store = makeInMemoryTrace(o.timeseriesIntervalS === undefined ? {} : { timeseriesIntervalS: o.timeseriesIntervalS })
    const cfg = o.hardware === undefined ? testConfig(o.engine, o.numInstances) : { ...testConfig(o.engine, o.numInstances), hardware: o.hardware }
    const step = o.stepNs ?? 10_000_000
    const stepFn = typeof step === "number" ? (b: BatchShape) => (b.prefillTokens + b.numDecode === 0 ? 0 : step) : step
    const pp = o.pipeline
    const perf = pp !== undefined
      ? Layer.succeed(PerfModelService, {
        name: "pipeline-test",
        stepTimeNs: stepFn,
        pipeline: {
          stages: pp.stages,
          layers: Array.from({ length: pp.stages }, () => 1),
          price: (b: BatchShape, stageNs: Float64Array, sendNs: Float64Array) => {
            for (let st = 0; st < pp.stages; st++) stageNs[st] = pp.stageNs === undefined ? stepFn(b) : pp.stageNs(b, st)
            for (let st = 0; st < pp.stages - 1; st++) sendNs[st] = pp.sendNs
          }
        }
      })
      : o.stepOverheadNs !== undefined ? Layer.succeed(PerfModelService, { name: "fn", stepTimeNs: stepFn, stepOverheadNs: o.stepOverheadNs })
      : typeof step === "number" ? PerfModelService.constant(step) : PerfModelService.fromFunction("fn", step)
    const layer = Layer.mergeAll(
      ConfigService.make(cfg),
      perf,
      MemoryService.fixed(o.numBlocks ?? 100_000, cfg.engine.blockSize, cfg.engine.enablePrefixCaching, o.offload),
      SchedulerService.vllmV1With(cfg.engine, o.swap),
      TraceWriter.inMemory(store),
      o.frontEnd === undefined ? Layer.empty : FrontEndService.layer(o.frontEnd)
    )
    const result = yield* simulate(Stream.fromIterable(arrivals), {
      exactSteps: o.exactSteps ?? false,
      ...(o.router === undefined ? {} : { router: o.router }),
      ...(o.observer === undefined ? {} : { observer: o.observer }),
      ...(o.client === undefined ? {} : { client: o.client }),
      ...(o.sessions === undefined ? {} : { sessions: o.sessions }),
      ...(o.goodput === undefined ? {} : { goodput: o.goodput }),
      ...(o.stepTimeScale === undefined ? {} : { stepTimeScale: o.stepTimeScale }),
      ...(o.energy === undefined ? {} : { energy: o.energy })
    }).pipe(Effect.provide(layer))
    return { store, result, summary: result.summary }
  })

export const ms = (x: number) => x * 1_000_000

/**
 * The running server's shared state (ServeContext): the live engine, its metrics and the options
 * of `serve`. Every route file reads it; Http.ts builds it once per server.
 */
import { Context, Effect, Layer } from "effect"
import type { RouterPolicy, RouterSpec } from "../cluster/RouterSpec.js"
import { ConfigService, type SimConfig } from "../config/ConfigService.js"
import { combineObservers, type EngineObserver } from "../engine/EngineObserver.js"
import { makeSpecDecodeCounters } from "../engine/SpecDecoder.js"
import { type LoraCounters, makeLoraCounters } from "../lora/LoraSlots.js"
import { MemoryService } from "../memory/MemoryService.js"
import { type Admission, makeAdmission } from "./admission.js"
import { type LiveEngine, makeLiveEngine } from "./LiveEngine.js"
import { makeServerMetrics, type ServerMetrics, ZERO_LOAD } from "./Metrics.js"
import { logStatsEvery } from "./statsLog.js"
import type { OutputLenSpec } from "./OutputLen.js"
import type { TextTokenizer } from "./Tokenizer.js"

export const SERVER_VERSION = "0.1.0"


export interface ServeOptions {
  /** Name clients send as `model` (default: the model id, or the --model path). */
  readonly servedModelName: string
  readonly timeScale: number
  /** Waiting requests at which new ones are refused (Infinity = never). */
  readonly maxWaiting: number
  readonly queueFullStatus: 429 | 503
  readonly apiKey?: string | undefined
  readonly outputLen: OutputLenSpec
  /** Answer with the prompt's tokens in a loop instead of filler text. */
  readonly echo: boolean
  readonly tokenizer: TextTokenizer
  /** Add `sim_time_ns` and `due_mono_ns` to every token chunk (benchmarks and tests). */
  readonly timingFields?: boolean
  readonly router?: RouterPolicy | RouterSpec
  /** Extra engine observer (tests). */
  readonly observer?: EngineObserver
  /** Seconds between two stats lines on stdout (server/statsLog.ts); absent or 0 = none (--disable-log-stats). */
  readonly logStatsIntervalS?: number | undefined
}


/** The running server's state: engine, metrics, options. */
export interface ServeState {
  readonly engine: LiveEngine
  readonly metrics: ServerMetrics
  readonly options: ServeOptions
  readonly config: SimConfig
  /** LoRA serving's adapter-load counters (absent without --enable-lora), for /status. */
  readonly loraCounters?: LoraCounters | undefined
  /** Requests admitted past --max-waiting and not yet submitted (admission.ts). */
  readonly admission: Admission
}
export class ServeContext extends Context.Tag("llmservingsim/ServeContext")<ServeContext, ServeState>() {}

/** Build the live engine and metrics for `options` (scoped: the engine fiber stops with the scope). */
export const serveContextLayer = (options: ServeOptions) =>
  Layer.scoped(
    ServeContext,
    Effect.gen(function*() {
      const cfg = yield* ConfigService
      const memory = yield* MemoryService
      let engineRef: LiveEngine | undefined
      // the metrics read the engine's load at scrape time; the engine feeds the metrics' observer
      const loadsOf = () => engineRef?.engineLoads() ?? []
      const spec = cfg.engine.speculativeConfig
      const specCounters = spec === undefined ? undefined : makeSpecDecodeCounters(spec.numSpeculativeTokens)
      const lora = cfg.engine.lora
      const loraCounters = lora === undefined ? undefined : makeLoraCounters()
      const loraSource = lora === undefined ? undefined : {
        maxLoras: lora.maxLoras,
        names: lora.adapters.map((a) => a.name),
        activity: () => engineRef?.loraActivity() ?? { running: new Set<number>(), waiting: new Set<number>() }
      }
      const metrics = makeServerMetrics(options.servedModelName, loadsOf, { blockSize: cfg.engine.blockSize, numGpuBlocks: memory.capacity.numBlocks, enablePrefixCaching: cfg.engine.enablePrefixCaching, engines: cfg.numInstances }, specCounters, loraSource)
      const observer = options.observer === undefined ? metrics.observer : combineObservers(metrics.observer, options.observer)
      const engine = yield* makeLiveEngine({ timeScale: options.timeScale, router: options.router ?? "round-robin", observer, onDeliveryLag: metrics.observeDeliveryLag, ...(specCounters === undefined ? {} : { specCounters }), ...(loraCounters === undefined ? {} : { loraCounters }) })
      engineRef = engine
      const every = options.logStatsIntervalS
      if (every !== undefined && every > 0) yield* Effect.forkScoped(logStatsEvery(every, metrics.totals, () => engineRef?.load() ?? ZERO_LOAD))
      return { engine, metrics, options, config: cfg, loraCounters, admission: makeAdmission() } satisfies ServeState
    })
  )

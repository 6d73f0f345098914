/**
 * The offline simulation: the arrival Stream folded through the engine on virtual time, then
 * drained. Services are looked up once here; the per-arrival work is plain function calls
 * (one Effect per Stream chunk, none per request or token).
 *
 * `simulate` runs one colocated pool on the services in context (tests swap any of them);
 * `simulateCluster` builds every pool's services from its own configuration through the standard
 * layers (`poolLayer`) and runs them together. Both end in `runPools`, so a one-pool cluster file
 * and the equivalent flags give the same results, byte for byte.
 */
import { makeLoraAssigner } from "../lora/assign.js"
import { LoraSlots, makeLoraCounters } from "../lora/LoraSlots.js"
import { LoraStats } from "../lora/LoraStats.js"
import { makeSpecDecodeCounters, makeSpecDecoder, specDecodeJson, specSeed } from "./SpecDecoder.js"
import { Effect, Stream } from "effect"
import { ClusterStats } from "../cluster/ClusterStats.js"
import { ConfigService } from "../config/ConfigService.js"
import type { ClusterConfig, PoolRole } from "../domain/Cluster.js"
import { type FileError, InvalidOption, type NoKvMemory } from "../domain/errors.js"
import { memoryRefusal } from "../memory/simulatorMemory.js"
import { kvBytesPerToken } from "../domain/Model.js"
import type { Network } from "../domain/Network.js"
import type { SimConfig } from "../domain/SimConfig.js"
import { emptyPrefixCacheStats } from "../memory/KvCache.js"
import { type Memory, MemoryService } from "../memory/MemoryService.js"
import type { KvCapacity } from "../memory/capacity.js"
import { MetricsCollector } from "../metrics/MetricsCollector.js"
import type { Summary } from "../metrics/Summary.js"
import { NetworkService, zeroNetwork } from "../network/NetworkService.js"
import { moeParallelSummary } from "../perf/expertParallel.js"
import { networkConfig } from "../network/spec.js"
import { type PerfModel, PerfModelService } from "../perf/PerfModelService.js"
import { scalePerfModel } from "../perf/scaled.js"
import { type SchedulerPolicy, SchedulerService } from "../scheduler/SchedulerService.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { poolLayer } from "../layers.js"
import { currentFrontEnd, type FrontEnd, makeFrontEnd, NO_FRONT_END } from "../frontend/FrontEnd.js"
import { ClosedLoopClient, type ClientSpec } from "./ClosedLoopClient.js"
import { SessionClient } from "./SessionClient.js"
import { GoodputMeter, type GoodputSlo } from "../metrics/goodput.js"
import type { SessionSpec } from "../workload/sessions.js"
import { type Arrival, Engine } from "./Engine.js"
import { combineObservers, type EngineObserver } from "./EngineObserver.js"
import { InstanceRole } from "./Instance.js"
import { makeRouter } from "../cluster/Router.js"
import { EnergyMeter, type EnergyPool } from "../energy/EnergyMeter.js"
import { gpuPower } from "../energy/power.js"
import { type RouterPolicy, routerJson, type RouterSpec } from "../cluster/RouterSpec.js"

export interface SimulationResult {
  readonly summary: Summary
  /** KV capacity of one instance of the first pool. */
  readonly capacity: KvCapacity
  /** Perf model of the first pool (with several pools: each pool's, joined). */
  readonly perfModel: string
  readonly engine: Engine
}

export interface SimulationOptions {
  /** Router policy (and its weights and signal staleness); default round-robin. */
  readonly router?: RouterPolicy | RouterSpec
  /** Extra observer (progress, tests). */
  readonly observer?: EngineObserver
  /** Never fast-forward steady decode runs (slower; the oracle the fast path must match). */
  readonly exactSteps?: boolean
  /** Called after each chunk of arrivals with the requests submitted so far and the engine clock (ns). */
  readonly onProgress?: (submitted: number, clockNs: number) => void
  /** Description of the workload, copied into summary.config. */
  readonly workload?: Record<string, unknown>
  /**
   * A closed-loop client (--max-concurrency): each arrival is sent when it holds one of the
   * client's slots (engine/ClosedLoopClient.ts). Absent: every request is sent at its arrival.
   */
  readonly client?: ClientSpec | undefined
  /**
   * A multi-turn session workload (workload/sessions.ts): `arrivals` are the sessions' first turns,
   * and the session client (engine/SessionClient.ts) sends each later turn when the previous answer
   * is back plus the think time. "trace": sessions read from a trace (each first turn carries its
   * later turns and tool times). Not with `client`.
   */
  readonly sessions?: SessionSpec | "trace" | undefined
  /** Called once with the engine before the first arrival (timelines naming its instances). */
  readonly onEngine?: ((engine: Engine) => void) | undefined
  /** vLLM bench's --goodput objectives: request_goodput and attainment in the summary (metrics/goodput.ts). */
  readonly goodput?: GoodputSlo | undefined
  /**
   * Multiply every pool's step times by this factor (perf/scaled.ts: every step, fast-forwarded
   * or not, and every pipeline stage and send); default 1 (the perf model as it is).
   */
  readonly stepTimeScale?: number
  /**
   * Price every GPU's energy (`--energy`, energy/EnergyMeter.ts) and add summary.json's `energy`
   * section; fails with InvalidOption when a pool's hardware file has no `idleW`. Default off.
   */
  readonly energy?: boolean
}

/** One pool with its services looked up. */
export interface PoolRun {
  readonly name: string
  readonly role: PoolRole
  readonly instances: number
  readonly config: SimConfig
  readonly perf: PerfModel
  readonly memory: Memory
  readonly policy: SchedulerPolicy
  /** vLLM's kv_connector, when the cluster file names one. */
  readonly kvConnector?: string | undefined
  /** Prices its KV transfers (needed by a decode pool). */
  readonly network?: Network | undefined
}

/** Simulated time the drain runs between two yields, ns (1 s). */
const DRAIN_SLICE_NS = 1e9

/** Wall time between two turns of Node's event loop during a run, ms. */
const YIELD_EVERY_MS = 50
let lastYield = 0

/**
 * Let Node's event loop turn (setImmediate: a macrotask, so signal handlers run; Effect's own
 * yield stays in microtasks) when YIELD_EVERY_MS of wall time went by since the last turn.
 */
const yieldToEventLoop: Effect.Effect<void> = Effect.suspend(() => {
  const now = performance.now()
  if (now - lastYield < YIELD_EVERY_MS) return Effect.void
  lastYield = now
  return Effect.async<void>((resume) => {
    const h = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(h))
  })
})

const ROLE = { colocated: InstanceRole.Colocated, prefill: InstanceRole.Prefill, decode: InstanceRole.Decode } as const

/** summary.config of one pool's instance configuration. */
const poolConfigJson = (p: PoolRun) => {
  const cfg = p.config
  return {
    model: cfg.model.id,
    hardware: cfg.hardware.name,
    perf_model: p.perf.name,
    network: networkConfig(cfg),
    scheduler: p.policy.name,
    num_instances: p.instances,
    ...(cfg.model.moe === null ? {} : { moe_parallel: moeParallelSummary(cfg.model, cfg.engine) }),
    engine: cfg.engine,
    // the datasheet roofline's parameters, only when it is the model in use
    ...(cfg.perfModel === undefined ? { roofline: cfg.roofline } : {}),
    kv_cache: p.memory.capacity,
    ...(cfg.pim === undefined ? {} : { pim: cfg.pim })
  }
}

/** summary.json's kv_offload section when the instances offload KV to host memory (else nothing). */
const offloadJson = (engine: Engine, queries: number, sizeGib: number | undefined): Pick<Summary, "kv_offload"> => {
  let stored = 0, loaded = 0, evicted = 0, loadNs = 0, tokens = 0, capacity = 0, any = false
  for (const inst of engine.instances) {
    const t = inst.scheduler.kv.offload
    if (t === undefined) continue
    any = true
    stored += t.stored
    loaded += t.loaded
    evicted += t.evicted
    tokens += t.loaded * inst.scheduler.kv.blockSize
    capacity = t.capacityBlocks
    loadNs += inst.loadNs
  }
  if (!any) return {}
  return {
    kv_offload: {
      backend: "native", size_gib: sizeGib ?? 0, host_blocks_per_instance: capacity, stored_blocks: stored, loaded_blocks: loaded,
      evicted_blocks: evicted, hit_tokens: tokens, hit_rate: queries === 0 ? 0 : tokens / queries, load_time_s: loadNs / 1e9
    }
  }
}

/** summary.json's swap section under --preemption-mode swap (else nothing). */
const swapJson = (engine: Engine, gib: number | undefined): Pick<Summary, "swap"> => {
  const spaces = engine.instances.flatMap((i) => (i.scheduler.swap === undefined ? [] : [i.scheduler.swap]))
  if (spaces.length === 0) return {}
  const sum = (f: (s: (typeof spaces)[number]) => number) => spaces.reduce((a, s) => a + f(s), 0)
  return {
    swap: {
      swap_space_gib: gib ?? 0, capacity_blocks: spaces[0]!.spec.capacityBlocks, swap_outs: sum((s) => s.swapOuts), swap_ins: sum((s) => s.swapIns),
      blocks_out: sum((s) => s.blocksOut), blocks_in: sum((s) => s.blocksIn), peak_blocks: Math.max(...spaces.map((s) => s.peak)),
      recompute_fallbacks: sum((s) => s.recomputeFallbacks), copy_time_s: sum((s) => s.totalNs) / 1e9
    }
  }
}

/**
 * Run `arrivals` (non-decreasing arrival times) through the pools. Fails with the stream's error,
 * a FileError from the TraceWriter, or InvalidOption when the instances cannot fit in memory.
 */
export const runPools = <E>(
  arrivals: Stream.Stream<Arrival, E>,
  poolRuns: ReadonlyArray<PoolRun>,
  cluster: Pick<ClusterConfig, "router" | "decodeRouter" | "kvTransfer" | "source">,
  options: SimulationOptions,
  frontEnd: FrontEnd | undefined = undefined
) =>
  Effect.gen(function*() {
    const sink = yield* TraceWriter
    const scale = options.stepTimeScale ?? 1
    const pools = scale === 1 ? poolRuns : poolRuns.map((p) => ({ ...p, perf: scalePerfModel(p.perf, scale) }))
    const first = pools[0]!
    const metrics = new MetricsCollector()
    const instancePools = pools.flatMap((p, i) => Array.from({ length: p.instances }, () => i))
    const stats = new ClusterStats(instancePools, pools.map((p) => ({
      name: p.name, role: ROLE[p.role], hardware: p.config.hardware.name, model: p.config.model.id, kvBlocks: p.memory.capacity.numBlocks
    })))
    const observers = [metrics.observer, stats.observer, sink.observer]
    if (options.observer !== undefined) observers.push(options.observer)
    let meter: EnergyMeter | undefined
    if (options.energy === true) {
      const energyPools: Array<EnergyPool> = []
      for (const p of pools) {
        if (p.config.pim !== undefined) return yield* new InvalidOption({ option: "--energy", reason: "the power of PIM devices (--pim-config) is not modelled; run --energy without --pim-config" })
        const power = gpuPower(p.config.hardware)
        if (power instanceof InvalidOption) return yield* power
        energyPools.push({ name: p.name, instances: p.instances, model: p.config.model, hardware: p.config.hardware, engine: p.config.engine, power })
      }
      meter = new EnergyMeter(energyPools)
      observers.push(meter.observer)
    }
    const client = options.client === undefined ? undefined : new ClosedLoopClient(options.client)
    if (client !== undefined) observers.push(client.observer)
    const sessions = options.sessions === undefined ? undefined : new SessionClient(options.sessions === "trace" ? undefined : options.sessions)
    if (sessions !== undefined) observers.push(sessions.observer)
    const goodput = options.goodput === undefined ? undefined : new GoodputMeter(options.goodput)
    if (goodput !== undefined) observers.push(goodput.observer)
    // under PP each replica runs P virtual engines with floor(blocks / P) blocks each
    const tooBig = memoryRefusal(pools.map((p) => ({
      instances: p.instances * p.config.engine.pipelineParallelSize,
      blocks: Math.floor(p.memory.capacity.numBlocks / p.config.engine.pipelineParallelSize),
      prefixCaching: p.config.engine.enablePrefixCaching,
      maxNumSeqs: p.config.engine.maxNumSeqs
    })))
    if (tooBig !== undefined) return yield* new InvalidOption({ option: pools.length === 1 ? "--num-instances" : "--cluster-config", reason: tooBig })
    const disaggregated = pools.some((p) => p.role !== "colocated")
    // speculative decoding: one set of counters for the run, one seeded draw stream per instance
    const specPool = pools.find((p) => p.config.engine.speculativeConfig !== undefined)
    const specConfig = specPool?.config.engine.speculativeConfig
    const specCounters = specConfig === undefined ? undefined : makeSpecDecodeCounters(specConfig.numSpeculativeTokens)
    const specDecoderOf = (p: PoolRun) => {
      const c = p.config.engine.speculativeConfig
      return c === undefined ? undefined : (id: number) => makeSpecDecoder(c, p.config.model, specCounters!, specSeed(p.config.seed, id))
    }
    // LoRA: one pool (refused with several, and with sessions); one set of counters for the run
    const loraConfig = first.config.engine.lora
    if (loraConfig !== undefined && pools.length > 1) return yield* new InvalidOption({ option: "--enable-lora", reason: "LoRA with several pools (--cluster-config) is not modelled" })
    if (loraConfig !== undefined && sessions !== undefined) return yield* new InvalidOption({ option: "--enable-lora", reason: "LoRA with a session workload is not modelled (each turn would draw its own adapter)" })
    const loraCounters = makeLoraCounters()
    const loraStats = loraConfig === undefined ? undefined : new LoraStats(loraConfig, loraCounters)
    if (loraStats !== undefined) observers.push(loraStats.observer)
    const loraSlotsOf = (p: PoolRun) => {
      const c = p.config.engine.lora
      const pricing = { model: p.config.model, hardware: p.config.hardware, roofline: p.config.roofline, tensorParallelSize: p.config.engine.tensorParallelSize }
      return c === undefined ? undefined : () => new LoraSlots(c, pricing, loraCounters)
    }
    const decodePool = pools.find((p) => p.role === "decode")
    const engine = new Engine({
      pools: pools.map((p) => ({
        name: p.name,
        role: ROLE[p.role],
        count: p.instances,
        policy: p.policy,
        makeKvCache: p.memory.makeKvCache,
        perf: p.perf,
        maxModelLen: p.config.engine.maxModelLen,
        maxNumSeqs: p.config.engine.maxNumSeqs,
        kvBytesPerToken: kvBytesPerToken(p.config.model, p.config.engine.kvCacheDtypeBytes),
        gpusPerInstance: p.config.engine.tensorParallelSize,
        layers: p.config.model.layers,
        network: p.network,
        numSchedulerSteps: p.config.engine.numSchedulerSteps,
        specDecoder: specDecoderOf(p),
        lora: loraSlotsOf(p)
      })),
      observer: combineObservers(...observers),
      router: makeRouter(options.router ?? cluster.router, first.config.seed),
      decodeRouter: makeRouter(cluster.decodeRouter, first.config.seed + 1),
      ...(disaggregated ? { kvTransfer: { network: decodePool?.network ?? zeroNetwork, ...cluster.kvTransfer } } : {}),
      exactSteps: options.exactSteps ?? false,
      frontEnd,
      ordered: client !== undefined || sessions !== undefined
    })
    client?.attach(engine)
    sessions?.attach(engine, Math.min(...pools.map((p) => p.config.engine.maxModelLen)))
    sink.attach?.(engine.instances)
    options.onEngine?.(engine)
    /** The run's summary as things stand (`interrupted`: stopped by a signal before the end). */
    const summarize = (interrupted: boolean): Summary => {
      const prefixCache = emptyPrefixCacheStats()
      for (const inst of engine.instances) {
        const st = inst.scheduler.kv.stats
        prefixCache.queries += st.queries
        prefixCache.hits += st.hits
        prefixCache.preemptedQueries += st.preemptedQueries
        prefixCache.preemptedHits += st.preemptedHits
      }
      const workload = {
        front_end: frontEnd === undefined ? NO_FRONT_END : frontEnd.params,
        ...(options.workload === undefined ? {} : { workload: options.workload })
      }
      const config = single
        ? { ...poolConfigJson(first), router: routerJson(options.router ?? cluster.router), ...workload }
        : {
          pools: pools.map((p) => ({ pool: p.name, role: p.role, ...(p.kvConnector === undefined ? {} : { kv_connector: p.kvConnector }), ...poolConfigJson(p) })),
          router: routerJson(options.router ?? cluster.router),
          ...(disaggregated ? { decode_router: routerJson(cluster.decodeRouter), kv_transfer: { cross_node: cluster.kvTransfer.crossNode, layerwise: cluster.kvTransfer.layerwise } } : {}),
          ...(cluster.source === undefined ? {} : { cluster_config: cluster.source }),
          ...workload
        }
      const base = metrics.summary({
        kvCacheBlocks: first.memory.capacity.numBlocks,
        prefixCache,
        seed: first.config.seed,
        config,
        client: options.client === undefined ? undefined : { maxConcurrency: options.client.maxConcurrency, allAtOnce: options.client.allAtOnce === true }
      })
      return {
        ...(interrupted ? { interrupted: true, submitted: engine.submitted } : {}),
        ...base,
        ...(goodput === undefined ? {} : goodput.summary(base.duration)),
        ...(sessions === undefined ? {} : { sessions: sessions.stats() }),
        ...offloadJson(engine, prefixCache.queries, first.config.engine.kvOffloadingSize),
        ...swapJson(engine, first.config.engine.swapSpace),
        ...(specConfig === undefined ? {} : { spec_decode: specDecodeJson(specConfig, specCounters!) }),
        ...(loraStats === undefined ? {} : { lora: loraStats.json(first.config.model, first.config.engine.tensorParallelSize, engine.instances.reduce((a, i) => a + (i.scheduler.loraSkips ?? 0), 0)) }),
        instances: stats.instancesJson(engine.instances, base.duration),
        pools: stats.poolsJson(engine.instances, base.duration),
        ...(meter === undefined ? {} : { energy: meter.summary(base.duration, base.completed, base.total_output_tokens) }),
        config: base.config
      } as Summary
    }
    const single = pools.length === 1
    // Arrivals in chunks of at most 1,024, then the drain in slices of simulated time, each
    // followed by a yield: a signal (SIGINT, SIGTERM) interrupts the run within one slice, and the
    // rows and summary so far are written (`interrupted: true`).
    const assign = makeLoraAssigner(loraConfig, first.config.seed)
    const submit: (a: Arrival) => void = sessions !== undefined ? (a) => sessions.submitStart(a) : client === undefined ? (a) => engine.submit(a) : (a) => client.submit(a)
    const run = Stream.runForEachChunk(Stream.rechunk(arrivals, 1024), (chunk) =>
      Effect.suspend(() => {
        for (const a of chunk) {
          const x = assign(a)
          if (x instanceof InvalidOption) return Effect.fail(x)
          submit(x)
        }
        options.onProgress?.(engine.submitted, engine.clock)
        return yieldToEventLoop
      })).pipe(
        // sessions: their later turns, in slices of simulated time, until none is pending or in flight
        Effect.zipRight(Effect.suspend(function sessionSlice(): Effect.Effect<void> {
          if (sessions === undefined || sessions.idle) return Effect.void
          sessions.flushUntil(Math.min(engine.nextEventNs(), sessions.nextPendingNs) + DRAIN_SLICE_NS)
          options.onProgress?.(engine.submitted, engine.clock)
          return yieldToEventLoop.pipe(Effect.zipRight(Effect.suspend(sessionSlice)))
        })),
        Effect.zipRight(Effect.suspend(function drainSlice(): Effect.Effect<void> {
          const next = engine.nextEventNs()
          if (next === Infinity) return Effect.sync(() => engine.drain())
          engine.advanceTo(next + DRAIN_SLICE_NS)
          options.onProgress?.(engine.submitted, engine.clock)
          return yieldToEventLoop.pipe(Effect.zipRight(Effect.suspend(drainSlice)))
        }))
      )
    yield* run.pipe(Effect.onInterrupt(() => sink.writeSummary(summarize(true)).pipe(Effect.ignore)))
    const summary = summarize(false)
    yield* sink.writeSummary(summary)
    const perfModel = single ? first.perf.name : pools.map((p) => `${p.name}: ${p.perf.name}`).join("; ")
    return { summary, capacity: first.memory.capacity, perfModel, engine } satisfies SimulationResult
  })

/**
 * Run a simulation of `arrivals` on one colocated pool of `numInstances` instances, with the
 * services in context (the front end: FrontEndService when provided, else none). Fails with the
 * stream's error or a FileError from the TraceWriter.
 */
export const simulate = <E>(arrivals: Stream.Stream<Arrival, E>, options: SimulationOptions = {}) =>
  Effect.gen(function*() {
    const cfg = yield* ConfigService
    const pool: PoolRun = {
      name: "default",
      role: "colocated",
      instances: cfg.numInstances,
      config: cfg,
      perf: yield* PerfModelService,
      memory: yield* MemoryService,
      policy: yield* SchedulerService
    }
    const router = options.router ?? "round-robin"
    const frontEnd = yield* currentFrontEnd
    return yield* runPools(arrivals, [pool], { router, decodeRouter: router, kvTransfer: { crossNode: true, layerwise: false } }, options, frontEnd)
  }) as Effect.Effect<SimulationResult, E | FileError | InvalidOption, ConfigService | PerfModelService | MemoryService | SchedulerService | TraceWriter>

/**
 * Run a simulation of `arrivals` on a cluster: every pool's services come from its own
 * configuration through the standard layers, and the front end from the pools' shared
 * `--frontend-*` flags. Fails with the stream's error, NoKvMemory for a pool whose model does not
 * fit, InvalidOption when pools give different front ends, or a FileError from the TraceWriter.
 */
export const simulateCluster = <E>(arrivals: Stream.Stream<Arrival, E>, cluster: ClusterConfig, options: SimulationOptions = {}) =>
  Effect.gen(function*() {
    const fe = cluster.pools[0]!.config.frontEnd
    const other = cluster.pools.find((p) => JSON.stringify(p.config.frontEnd) !== JSON.stringify(fe))
    if (other !== undefined) {
      return yield* new InvalidOption({ option: "--cluster-config", reason: `pool '${other.name}' sets a different front end (frontend-* flags) from pool '${cluster.pools[0]!.name}'; the API server is shared: give the frontend-* flags on the command line` })
    }
    const pools: Array<PoolRun> = []
    for (const p of cluster.pools) {
      const services = yield* Effect.all({
        perf: PerfModelService,
        memory: MemoryService,
        policy: SchedulerService,
        network: NetworkService
      }).pipe(Effect.provide(poolLayer(p.config)))
      pools.push({ name: p.name, role: p.role, instances: p.instances, config: p.config, kvConnector: p.kvConnector, ...services })
    }
    return yield* runPools(arrivals, pools, cluster, options, makeFrontEnd(fe))
  }) as Effect.Effect<SimulationResult, E | FileError | NoKvMemory | InvalidOption, TraceWriter>

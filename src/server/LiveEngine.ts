/**
 * The live engine behind `serve`: the same `Instance`s as the offline simulation, stepped by one
 * scheduler fiber on the Effect Clock instead of on virtual time.
 *
 * Time mapping: simulated time t (ns) corresponds to wall time `start + t / timeScale` on the
 * Effect Clock (`start` = when the engine was built). An HTTP request arriving at wall time w gets
 * the simulated arrival time `(w - start) x timeScale` (integer ns, never decreasing). An idle
 * instance's clock jumps to the arrival (`Instance.admit`). A busy instance whose clock lags the
 * arrival (the fiber fell behind real time) holds the request until its clock reaches the arrival,
 * so no request is scheduled before it arrived; the fiber steps and delivers what is overdue
 * without sleeping until it has caught up, and reports each delivery's lateness (`onDeliveryLag`).
 *
 * The fiber: while some instance has work, every instance whose clock has been reached steps
 * (`Instance.step()` schedules at its clock, applies the step's outputs and advances the clock by
 * the step duration d); the step's token and finish events are buffered and delivered to the
 * requests' queues at the step's end, i.e. after sleeping until `start + (clock + d) / timeScale`.
 * Sleeping to absolute targets keeps processing overhead from accumulating as drift. With no work,
 * the fiber waits for an arrival. Under TestClock every delivery time is exact.
 */
import type { PromptContent } from "../memory/blockHash.js"
import { Clock, Deferred, Duration, Effect, Exit, Fiber, FiberId, Queue, Scheduler, type Scope } from "effect"
import { ConfigService, type SimConfig } from "../config/ConfigService.js"
import { RequestStatus, SimRequest } from "../domain/SimRequest.js"
import { combineObservers, type EngineObserver } from "../engine/EngineObserver.js"
import { Instance, InstanceRole } from "../engine/Instance.js"
import { makeSpecDecodeCounters, makeSpecDecoder, type SpecDecodeCounters, specSeed } from "../engine/SpecDecoder.js"
import { makeRouter, type Router } from "../cluster/Router.js"
import { type LoraCounters, LoraSlots, makeLoraCounters } from "../lora/LoraSlots.js"
import type { RouterPolicy, RouterSpec } from "../cluster/RouterSpec.js"
import { MemoryService } from "../memory/MemoryService.js"
import type { EngineLoad } from "./Metrics.js"
import { PerfModelService } from "../perf/PerfModelService.js"
import { SchedulerService } from "../scheduler/SchedulerService.js"

/** What a request's stream receives, at the simulated time the engine produces it. */
export type LiveEvent =
  /** Output token number `n` (1-based) produced at `simNs`; `last` on the final token. */
  | { readonly _tag: "Token"; readonly n: number; readonly simNs: number; readonly wallNs: number; readonly last: boolean }
  /** The engine dropped the request (rejected on arrival); the stream ends. */
  | { readonly _tag: "Failed"; readonly message: string }

/** A request in the live engine and the queue its events arrive on. */
export interface LiveHandle {
  readonly req: SimRequest
  /** Events, unless a sink was given. */
  readonly events: Queue.Queue<LiveEvent>
  /** Called by the engine fiber with each event instead of queueing it (must not throw). */
  readonly sink?: ((e: LiveEvent) => void) | undefined
  /** Wall time (Effect Clock, ns) the request arrived. */
  readonly arrivalWallNs: number
}

export interface LiveEngineOptions {
  /** Simulated seconds per wall second: 1 = real time, 10 = ten times faster. */
  readonly timeScale: number
  readonly router?: RouterPolicy | RouterSpec
  /** Extra observer (Prometheus metrics, tests); called while the step is computed. */
  readonly observer?: EngineObserver
  /** Speculative decoding (the config's --speculative-config): counters the instances add to (Prometheus reads them). */
  readonly specCounters?: SpecDecodeCounters
  /** Called with the lateness (s, wall) of every step delivery against its scheduled wall time. */
  readonly onDeliveryLag?: (seconds: number) => void
  /** LoRA (the config's --enable-lora): counters every instance's adapter slots add to. */
  readonly loraCounters?: LoraCounters
}

/** Read the Effect Clock in ns as a number (TestClock: whole ms x 1e6). */
export const clockNs: Effect.Effect<number> = Clock.clockWith((c) => Effect.sync(() => Number(c.unsafeCurrentTimeNanos())))

export interface LiveEngine {
  readonly config: SimConfig
  readonly instances: ReadonlyArray<Instance>
  readonly timeScale: number
  /** Wall time (Effect Clock, ns) the engine started. */
  readonly startNs: number
  /** Current simulated time, ns. */
  readonly simNow: Effect.Effect<number>
  /**
   * Submit a request arriving now with `promptTokens` and exactly `outputTokens` output tokens.
   * Its events (one per token, then the end) arrive on `events`. Never fails: a request the engine
   * cannot hold gets a single `Failed` event (callers check the context length first).
   * `content` (the prompt's token ids) lets requests with a common prefix hit the prefix cache.
   */
  /**
   * `priority`: vLLM's request priority (--scheduling-policy priority; default 0). `lora`: the
   * adapter it runs with (1..n into the config's `--lora-modules`; default 0 = the base model).
   */
  readonly submit: (promptTokens: number, outputTokens: number, sink?: (e: LiveEvent) => void, arrivedWallNs?: number, content?: PromptContent, priority?: number, lora?: number) => Effect.Effect<LiveHandle>
  /**
   * The adapters (ids 1..n) of the unfinished requests now running and now waiting (vLLM's
   * `vllm:lora_requests_info` labels); computed at call time over the open requests.
   */
  readonly loraActivity: () => { readonly running: ReadonlySet<number>; readonly waiting: ReadonlySet<number> }
  /** Abort a request not yet finished (client gone): frees its KV blocks. No-op when finished. */
  readonly abort: (h: LiveHandle) => Effect.Effect<void>
  /** Per instance (by id): requests waiting (held by the router included) / running, KV blocks used / total, prefix-cache tokens. */
  readonly engineLoads: () => ReadonlyArray<EngineLoad>
  /** Requests waiting / running over all instances, and KV blocks used / total. */
  readonly load: () => {
    waiting: number
    running: number
    kvUsed: number
    kvTotal: number
    /** Prefix-cache lookups and hits, tokens (vLLM prefix_cache_queries / prefix_cache_hits). */
    prefixQueries: number
    prefixHits: number
    completed: number
    pending: number
    /** Mean / max lateness of step deliveries against their scheduled wall time, ms. */
    deliveryLagMeanMs: number
    deliveryLagMaxMs: number
    /** Lateness of the latest step delivery, ms (0 when on time). */
    deliveryLagMs: number
  }
}

interface Pending {
  readonly atSim: number
  readonly events: Array<SimRequest | number>
}

/**
 * Build the live engine from the simulation services and fork its scheduler fiber in the current
 * scope (interrupted when the scope closes).
 */
export const makeLiveEngine = (options: LiveEngineOptions): Effect.Effect<LiveEngine, never, ConfigService | PerfModelService | MemoryService | SchedulerService | Scope.Scope> =>
  Effect.gen(function*() {
    const cfg = yield* ConfigService
    const perf = yield* PerfModelService
    const memory = yield* MemoryService
    const policy = yield* SchedulerService
    const ts = options.timeScale
    const startNs = yield* clockNs
    const handles = new Map<number, LiveHandle>()
    let completed = 0

    // Events of the step being computed: SimRequest = token for it (its numOutput tells which).
    let buffer: Array<SimRequest | number> = []
    const collect: EngineObserver = {
      onToken: (r) => {
        buffer.push(r, r.numOutput)
      }
    }
    const observer = options.observer === undefined ? collect : combineObservers(collect, options.observer)
    const instances: Array<Instance> = []
    const spec = cfg.engine.speculativeConfig
    const specCounters = spec === undefined ? undefined : options.specCounters ?? makeSpecDecodeCounters(spec.numSpeculativeTokens)
    const lora = cfg.engine.lora
    const loraCounters = lora === undefined ? undefined : options.loraCounters ?? makeLoraCounters()
    const loraPricing = { model: cfg.model, hardware: cfg.hardware, roofline: cfg.roofline, tensorParallelSize: cfg.engine.tensorParallelSize }
    for (let i = 0; i < cfg.numInstances; i++) {
      const decoder = spec === undefined ? undefined : makeSpecDecoder(spec, cfg.model, specCounters!, specSeed(cfg.seed, i))
      const slots = lora === undefined ? undefined : new LoraSlots(lora, loraPricing, loraCounters!)
      instances.push(new Instance(i, policy.make(memory.makeKvCache()), perf, observer, cfg.engine.maxModelLen, cfg.engine.maxNumSeqs, 0, InstanceRole.Colocated, "default", undefined, 0, cfg.engine.numSchedulerSteps, true, decoder, slots))
    }
    const router: Router = makeRouter(options.router ?? "round-robin", cfg.seed)
    const pending: Array<Pending> = []

    const wallOf = (simNs: number) => startNs + simNs / ts
    const simOf = (wall: number) => Math.max(0, Math.round((wall - startNs) * ts))
    const simNow = Effect.map(clockNs, simOf)

    let wake = Deferred.unsafeMake<void>(FiberId.none)
    const signal = () => {
      Deferred.unsafeDone(wake, Exit.void)
    }

    // how late deliveries are against their scheduled wall time (the engine fiber's own lag)
    let lagSumNs = 0
    let lagMaxNs = 0
    let lagCount = 0
    let lagLastNs = 0
    const onLag = options.onDeliveryLag
    const deliver = (p: Pending, wallNs: number) => {
      const lag = Math.max(0, wallNs - wallOf(p.atSim))
      lagSumNs += lag
      lagCount++
      lagLastNs = lag
      if (lag > lagMaxNs) lagMaxNs = lag
      onLag?.(lag / 1e9)
      const ev = p.events
      for (let i = 0; i < ev.length; i += 2) {
        const r = ev[i] as SimRequest
        const n = ev[i + 1] as number
        const h = handles.get(r.id)
        if (h === undefined) continue
        const last = n >= r.outputTokens
        if (last) {
          handles.delete(r.id)
          completed++
        }
        const e: LiveEvent = { _tag: "Token", n, simNs: p.atSim, wallNs, last }
        if (h.sink === undefined) Queue.unsafeOffer(h.events, e)
        else {
          try {
            h.sink(e)
          } catch {
            // a broken response must not stop the engine; the disconnect aborts the request
          }
        }
      }
    }

    const loop = Effect.gen(function*() {
      while (true) {
        const now = yield* simNow
        // 1. Step every instance whose step start has been reached.
        for (const inst of instances) {
          admitHeld(inst)
          if (!inst.hasWork() || inst.clock > now) continue
          // an instance already waiting on a delivery has clock = delivery time > now
          buffer = []
          const d = inst.step()
          if (d === 0) continue
          pending.push({ atSim: inst.clock, events: buffer })
        }
        // 2. Deliver what is due.
        if (pending.length > 0) {
          pending.sort((a, b) => a.atSim - b.atSim)
          const wallNow = yield* clockNs
          while (pending.length > 0 && pending[0]!.atSim <= now) deliver(pending.shift()!, wallNow)
        }
        // an instance that went idle in this delivery admits what was held for it (else nothing wakes it)
        for (const inst of instances) if (!inst.hasWork()) admitHeld(inst)
        // 3. Sleep until the next delivery or step start, or until an arrival.
        let next = Infinity
        if (pending.length > 0) next = pending[0]!.atSim
        for (const inst of instances) if (inst.hasWork() && inst.clock < next) next = inst.clock
        if (next <= now) continue
        if (next === Infinity) {
          yield* Deferred.await(wake)
        } else {
          const waitNs = Math.ceil(wallOf(next) - (yield* clockNs))
          // an arrival can only need an earlier wake-up when some instance is idle
          const anyIdle = instances.some((i) => !i.hasWork())
          if (waitNs > 0) {
            if (anyIdle) yield* Effect.raceFirst(Effect.sleep(Duration.nanos(BigInt(waitNs))), Deferred.await(wake))
            else yield* Effect.sleep(Duration.nanos(BigInt(waitNs)))
          }
          else {
            // the clock already passed `next` (ns rounding): deliver at the next pass
            const wallNow = yield* clockNs
            if (simOf(wallNow) < next) yield* Effect.yieldNow()
          }
        }
        if (yield* Deferred.isDone(wake)) wake = Deferred.unsafeMake<void>(FiberId.none)
      }
    })
    // the default (microtask) scheduler, whatever the caller's: deliveries never wait for a time slice
    const fiber = yield* Effect.forkScoped(Effect.withScheduler(loop, Scheduler.defaultScheduler))
    yield* Effect.addFinalizer(() =>
      Fiber.interrupt(fiber).pipe(Effect.zipRight(Effect.sync(() => {
        // shutting down: end every open request (an error chunk and [DONE] for streams) so that
        // responses complete and the HTTP server can close instead of waiting on them
        const e: LiveEvent = { _tag: "Failed", message: "the server is shutting down" }
        for (const h of handles.values()) {
          if (h.sink === undefined) Queue.unsafeOffer(h.events, e)
          else {
            try {
              h.sink(e)
            } catch {
              // a sink must not throw; ignore it during shutdown
            }
          }
        }
        handles.clear()
      })))
    )

    // Arrivals at a busy instance whose clock lags the wall clock (the process fell behind): they
    // wait here, stamped with their true arrival, until the instance's clock reaches it, so no
    // request is scheduled before it arrived (scheduled TTFT >= 0) and the engine catches up.
    const held: Array<Array<SimRequest>> = instances.map(() => [])
    const admitNow = (inst: Instance, r: SimRequest) => {
      if (inst.admit(r)) return
      const h = handles.get(r.id)
      handles.delete(r.id)
      if (h === undefined) return
      const e: LiveEvent = { _tag: "Failed", message: inst.rejectionReason(r) ?? "rejected" }
      if (h.sink !== undefined) {
        try {
          h.sink(e)
        } catch {
          // a broken response must not stop the engine
        }
      } else Queue.unsafeOffer(h.events, e)
    }
    const admitHeld = (inst: Instance) => {
      const q = held[inst.id]!
      while (q.length > 0 && (!inst.hasWork() || q[0]!.arrivalNs <= inst.clock)) admitNow(inst, q.shift()!)
    }

    let nextId = 0
    let lastArrival = 0
    const submit = (promptTokens: number, outputTokens: number, sink?: (e: LiveEvent) => void, arrivedWallNs?: number, content?: PromptContent, priority = 0, loraId = 0) =>
      Effect.gen(function*() {
        const nowNs = yield* clockNs
        // the request may have reached the socket earlier than now (parsing took time): that is its arrival
        const wallNs = arrivedWallNs === undefined ? nowNs : Math.min(nowNs, Math.max(startNs, arrivedWallNs))
        // the router sees the request as arriving now (its prompt content, for prefix-aware policies)
        // the arrival is the wall clock mapped to simulated time, never an instance's lagging clock
        const t = Math.max(lastArrival, simOf(wallNs))
        const r = new SimRequest(nextId, t, promptTokens, outputTokens, content)
        const inst = instances[router(r, instances, t)]!
        lastArrival = t
        nextId++
        r.priority = priority
        r.lora = loraId
        const events = yield* Queue.unbounded<LiveEvent>()
        const h: LiveHandle = { req: r, events, sink, arrivalWallNs: wallNs }
        observer.onArrive?.(r)
        handles.set(r.id, h)
        const q = held[inst.id]!
        if (inst.hasWork() && (inst.clock < t || q.length > 0)) q.push(r)
        else admitNow(inst, r)
        signal()
        return h
      })

    const abort = (h: LiveHandle) =>
      Effect.gen(function*() {
        if (!handles.has(h.req.id)) return
        handles.delete(h.req.id)
        const r = h.req
        for (const q of held) {
          const i = q.indexOf(r)
          if (i >= 0) {
            q.splice(i, 1)
            return
          }
        }
        if (r.status === RequestStatus.Finished || r.status === RequestStatus.Rejected) return
        const now = yield* simNow
        instances[r.instance]!.abort(r, Math.max(now, r.arrivalNs))
      })

    const load = () => {
      let waiting = 0
      let running = 0
      let kvUsed = 0
      let kvTotal = 0
      let prefixQueries = 0
      let prefixHits = 0
      for (const inst of instances) {
        waiting += inst.scheduler.waiting.length + held[inst.id]!.length
        running += inst.scheduler.running.length
        kvUsed += inst.scheduler.kv.usedBlocks
        kvTotal += inst.scheduler.kv.numBlocks
        prefixQueries += inst.scheduler.kv.stats.queries
        prefixHits += inst.scheduler.kv.stats.hits
      }
      return { waiting, running, kvUsed, kvTotal, prefixQueries, prefixHits, completed, pending: handles.size, deliveryLagMeanMs: lagCount === 0 ? 0 : lagSumNs / lagCount / 1e6, deliveryLagMaxMs: lagMaxNs / 1e6, deliveryLagMs: lagLastNs / 1e6 }
    }

    const engineLoads = () =>
      instances.map((inst) => ({
        waiting: inst.scheduler.waiting.length + held[inst.id]!.length,
        running: inst.scheduler.running.length,
        kvUsed: inst.scheduler.kv.usedBlocks,
        kvTotal: inst.scheduler.kv.numBlocks,
        prefixQueries: inst.scheduler.kv.stats.queries,
        prefixHits: inst.scheduler.kv.stats.hits
      }))

    const loraActivity = () => {
      const running = new Set<number>()
      const waiting = new Set<number>()
      for (const h of handles.values()) {
        const r = h.req
        if (r.lora <= 0) continue
        if (r.status === RequestStatus.Running) running.add(r.lora)
        else if (r.status === RequestStatus.Waiting) waiting.add(r.lora)
      }
      return { running, waiting }
    }

    return {
      config: cfg,
      instances,
      loraActivity,
      timeScale: ts,
      startNs,
      simNow,
      submit,
      abort,
      load,
      engineLoads
    } satisfies LiveEngine
  })

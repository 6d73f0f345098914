/**
 * The engine: pools of instances behind routers, driven by arrivals in time order on virtual time.
 *
 * Colocated pools (every instance runs prefill and decode): for each arrival, every instance runs
 * its steps until its clock reaches the arrival time; the router then picks an instance and the
 * request joins its waiting queue. Instances are independent, so they are stepped one after the
 * other.
 *
 * Prefill/decode disaggregation (vLLM `kv_role` kv_producer / kv_consumer pools): an arrival is
 * routed to a prefill instance, which computes the prompt; at the end of the step that completes
 * it, the decode router picks a decode instance, which reserves KV blocks for the prompt when it
 * has room (a full decode instance stalls the transfer), pulls the KV over the modelled link
 * (NetworkService `kvTransferNs`; one transfer at a time per decode instance), then generates every
 * output token. The prefill instance holds the blocks until the transfer ends. With layer-wise
 * transfer the decode instance is picked at arrival and layers move while the prefill computes.
 * Instances now interact, so the engine always moves the instance whose next event is earliest.
 *
 * A closed-loop client (engine/ClosedLoopClient.ts) needs the engine's finishes before it can send
 * the next request, so with `ordered` the colocated instances (and pipeline-parallel replicas) are
 * also moved in time order, and `horizonNs` stops every move at the time a freed client slot makes
 * the next send possible; neither changes what a step does.
 *
 * `drain()` runs until no instance has work. Time never goes back: arrivals must come in
 * non-decreasing arrival order. The same step function (`Instance.step`) serves every mode.
 */
import type { TraceSession } from "../workload/sessions.js"
import { InstanceHeap } from "../cluster/InstanceHeap.js"
import { PipelineGate, Replica } from "../cluster/pipeline.js"
import type { Network } from "../domain/Network.js"
import { SimRequest } from "../domain/SimRequest.js"
import type { PerfModel } from "../perf/PerfModelService.js"
import type { SchedulerPolicy } from "../scheduler/SchedulerService.js"
import type { PromptContent } from "../memory/blockHash.js"
import type { KvCache } from "../memory/KvCache.js"
import type { SpecDecoder } from "./SpecDecoder.js"
import type { LoraSlots } from "../lora/LoraSlots.js"
import type { EngineObserver } from "./EngineObserver.js"
import { type DisaggregationHooks, Instance, InstanceRole } from "./Instance.js"
import type { Routable, Router } from "../cluster/Router.js"
import { TimedQueue } from "../cluster/TimedQueue.js"
import type { FrontEnd } from "../frontend/FrontEnd.js"

/** One request as it arrives: arrival time (ns), token counts and, when known, prompt content. */
export interface Arrival {
  readonly arrivalNs: number
  readonly promptTokens: number
  readonly outputTokens: number
  /** Token ids or block hash ids of the prompt (prefix-cache hits across requests). */
  readonly content?: PromptContent | undefined
  /** The first turn of a session read from a trace: the session client sends its later turns (the engine ignores it). */
  readonly session?: TraceSession | undefined
  /** Scheduling priority (vLLM's request `priority`, lower first; --scheduling-policy priority); absent = 0. */
  readonly priority?: number | undefined
  /** LoRA adapter (--enable-lora): 1..n into the served adapters, 0 or absent = the base model. */
  readonly lora?: number | undefined
  /** The LoRA adapter a trace record names ("" = the base model); lora/assign.ts turns it into `lora`. */
  readonly loraName?: string | undefined
}

/**
 * What the time-ordered engine moves: an instance, or a pipeline-parallel replica (its virtual
 * engines' micro-batches in the order they enter stage 0). `advance` takes one move and must make
 * progress when called at its nextEventNs().
 */
export interface Mover {
  readonly id: number
  nextEventNs(): number
  advance(limitNs: number, exact: boolean): void
}

/** A pool: `count` identical instances with one role. */
export interface PoolSetup {
  readonly name: string
  readonly role: InstanceRole
  readonly count: number
  readonly policy: SchedulerPolicy
  readonly makeKvCache: () => KvCache
  readonly perf: PerfModel
  readonly maxModelLen: number
  readonly maxNumSeqs: number
  /** KV bytes of one token over all layers and KV heads of the model (before TP), for transfers. */
  readonly kvBytesPerToken: number
  /** GPUs one instance's KV is spread over (TP): each moves its shard in parallel. */
  readonly gpusPerInstance: number
  /** Decoder layers (layer-wise transfer sends one layer's KV at a time). */
  readonly layers: number
  /** Prices a KV transfer into or out of this pool's instances (default: the KV transfer setup's). */
  readonly network?: Network | undefined
  /** Multi-step scheduling: forward passes per scheduler call of an all-decode batch (default 1). */
  readonly numSchedulerSteps?: number | undefined
  /** Speculative decoding: a SpecDecoder for the instance with this id (absent: off). */
  readonly specDecoder?: ((instanceId: number) => SpecDecoder) | undefined
  /** LoRA (--enable-lora): the adapter slots of the instance with this id (absent: off). */
  readonly lora?: ((instanceId: number) => LoraSlots) | undefined
}

/** How a finished prefill's KV reaches its decode instance. */
export interface KvTransferSetup {
  /** Prices transfers for pools without a network of their own. */
  readonly network: Network
  /** The pools sit on different nodes: the move crosses the scale-out NIC (default true). */
  readonly crossNode: boolean
  /** Layer by layer while the prefill computes (true) or whole after it (false). */
  readonly layerwise: boolean
}

export interface EngineSetup {
  readonly pools: ReadonlyArray<PoolSetup>
  readonly observer: EngineObserver
  /** Routes arrivals among the colocated (or, disaggregated, the prefill) instances. */
  readonly router: Router
  /** Routes handed-off requests among the decode instances (disaggregation; default: round-robin by the entry router's kind). */
  readonly decodeRouter?: Router
  /** Required when the pools are disaggregated. */
  readonly kvTransfer?: KvTransferSetup
  /**
   * Step one engine step at a time, never fast-forwarding, every running request explicitly (no
   * lazy decode cohort): the oracle the fast path must match (default false).
   */
  readonly exactSteps?: boolean
  /** The API server in front (ingress delays a request's arrival at the engine core); default none. */
  readonly frontEnd?: FrontEnd | undefined
  /**
   * Move colocated instances in time order (the earliest next step first) instead of one after the
   * other; needed when something outside reacts to finishes, as a closed-loop client does (default
   * false; disaggregated pools are always ordered). The results of an open-loop run are the same.
   */
  readonly ordered?: boolean
}

export class Engine {
  /** Every instance; under pipeline parallelism every virtual engine of every replica. */
  readonly instances: ReadonlyArray<Instance>
  /** Where arrivals are routed: colocated instances (or pipeline-parallel replicas), or the prefill instances when disaggregated. */
  readonly entry: ReadonlyArray<Routable>
  /** Decode instances (empty unless disaggregated). */
  readonly decode: ReadonlyArray<Instance>
  readonly disaggregated: boolean
  /** Pipeline-parallel replicas (each P virtual engines sharing a PipelineGate), stepped by themselves. */
  readonly replicas: ReadonlyArray<Replica>
  /** Instances that are not virtual engines of a replica. */
  private readonly single: ReadonlyArray<Instance>
  /**
   * No step starting at or after this time runs, ns (Infinity: no bound). A closed-loop client lowers
   * it while it waits for a slot (to the earliest send time a finish has made possible) so the engine
   * stops there and the request joins before any later step; only ordered engines honour it.
   */
  horizonNs = Infinity
  /** Disaggregated or ordered: the movers (instances, replicas) by next event time. */
  private agenda: InstanceHeap<Mover> | undefined
  /** Longest prompt + output some decode instance accepts (disaggregation). */
  private readonly decodeMaxModelLen: number
  private nextId = 0
  private lastArrival = -Infinity
  /** With a front end: sent requests not yet at the engine core, by `queuedNs`. */
  private readonly ingress = new TimedQueue<SimRequest>()

  constructor(private readonly setup: EngineSetup) {
    const list: Array<Instance> = []
    const single: Array<Instance> = []
    const replicas: Array<Replica> = []
    const targets: Array<Routable> = []
    let id = 0
    // the exact-steps oracle steps every request explicitly; otherwise decoders are held lazily
    const lazy = setup.exactSteps !== true
    setup.pools.forEach((p, pi) => {
      const pipeline = p.perf.pipeline
      for (let i = 0; i < p.count; i++, id++) {
        const make = (gate?: PipelineGate, ve = 0) =>
          new Instance(id, p.policy.make(p.makeKvCache()), p.perf, setup.observer, p.maxModelLen, p.maxNumSeqs, pi, p.role, p.name, gate, ve, p.numSchedulerSteps ?? 1, lazy, p.specDecoder?.(id), p.lora?.(id))
        if (pipeline !== undefined && pipeline.stages > 1) {
          if (p.role !== InstanceRole.Colocated) throw new Error("pipeline parallelism in a prefill or decode pool is not supported")
          const gate = new PipelineGate(pipeline)
          const rep = new Replica(Array.from({ length: pipeline.stages }, (_, v) => make(gate, v)), gate)
          replicas.push(rep)
          targets.push(rep)
          list.push(...rep.virtualEngines)
        } else {
          const inst = make()
          list.push(inst)
          single.push(inst)
          targets.push(inst)
        }
      }
    })
    this.instances = list
    this.single = single
    this.replicas = replicas
    this.decode = list.filter((x) => x.role === InstanceRole.Decode)
    const prefill = list.filter((x) => x.role === InstanceRole.Prefill)
    this.disaggregated = this.decode.length > 0 || prefill.length > 0
    if (this.disaggregated) {
      if (prefill.length === 0 || this.decode.length === 0 || prefill.length + this.decode.length !== list.length) {
        throw new Error("a disaggregated cluster needs prefill and decode pools and no colocated pool")
      }
      if (setup.kvTransfer === undefined) throw new Error("a disaggregated cluster needs a KV transfer setup")
      const hooks = this.hooks(setup.kvTransfer)
      for (const x of list) x.hooks = hooks
      this.agenda = new InstanceHeap<Mover>(list)
    } else if (setup.ordered === true) this.agenda = new InstanceHeap<Mover>(targets as Array<Instance | Replica>)
    this.entry = this.disaggregated ? prefill : targets
    this.decodeMaxModelLen = this.decode.reduce((m, x) => Math.max(m, x.maxModelLen), 0)
  }

  /**
   * Run every instance's steps that start before `tNs` (and, ordered, before `horizonNs`),
   * fast-forwarding steady decode runs; with a front end, requests reaching the engine core by then
   * are queued in time order on the way.
   */
  advanceTo(tNs: number): void {
    const ingress = this.ingress
    while (ingress.length > 0) {
      const q = ingress.nextNs
      if (q > tNs || q > this.horizonNs) break
      this.advanceInstancesTo(q)
      // a finish may have lowered the horizon below q: the request waits for a later advance
      if (this.horizonNs < q) break
      this.enqueue(ingress.pop()!)
    }
    this.advanceInstancesTo(tNs)
  }

  private advanceInstancesTo(tNs: number): void {
    const exact = this.setup.exactSteps === true
    if (this.agenda !== undefined) return this.advanceOrdered(tNs, exact)
    for (const rep of this.replicas) rep.advanceTo(tNs)
    for (const inst of this.single) {
      while (inst.clock < tNs && inst.hasWork()) {
        // nothing outside reacts to a finish here (no client, no other instance): fast-forward past them
        if (!exact && inst.canFastForward && inst.fastForward(tNs, true) > 0) continue
        if (inst.step() === 0) throw new Error(`engine stalled on instance ${inst.id} at ${inst.clock} ns with work queued`)
      }
    }
  }

  /**
   * Interacting instances: always move the one whose next event is earliest (ties: lower id), so
   * steps run in the order they start; stop before `tNs` and `horizonNs` (re-read after every move:
   * a finish may lower it).
   */
  private advanceOrdered(tNs: number, exact: boolean): void {
    const agenda = this.agenda!
    for (;;) {
      const best = agenda.top
      const lim = tNs < this.horizonNs ? tNs : this.horizonNs
      if (best === undefined || agenda.topKey >= lim) return
      const second = agenda.secondKey
      best.advance(second < lim ? second : lim, exact)
      agenda.update(best)
    }
  }

  /**
   * A request is sent: advance to its send time, then route and queue it, or with a front end let
   * it reach the engine core (be routed and queued) after the ingress delay, during a later advance.
   * Open loop (no `sendNs`) it is sent at its arrival time. A closed-loop client passes the time it
   * sends it (ns, >= a.arrivalNs): its `arrivalNs` is then `sendNs`, from which TTFT and E2E count,
   * as vLLM bench measures from the send, and `clientQueueNs` keeps sendNs - a.arrivalNs. Returns
   * the engine's request. Throws when send times go back.
   */
  submit(a: Arrival, sendNs?: number): SimRequest {
    const t = sendNs ?? a.arrivalNs
    if (t < this.lastArrival) {
      throw new Error(`arrivals out of order: ${t} ns after ${this.lastArrival} ns`)
    }
    this.lastArrival = t
    this.advanceTo(t)
    const r = new SimRequest(this.nextId++, t, a.promptTokens, a.outputTokens, a.content)
    if (sendNs !== undefined) r.clientQueueNs = sendNs - a.arrivalNs
    if (a.priority !== undefined) r.priority = a.priority
    if (a.lora !== undefined) r.lora = a.lora
    this.setup.observer.onArrive?.(r)
    const fe = this.setup.frontEnd
    if (fe === undefined) this.enqueue(r)
    else {
      r.queuedNs = t + fe.ingressNs(a.promptTokens)
      r.egressNs = fe.egressNs
      this.ingress.push(r.queuedNs, r)
    }
    return r
  }

  /** Route and queue `r` at `r.queuedNs` (every instance has been advanced to it). */
  private enqueue(r: SimRequest): void {
    const t = r.queuedNs
    const entry = this.entry
    if (this.disaggregated && r.promptTokens + r.outputTokens > this.decodeMaxModelLen) {
      // no decode instance could take it: refuse it now rather than after its prefill
      this.decode[0]!.reject(r, `prompt (${r.promptTokens}) + output (${r.outputTokens}) tokens exceed every decode instance's max_model_len (at most ${this.decodeMaxModelLen})`, t)
      return
    }
    const target = entry[this.setup.router(r, entry, t)]!
    const inst = target instanceof Replica ? target.pick() : target as Instance
    if (this.disaggregated && this.setup.kvTransfer!.layerwise) {
      // layer-wise: the decode instance is chosen up front and receives the layers as they are computed
      const d = this.pickDecode(r, t)
      const why = d.rejectionReason(r)
      if (why !== undefined && inst.rejectionReason(r) === undefined) {
        d.reject(r, why, t)
        return
      }
      if (inst.admit(r)) d.receive(this.twin(r, inst), t)
      this.touch(inst)
      this.touch(d)
      return
    }
    inst.admit(r)
    this.touch(target as Instance | Replica)
  }

  /** Earliest time some instance has something to do or a request reaches the engine core, ns (Infinity when all are idle). */
  nextEventNs(): number {
    const pending = this.ingress.nextNs
    if (this.agenda !== undefined) return Math.min(pending, this.agenda.topKey)
    let t = pending
    for (const x of this.instances) {
      if (!x.hasWork()) continue
      const c = x.gate === undefined ? x.clock : x.gate.startAt(x.clock)
      if (c < t) t = c
    }
    return t
  }

  /** Run until no instance has work. */
  drain(): void {
    this.advanceTo(Infinity)
    for (const x of this.instances) {
      if (x.hasWork() || (x.pendingHandoffs > 0 && x.role === InstanceRole.Decode)) {
        throw new Error(`engine deadlocked: instance ${x.id} (${x.poolName}) still has ${x.outstanding} requests but nothing can run (prefill and decode KV caches too small for the requests in flight)`)
      }
    }
  }

  /** Latest clock over all instances, ns. */
  get clock(): number {
    let c = 0
    for (const inst of this.instances) if (inst.clock > c) c = inst.clock
    return c
  }

  get submitted(): number {
    return this.nextId
  }

  /** Refresh `x`'s place in the agenda (its next event may have changed). */
  private touch(x: Mover): void {
    this.agenda?.update(x)
  }

  private pickDecode(r: SimRequest, tNs: number): Instance {
    const router = this.setup.decodeRouter ?? this.setup.router
    return this.decode[router(r, this.decode, tNs)]!
  }

  /** The decode-side copy of a request admitted on prefill instance `p`. */
  private twin(r: SimRequest, p: Instance): SimRequest {
    const d = new SimRequest(r.id, r.arrivalNs, r.promptTokens, r.outputTokens, r.content)
    d.queuedNs = r.queuedNs
    d.egressNs = r.egressNs
    d.clientQueueNs = r.clientQueueNs
    d.priority = r.priority
    d.prefillInstance = p.id
    d.peer = r
    r.peer = d
    return d
  }

  private hooks(x: KvTransferSetup): DisaggregationHooks {
    const pools = this.setup.pools
    const instances = this.instances // disaggregated: no virtual engines, so index = id
    /** Both sides ready (prefill done, decode blocks reserved): price and schedule the transfer. */
    const arm = (d: SimRequest) => {
      const rp = d.peer!
      const dst = instances[d.instance]!
      const src = instances[d.prefillInstance]!
      const ps = pools[src.pool]!
      const pd = pools[dst.pool]!
      const tokens = d.promptTokens - d.cachedPromptTokens
      const shards = Math.min(ps.gpusPerInstance, pd.gpusPerInstance)
      const bytes = tokens * ps.kvBytesPerToken / shards
      // the slower end sets the pace (e.g. a PCIe-only decode GPU behind an NVLink prefill node)
      const dt = tokens <= 0 ? 0 : Math.max(
        (ps.network ?? x.network).kvTransferNs(bytes, x.crossNode),
        (pd.network ?? x.network).kvTransferNs(bytes, x.crossNode)
      )
      const h = d.prefillDoneNs
      let start = d.kvReservedNs
      if (dst.linkFreeNs > start) start = dst.linkFreeNs
      let end = start + dt
      if (x.layerwise) {
        // layers move as they are computed, from the prefill's first step once blocks and the link
        // are ready; what is left after the prefill ends is at least the last layer's share
        if (rp.firstScheduledNs > start) start = rp.firstScheduledNs
        end = Math.max(start + dt, h + Math.round(dt / ps.layers))
      } else if (h > start) {
        start = h
        end = start + dt
      }
      dst.linkFreeNs = end
      d.kvTransferStartNs = start
      d.kvTransferEndNs = end
      dst.startLoading(d, end)
      src.releaseAt(rp, end)
      this.touch(dst)
      this.touch(src)
    }
    return {
      prefilled: (rp, tNs) => {
        const src = instances[rp.instance]!
        let d = rp.peer
        if (d === undefined) {
          const dst = this.pickDecode(rp, tNs)
          d = this.twin(rp, src)
          d.prefillDoneNs = tNs
          d.firstScheduledNs = rp.firstScheduledNs
          d.preemptions = rp.preemptions
          if (!dst.receive(d, tNs)) src.releaseAt(rp, tNs)
          this.touch(dst)
          this.touch(src)
          return
        }
        d.prefillDoneNs = tNs
        d.firstScheduledNs = rp.firstScheduledNs
        d.preemptions += rp.preemptions
        if (d.kvReservedNs >= 0) arm(d)
      },
      reserved: (d, tNs) => {
        d.kvReservedNs = tNs
        if (d.prefillDoneNs >= 0) arm(d)
      }
    }
  }
}

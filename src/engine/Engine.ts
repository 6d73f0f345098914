/**
 * The engine: instances behind a router, driven by arrivals in time order on virtual time.
 * For each arrival, every instance runs its steps until its clock reaches the arrival time; the
 * router then picks an instance and the request joins its waiting queue. `drain()` runs every
 * instance until it has no work. Time never goes back: arrivals must come in non-decreasing
 * arrival order.
 */
import { makeReplicas, type Replica } from "../cluster/pipeline.js"
import { SimRequest } from "../domain/SimRequest.js"
import type { PerfModel } from "../perf/PerfModelService.js"
import type { SchedulerPolicy } from "../scheduler/SchedulerService.js"
import type { PromptContent } from "../memory/blockHash.js"
import type { KvCache } from "../memory/KvCache.js"
import type { EngineObserver } from "./EngineObserver.js"
import { Instance } from "./Instance.js"
import type { Router } from "./Router.js"

/** One request as it arrives: arrival time (ns), token counts and, when known, prompt content. */
export interface Arrival {
  readonly arrivalNs: number
  readonly promptTokens: number
  readonly outputTokens: number
  /** Token ids or block hash ids of the prompt (prefix-cache hits across requests). */
  readonly content?: PromptContent | undefined
}

export interface EngineSetup {
  readonly numInstances: number
  readonly policy: SchedulerPolicy
  readonly makeKvCache: () => KvCache
  readonly perf: PerfModel
  readonly observer: EngineObserver
  readonly router: Router
  readonly maxModelLen: number
  readonly maxNumSeqs: number
  /** Step one engine step at a time, never fast-forwarding (the oracle; default false). */
  readonly exactSteps?: boolean
}

export class Engine {
  /** Every instance; under pipeline parallelism every virtual engine of every replica. */
  readonly instances: ReadonlyArray<Instance>
  /** Under pipeline parallelism (the perf model prices stages): the replicas, P virtual engines each. */
  readonly replicas: ReadonlyArray<Replica> | undefined
  private nextId = 0
  private lastArrival = -Infinity

  constructor(private readonly setup: EngineSetup) {
    const pipeline = setup.perf.pipeline
    if (pipeline !== undefined && pipeline.stages > 1) {
      this.replicas = makeReplicas(setup.numInstances, pipeline.stages, pipeline, (i, v, gate) =>
        new Instance(i, setup.policy.make(setup.makeKvCache()), setup.perf, setup.observer, setup.maxModelLen, setup.maxNumSeqs, gate, v))
      this.instances = this.replicas.flatMap((r) => r.virtualEngines)
      return
    }
    this.replicas = undefined
    const list: Array<Instance> = []
    for (let i = 0; i < setup.numInstances; i++) {
      list.push(new Instance(i, setup.policy.make(setup.makeKvCache()), setup.perf, setup.observer, setup.maxModelLen, setup.maxNumSeqs))
    }
    this.instances = list
  }

  /** Run every instance's steps that start before `tNs` (fast-forwarding steady decode runs). */
  advanceTo(tNs: number): void {
    if (this.replicas !== undefined) {
      for (const rep of this.replicas) rep.advanceTo(tNs)
      return
    }
    const exact = this.setup.exactSteps === true
    for (const inst of this.instances) {
      while (inst.clock < tNs && inst.hasWork()) {
        if (!exact && inst.canFastForward && inst.fastForward(tNs) > 0) continue
        if (inst.step() === 0) throw new Error(`engine stalled on instance ${inst.id} at ${inst.clock} ns with work queued`)
      }
    }
  }

  /** Advance to the arrival time, then route and queue the request. Returns the engine's request. */
  submit(a: Arrival): SimRequest {
    if (a.arrivalNs < this.lastArrival) {
      throw new Error(`arrivals out of order: ${a.arrivalNs} ns after ${this.lastArrival} ns`)
    }
    this.lastArrival = a.arrivalNs
    this.advanceTo(a.arrivalNs)
    const r = new SimRequest(this.nextId++, a.arrivalNs, a.promptTokens, a.outputTokens, a.content)
    this.setup.observer.onArrive?.(r)
    const inst = this.replicas === undefined
      ? this.instances[this.setup.router(this.instances)]!
      : this.replicas[this.setup.router(this.replicas)]!.pick()
    inst.admit(r)
    return r
  }

  /** Run until no instance has work. */
  drain(): void {
    this.advanceTo(Infinity)
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
}

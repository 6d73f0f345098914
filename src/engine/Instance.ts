/**
 * One serving instance (replica): its scheduler (waiting queue, running list, KV cache), its perf
 * model and its own clock. `step()` is the engine step: schedule at `clock`, price the batch,
 * advance the clock by the step time and apply the step's outputs (tokens, finishes). It does no
 * I/O and allocates nothing per token; the same function runs offline and under the server's Clock.
 */
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { PerfModel } from "../perf/PerfModelService.js"
import type { Scheduler } from "../scheduler/SchedulerService.js"
import { makeStepPlan, type StepPlan } from "../scheduler/StepPlan.js"
import type { EngineObserver, StepInfo } from "./EngineObserver.js"

export class Instance {
  /** Simulated time this instance has reached, ns. */
  clock = 0
  /** Steps executed. */
  steps = 0
  private readonly plan: StepPlan
  private readonly info: { -readonly [K in keyof StepInfo]: StepInfo[K] }

  constructor(
    readonly id: number,
    readonly scheduler: Scheduler,
    readonly perf: PerfModel,
    readonly observer: EngineObserver,
    /** Longest prompt + output accepted, tokens. */
    readonly maxModelLen: number,
    maxNumSeqs: number
  ) {
    this.plan = makeStepPlan(maxNumSeqs)
    this.info = {
      instance: id, startNs: 0, durationNs: 0, shape: this.plan.shape, running: 0, waiting: 0,
      kvBlocksUsed: 0, kvBlocksTotal: scheduler.kv.numBlocks, preempted: 0
    }
  }

  hasWork(): boolean {
    return this.scheduler.hasWork()
  }

  /** Reason `r` can never run here, or undefined when it can. */
  rejectionReason(r: SimRequest): string | undefined {
    if (r.promptTokens + r.outputTokens > this.maxModelLen) {
      return `prompt (${r.promptTokens}) + output (${r.outputTokens}) tokens exceed max_model_len ${this.maxModelLen}`
    }
    return undefined
  }

  /**
   * A request arrives at `r.arrivalNs` (not before the previous arrival). An idle instance's clock
   * jumps to the arrival. Requests that can never run are rejected at once.
   */
  admit(r: SimRequest): boolean {
    r.instance = this.id
    if (!this.scheduler.hasWork() && this.clock < r.arrivalNs) this.clock = r.arrivalNs
    const why = this.rejectionReason(r)
    if (why !== undefined) {
      r.status = RequestStatus.Rejected
      r.finishNs = r.arrivalNs
      this.observer.onReject?.(r, why)
      return false
    }
    this.scheduler.enqueue(r)
    return true
  }

  /** Remove a request (client abort) and free its blocks. */
  abort(r: SimRequest, nowNs: number): boolean {
    if (!this.scheduler.abort(r)) return false
    r.finishNs = nowNs
    this.observer.onFinish?.(r)
    return true
  }

  /**
   * Run one step starting at `clock`; returns its duration in ns (0 when nothing could be
   * scheduled, which cannot happen while work is queued unless a request can never fit).
   */
  step(): number {
    const plan = this.plan
    const obs = this.observer
    const now = this.clock
    this.scheduler.schedule(now, plan, obs.onPreempt)
    if (plan.count === 0) return 0
    const d = this.perf.stepTimeNs(plan.shape)
    const end = now + d
    this.clock = end
    this.steps++
    const kv = this.scheduler.kv

    if (obs.onStep !== undefined) {
      const info = this.info
      info.startNs = now
      info.durationNs = d
      info.running = this.scheduler.running.length
      info.waiting = this.scheduler.waiting.length
      info.kvBlocksUsed = kv.usedBlocks
      info.preempted = plan.preempted
      obs.onStep(info)
    }

    let finished = 0
    const onToken = obs.onToken
    for (let i = 0; i < plan.count; i++) {
      const r = plan.reqs[i]!
      if (r.numComputed < r.numTokens) continue // partial prefill chunk: no token yet
      r.numOutput++
      if (r.firstTokenNs < 0) r.firstTokenNs = end
      if (onToken !== undefined) onToken(r, end)
      r.lastTokenNs = end
      if (r.numOutput >= r.outputTokens) {
        r.status = RequestStatus.Finished
        r.finishNs = end
        kv.release(r)
        finished++
        obs.onFinish?.(r)
      }
    }
    if (finished > 0) this.scheduler.removeFinished()
    return d
  }
}

/**
 * One serving instance (replica): its scheduler (waiting queue, running list, KV cache), its perf
 * model and its own clock. `step()` is the engine step: schedule at `clock`, price the batch,
 * advance the clock by the step time and apply the step's outputs (tokens, finishes). It does no
 * I/O and allocates nothing per token; the same function runs offline and under the server's Clock.
 * Under pipeline parallelism an Instance is one virtual engine of a replica (cluster/pipeline.ts):
 * its steps are micro-batches that also wait for the replica's shared PipelineGate.
 */
import { TimedQueue } from "../cluster/TimedQueue.js"
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { PerfModel } from "../perf/PerfModelService.js"
import type { PipelineGate } from "../cluster/pipeline.js"
import type { Scheduler } from "../scheduler/SchedulerService.js"
import { makeStepPlan, type StepPlan } from "../scheduler/StepPlan.js"
import type { EngineObserver, StepInfo } from "./EngineObserver.js"

/** What an instance does in a cluster: both phases, or one side of prefill/decode disaggregation. */
export const enum InstanceRole {
  Colocated = 0,
  /** vLLM `kv_role: kv_producer`: computes prompts, hands their KV to a decode instance. */
  Prefill = 1,
  /** vLLM `kv_role: kv_consumer`: receives prompts' KV, generates the output tokens. */
  Decode = 2
}

export const ROLE_NAMES = ["colocated", "prefill", "decode"] as const

/**
 * The engine's side of disaggregation, called by prefill and decode instances: a prefill finished
 * (`prefilled`, at the end of its step) and a decode instance reserved KV blocks for a handed-off
 * request (`reserved`, at its schedule time).
 */
export interface DisaggregationHooks {
  readonly prefilled: (r: SimRequest, tNs: number) => void
  readonly reserved: (r: SimRequest, tNs: number) => void
}

export class Instance {
  /** Simulated time this instance has reached, ns. */
  clock = 0
  /** Steps executed. */
  steps = 0
  /** Of those, steps taken by fastForward(). */
  fastForwardedSteps = 0
  /** Sum of its step durations, ns (busy time). */
  busyNs = 0
  /** Disaggregation: when this decode instance's KV-receive link is next free, ns. */
  linkFreeNs = 0
  /** Disaggregation: set by the engine on prefill and decode instances. */
  hooks: DisaggregationHooks | undefined = undefined
  /** Decode: handed-off requests waiting for KV blocks, by hand-off time. */
  private readonly inbox = new TimedQueue<SimRequest>()
  /** Decode: requests whose KV is being transferred, by transfer end. */
  private readonly loading = new TimedQueue<SimRequest>()
  /** Prefill: handed-off requests whose blocks are freed once their transfer ends. */
  private readonly releases = new TimedQueue<SimRequest>()
  /** Decode: the inbox's head could not get blocks or a sequence slot at the last try. */
  private stalled = false
  /** Disaggregation: the last step could schedule nothing; wait for a transfer to end or land. */
  private blocked = false
  /** Prefill: handed-off requests whose blocks it still holds (their transfer not yet ended). */
  private handedOff = 0
  /** Decode: requests holding reserved blocks whose transfer is not scheduled yet (layer-wise: prefill still running). */
  private reserved = 0
  /** The last step left the instance in a steady decode state (see step()). */
  private steady = false
  private residues = new Int32Array(16)
  /** decodeBlock(): tokens each scheduled request made in the block so far. */
  private readonly made: Int32Array
  private readonly plan: StepPlan
  private readonly info: { -readonly [K in keyof StepInfo]: StepInfo[K] }

  constructor(
    readonly id: number,
    readonly scheduler: Scheduler,
    readonly perf: PerfModel,
    readonly observer: EngineObserver,
    /** Longest prompt + output accepted, tokens. */
    readonly maxModelLen: number,
    private readonly maxNumSeqs: number,
    /** Index of its pool in the cluster. */
    readonly pool = 0,
    readonly role: InstanceRole = InstanceRole.Colocated,
    /** Name of its pool (requests.csv, steps.csv, summary.json). */
    readonly poolName = "default",
    /** Under pipeline parallelism: the replica's shared stages (absent: a step is one perf-model call). */
    readonly gate?: PipelineGate | undefined,
    /** Under pipeline parallelism: this virtual engine's index within its replica (`id`). */
    readonly virtualEngine = 0,
    /**
     * Multi-step scheduling (vLLM 0.6 `--num-scheduler-steps`): forward passes per scheduler call
     * of an all-decode batch (1 = every step is scheduled; see decodeBlock()).
     */
    readonly numSchedulerSteps = 1
  ) {
    this.plan = makeStepPlan(maxNumSeqs)
    this.made = new Int32Array(maxNumSeqs)
    this.info = {
      instance: id, pool: poolName, virtualEngine, startNs: 0, durationNs: 0, shape: this.plan.shape, running: 0, waiting: 0,
      kvBlocksUsed: 0, kvBlocksTotal: scheduler.kv.numBlocks, preempted: 0
    }
  }

  hasWork(): boolean {
    return this.scheduler.hasWork()
  }

  /** Requests here that are not finished: waiting, running, and (decode) awaiting or loading KV. */
  get outstanding(): number {
    return this.scheduler.waiting.length + this.scheduler.running.length + this.inbox.length + this.loading.length + this.reserved
  }

  /** Reason `r` can never run here, or undefined when it can. A prefill instance generates one token. */
  rejectionReason(r: SimRequest): string | undefined {
    if (this.role === InstanceRole.Prefill) {
      if (r.promptTokens + 1 > this.maxModelLen) return `prompt (${r.promptTokens}) + 1 token exceed the prefill instance's max_model_len ${this.maxModelLen}`
      return undefined
    }
    if (r.promptTokens + r.outputTokens > this.maxModelLen) {
      return `prompt (${r.promptTokens}) + output (${r.outputTokens}) tokens exceed max_model_len ${this.maxModelLen}`
    }
    return undefined
  }

  /**
   * Earliest time this instance has something to do: its clock while the scheduler has work, else
   * (decode) the next hand-off or KV-transfer end; Infinity when idle.
   */
  nextEventNs(): number {
    if (this.scheduler.hasWork() && !this.blocked) return this.clock
    let t = this.loading.nextNs
    if (!this.stalled && this.inbox.nextNs < t) t = this.inbox.nextNs
    if (this.blocked && this.releases.nextNs < t) t = this.releases.nextNs
    return t < this.clock ? this.clock : t
  }

  /**
   * One move of the time-ordered (disaggregated) engine: at nextEventNs(), take the pending
   * hand-offs and transfers, then run a step (or fast-forward steady decode steps starting before
   * `limitNs`, the next event elsewhere in the cluster).
   */
  advance(limitNs: number, exact: boolean): void {
    if (!this.scheduler.hasWork() || this.blocked) {
      const t = this.nextEventNs()
      if (t === Infinity) return
      if (this.clock < t) this.clock = t
      this.blocked = false
      this.applyPending(this.clock)
      this.steady = false
      if (!this.scheduler.hasWork()) {
        if (this.stalled && this.loading.length === 0 && this.reserved === 0) throw new Error(`decode instance ${this.id} stalled at ${this.clock} ns: a handed-off request can never get KV blocks`)
        return
      }
    }
    if (!exact && this.canFastForward) {
      let lim = limitNs
      if (this.loading.nextNs < lim) lim = this.loading.nextNs
      // a hand-off not yet tried (it may have come during the last step) needs a full step first
      if (!this.stalled && this.inbox.nextNs < lim) lim = this.inbox.nextNs
      if (this.fastForward(lim) > 0) return
    }
    if (this.step() === 0) {
      // nothing fits now, but blocks come back when a transfer ends (or lands): wait for that
      if (this.loading.length > 0 || this.releases.length > 0 || this.inbox.length > 0 || this.handedOff > 0 || this.reserved > 0) {
        this.blocked = true
        return
      }
      throw new Error(`engine stalled on instance ${this.id} at ${this.clock} ns with work queued`)
    }
  }

  /** Decode: a request handed off at `tNs` (its prefill done, or with layer-wise transfer, its arrival). */
  receive(r: SimRequest, tNs: number): boolean {
    const why = this.rejectionReason(r)
    if (why !== undefined) return this.reject(r, why, tNs)
    r.instance = this.id
    r.pool = this.poolName
    this.steady = false
    this.stalled = false
    this.inbox.push(tNs, r)
    return true
  }

  /** Refuse `r` here at `tNs` for `why` (its row then names this instance and pool); returns false. */
  reject(r: SimRequest, why: string, tNs: number): false {
    r.instance = this.id
    r.pool = this.poolName
    r.status = RequestStatus.Rejected
    r.finishNs = tNs
    this.observer.onReject?.(r, why)
    return false
  }

  /** Decode: `r`'s KV transfer ends at `tNs`; it then runs here. */
  startLoading(r: SimRequest, tNs: number): void {
    this.reserved--
    this.loading.push(tNs, r)
  }

  /** Prefill: free handed-off `r`'s blocks at `tNs` (when its transfer ends). */
  releaseAt(r: SimRequest, tNs: number): void {
    this.releases.push(tNs, r)
  }

  /** Handed-off requests whose blocks are still held, transfers in flight, hand-offs waiting (disaggregation). */
  get pendingHandoffs(): number {
    return this.releases.length + this.loading.length + this.inbox.length + this.reserved
  }

  /**
   * Disaggregation bookkeeping at a schedule point `now`: free the blocks of transfers that ended
   * (prefill), start the requests whose KV arrived, and reserve blocks for waiting hand-offs in
   * order while blocks and sequence slots last (decode; vLLM allocates a remote-prefilled request's
   * blocks before its KV is pulled, so a full decode instance stalls transfers).
   */
  private applyPending(now: number): void {
    const kv = this.scheduler.kv
    while (this.releases.nextNs <= now) {
      kv.release(this.releases.pop()!, true)
      this.handedOff--
    }
    if (this.role !== InstanceRole.Decode) return
    while (this.loading.nextNs <= now) {
      const r = this.loading.pop()!
      r.numComputed = r.promptTokens - 1 // the last prompt token is computed here, giving the first output token
      this.scheduler.adoptRunning(r)
      this.stalled = false
    }
    while (this.inbox.nextNs <= now) {
      if (this.scheduler.running.length + this.scheduler.waiting.length + this.loading.length >= this.maxNumSeqs) {
        this.stalled = true
        return
      }
      const r = this.inbox.peek()!
      const hit = kv.computedPrefix(r)
      if (!kv.admit(r, hit, r.promptTokens, r.promptTokens)) {
        this.stalled = true
        return
      }
      this.inbox.pop()
      r.cachedPromptTokens += hit
      r.numComputed = hit
      this.reserved++
      this.hooks!.reserved(r, now)
    }
    this.stalled = false
  }

  /**
   * A request reaches the engine core at `r.queuedNs` (not before the previous one). An idle
   * instance's clock jumps to it. Requests that can never run are rejected at once.
   */
  admit(r: SimRequest): boolean {
    r.instance = this.id
    r.pool = this.poolName
    this.steady = false // a new waiting request may be admitted by the next step
    if (!this.scheduler.hasWork() && this.clock < r.queuedNs) this.clock = r.queuedNs
    const why = this.rejectionReason(r)
    if (why !== undefined) return this.reject(r, why, r.queuedNs)
    this.scheduler.enqueue(r)
    return true
  }

  /** Remove a request (client abort) and free its blocks. */
  abort(r: SimRequest, nowNs: number): boolean {
    if (!this.scheduler.abort(r)) return false
    this.steady = false
    this.stalled = false
    r.finishNs = nowNs
    this.observer.onFinish?.(r)
    return true
  }

  /**
   * Run one step starting at `clock`; returns its duration in ns (0 when nothing could be
   * scheduled, which cannot happen while work is queued unless a request can never fit). Under
   * pipeline parallelism the step (a micro-batch) starts once the gate's stage 0 is free too, and
   * lasts until its last stage ends (PipelineGate.run).
   */
  step(): number {
    const plan = this.plan
    const obs = this.observer
    const gate = this.gate
    const now = gate === undefined ? this.clock : gate.startAt(this.clock)
    if (this.role !== InstanceRole.Colocated) this.applyPending(now)
    this.scheduler.schedule(now, plan, obs.onPreempt)
    if (plan.count === 0) return 0
    if (this.numSchedulerSteps > 1 && plan.shape.numPrefill === 0 && gate === undefined && this.role === InstanceRole.Colocated) {
      return this.decodeBlock(now)
    }
    const end = gate === undefined ? now + this.perf.stepTimeNs(plan.shape) : gate.run(now, plan.shape)
    const d = end - now
    this.clock = end
    this.steps++
    this.busyNs += d
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
    const onGap = obs.onTokenGap
    const prefillOnly = this.role === InstanceRole.Prefill
    for (let i = 0; i < plan.count; i++) {
      const r = plan.reqs[i]!
      if (r.numComputed < r.numTokens) continue // partial prefill chunk: no token yet
      if (prefillOnly) {
        // its KV goes to a decode instance; the blocks stay held until the transfer ends
        r.status = RequestStatus.HandedOff
        r.prefillDoneNs = end
        this.handedOff++
        finished++
        this.hooks!.prefilled(r, end)
        continue
      }
      r.numOutput++
      if (r.firstTokenNs < 0) r.firstTokenNs = end
      else if (onGap !== undefined) onGap(end - r.lastTokenNs, 1)
      if (onToken !== undefined) onToken(r, end)
      r.lastTokenNs = end
      if (r.numOutput >= r.outputTokens) {
        r.status = RequestStatus.Finished
        r.finishNs = end
        kv.release(r, true)
        finished++
        obs.onFinish?.(r)
      }
    }
    if (finished > 0) {
      this.scheduler.removeFinished()
      this.stalled = false // blocks and sequence slots were freed
    }
    // The next step repeats this one's structure (same requests, one decode token each, nothing
    // admitted) when this step scheduled every running request as a decode, preempted, admitted
    // and finished nothing: only the contexts grow. fastForward() may then take several at once.
    this.steady = plan.shape.numPrefill === 0 && plan.preempted === 0 && plan.admitted === 0 && finished === 0 &&
      plan.count === this.scheduler.running.length
    return d
  }

  /**
   * True when fastForward() may skip steps (see the end of step()). Never under pipeline
   * parallelism: the micro-batches of the other virtual engines interleave on the shared stages, so
   * one virtual engine's steady run cannot be taken in one move; step() runs every micro-batch.
   */
  get canFastForward(): boolean {
    return this.steady && this.observer.onToken === undefined && this.gate === undefined && this.numSchedulerSteps === 1
  }

  /**
   * Multi-step scheduling (vLLM 0.6.0, `--num-scheduler-steps N`): the all-decode batch just
   * scheduled at `now` runs up to N forward passes before the scheduler runs again, so requests
   * that arrive meanwhile wait for the block to end. Each pass gives every request of the batch one
   * token; a request that reaches its last token stops generating but stays in the batch (vLLM
   * checks stop conditions when the block's outputs are processed), so later passes still price it.
   * Every pass after the first allocates one KV slot per generating request (vLLM reserves N - 1
   * lookahead slots when it schedules); a pass that cannot get its slots is not run, the block ends
   * there and the next scheduler call preempts as usual. The per-step CPU overhead of the perf model
   * (`stepOverheadNs`) is paid by the first pass only: amortising it is what multi-step is for
   * (vLLM RFC #6854). Outputs are processed once, at the block's end: each request's tokens reach
   * the client then, together, as one streamed chunk, so ITL counts one gap per block (as vLLM's
   * and SGLang's benchmark clients measure it: one gap per chunk) and TPOT is unchanged. Every pass
   * is reported to onStep. Returns the block's duration.
   */
  private decodeBlock(now: number): number {
    const plan = this.plan
    const shape = plan.shape
    const obs = this.observer
    const kv = this.scheduler.kv
    const n = plan.count
    const reqs = plan.reqs
    const made = this.made
    made.fill(0, 0, n)
    const overhead = this.perf.stepOverheadNs ?? 0
    let t = now
    for (let k = 0; k < this.numSchedulerSteps; k++) {
      if (k > 0) {
        // the token made by the last pass is this pass's input: one more KV slot per generating request
        let generating = 0
        let ok = true
        for (let i = 0; i < n; i++) {
          const r = reqs[i]!
          if (r.numOutput + made[i]! >= r.outputTokens) continue
          if (!kv.allocate(r, r.numComputed + 1)) {
            ok = false
            break
          }
          generating++
        }
        if (!ok || generating === 0) break
        for (let i = 0; i < n; i++) {
          const r = reqs[i]!
          if (r.numOutput + made[i]! < r.outputTokens) r.numComputed++
        }
        shape.decodeContextSum += n
      }
      const full = this.perf.stepTimeNs(shape)
      const d = k === 0 ? full : Math.max(1, full - overhead)
      if (obs.onStep !== undefined) {
        const info = this.info
        info.startNs = t
        info.durationNs = d
        info.running = this.scheduler.running.length
        info.waiting = this.scheduler.waiting.length
        info.kvBlocksUsed = kv.usedBlocks
        info.preempted = k === 0 ? plan.preempted : 0
        obs.onStep(info)
      }
      t += d
      this.steps++
      for (let i = 0; i < n; i++) {
        const r = reqs[i]!
        if (r.numOutput + made[i]! < r.outputTokens) made[i]!++
      }
    }
    const d = t - now
    this.clock = t
    this.busyNs += d
    // the block's outputs, processed once at its end
    let finished = 0
    const onToken = obs.onToken
    const onGap = obs.onTokenGap
    for (let i = 0; i < n; i++) {
      const r = reqs[i]!
      const m = made[i]!
      if (m === 0) continue
      // one chunk: one gap since the request's previous chunk (none for its first)
      if (r.firstTokenNs < 0) r.firstTokenNs = t
      else if (onGap !== undefined) onGap(t - r.lastTokenNs, 1)
      for (let j = 0; j < m; j++) {
        r.numOutput++
        if (onToken !== undefined) onToken(r, t)
        r.lastTokenNs = t
      }
      if (r.numOutput >= r.outputTokens) {
        r.status = RequestStatus.Finished
        r.finishNs = t
        kv.release(r, true)
        finished++
        obs.onFinish?.(r)
      }
    }
    if (finished > 0) {
      this.scheduler.removeFinished()
      this.stalled = false
    }
    this.steady = false
    return d
  }

  /**
   * Event-exact fast-forward: run the steady decode steps that start before `limitNs` in one move,
   * stopping before any step in which a request would finish or a KV allocation would fail (those
   * run through step()). Gives the same times, to the nanosecond, as calling step() for each: the
   * same perf model prices each step's shape (n decodes, context sum growing by n per step), KV
   * blocks are allocated at the same block boundaries, and arrivals cannot be admitted in between
   * (a step in this state admits nothing until a request finishes or frees blocks, and every
   * arrival at or after `limitNs` is handled by the caller). Per step it costs one perf evaluation
   * and O(1) bookkeeping instead of O(batch). Returns the steps taken (0 = none possible).
   */
  fastForward(limitNs: number): number {
    this.steady = false
    const running = this.scheduler.running
    const n = running.length
    const kv = this.scheduler.kv
    const bs = kv.blockSize
    if (n === 0 || this.clock >= limitNs) return 0
    let kmax = Infinity
    let ctxSum = 0
    const residues = this.residues.length >= bs ? this.residues : (this.residues = new Int32Array(bs))
    residues.fill(0, 0, bs)
    for (let i = 0; i < n; i++) {
      const r = running[i]!
      const left = r.outputTokens - r.numOutput - 1 // steps before its finishing one
      if (left < kmax) kmax = left
      ctxSum += r.numComputed + 1
      residues[r.numComputed % bs]!++
    }
    if (kmax <= 0) return 0
    const shape = this.plan.shape
    shape.numPrefill = 0
    shape.prefillTokens = 0
    shape.numDecode = n
    const obs = this.observer
    const onStep = obs.onStep
    const onGap = obs.onTokenGap
    const waiting = this.scheduler.waiting.length
    let free = kv.free
    let clock = this.clock
    let j = 0
    while (j < kmax && clock < limitNs) {
      // step j computes token c + j + 1 of each request: a new block where (c + j) % bs == 0
      const need = residues[(bs - (j % bs)) % bs]!
      if (need > free) break
      free -= need
      shape.decodeContextSum = ctxSum + j * n
      const d = this.perf.stepTimeNs(shape)
      if (onStep !== undefined) {
        const info = this.info
        info.startNs = clock
        info.durationNs = d
        info.running = n
        info.waiting = waiting
        info.kvBlocksUsed = kv.numBlocks - free
        info.preempted = 0
        onStep(info)
      }
      if (onGap !== undefined) onGap(d, n)
      clock += d
      j++
    }
    if (j === 0) return 0
    for (let i = 0; i < n; i++) {
      const r = running[i]!
      r.numComputed += j
      r.numOutput += j
      r.lastTokenNs = clock
      kv.allocate(r, r.numComputed)
    }
    this.busyNs += clock - this.clock
    this.clock = clock
    this.steps += j
    this.fastForwardedSteps += j
    this.steady = j === kmax ? false : clock >= limitNs
    return j
  }
}

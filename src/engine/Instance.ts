/**
 * One serving instance (replica): its scheduler (waiting queue, running list, KV cache), its perf
 * model and its own clock. `step()` is the engine step: schedule at `clock`, price the batch,
 * advance the clock by the step time and apply the step's outputs (tokens, finishes). It does no
 * I/O and allocates nothing per token; the same function runs offline and under the server's Clock.
 * Offline, decoding requests are held lazily in the scheduler's decode cohort (scheduler/
 * DecodeCohort.ts), so a step costs O(1) plus O(log n) per event (admission, prefill chunk, finish,
 * preemption, block allocation) rather than O(batch); with a per-token observer (the server), under
 * --exact-steps and on prefill instances every request is stepped explicitly.
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
import type { SpecDecoder } from "./SpecDecoder.js"
import type { LoraSlots } from "../lora/LoraSlots.js"

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
  /** Its KV cache offloads to host memory: a step's loads are added to its time. */
  private readonly loads: boolean
  /** Host-memory copies charged to its steps (CPU offloading loads, swaps), ns. */
  loadNs = 0
  /** The last step left the instance in a steady decode state (see step()). */
  private steady = false
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
    readonly numSchedulerSteps = 1,
    /**
     * Hold decoding requests lazily (default true; off under multi-step, whose blocks step every request). Off, every running request is stepped
     * explicitly, as the exact-steps oracle does; it is off anyway with an `onToken` observer and on
     * prefill instances.
     */
    lazyDecode = true,
    /**
     * Speculative decoding (--speculative-config): draws accepted drafts and prices the drafter.
     * The lazy decode cohort and fastForward() assume one token per decode step, so both are off
     * with it; absent (the default) the engine is unchanged.
     */
    readonly spec: SpecDecoder | undefined = undefined,
    /**
     * LoRA (--enable-lora): the instance's adapter slots, which add each step's adapter loads and
     * LoRA kernels to its time (lora/LoraSlots.ts). The decode cohort is off with it (a step's
     * price depends on which adapters its requests name); absent (the default) nothing changes.
     */
    readonly lora: LoraSlots | undefined = undefined
  ) {
    scheduler.running.lazy = scheduler.decodeCohort && lazyDecode && spec === undefined && lora === undefined && numSchedulerSteps === 1 && observer.onToken === undefined && role !== InstanceRole.Prefill
    this.loads = (scheduler.kv.takeLoadNs !== undefined && scheduler.kv.offload !== undefined) || scheduler.swap !== undefined
    this.plan = makeStepPlan(maxNumSeqs)
    this.made = new Int32Array(maxNumSeqs)
    this.info = {
      instance: id, pool: poolName, virtualEngine, startNs: 0, durationNs: 0, shape: this.plan.shape, running: 0, waiting: 0,
      kvBlocksUsed: 0, kvBlocksTotal: scheduler.kv.numBlocks, preempted: 0
    }
  }

  /** Whether a request is waiting or running here (not counting disaggregation hand-offs in flight). */
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
    // A new request may be admitted by the next step, unless it queues behind a waiting request
    // that a steady step could not admit: a steady run leaves that one blocked (the budget and the
    // running count stay, free blocks and cached prefixes only shrink), and FCFS admission stops
    // there, so the run may go on past this arrival.
    if (this.scheduler.waiting.length === 0) this.steady = false
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
    const sched = this.scheduler
    sched.schedule(now, plan, obs.onPreempt)
    const cohort = sched.running.cohort
    const lazy = plan.cohort
    if (plan.count === 0 && lazy === 0) return 0
    if (lazy !== cohort.size) throw new Error(`instance ${this.id}: the decode cohort was scheduled in part`)
    if (this.numSchedulerSteps > 1 && plan.shape.numPrefill === 0 && gate === undefined && this.role === InstanceRole.Colocated) {
      return this.decodeBlock(now)
    }
    let end = gate === undefined ? now + this.perf.stepTimeNs(plan.shape) : gate.run(now, plan.shape)
    if (this.loads) {
      // CPU offloading: the host-tier blocks the step's admissions found are loaded before it computes;
      // swap preemption: the step's swap-outs and swap-ins are copied before it computes
      const load = Math.round((sched.kv.takeLoadNs?.() ?? 0) + (sched.swap?.takeNs() ?? 0))
      this.loadNs += load
      end += load
    }
    if (this.spec !== undefined) end += this.drafterNs()
    if (this.lora !== undefined) end += this.lora.stepNs(plan)
    const d = end - now
    this.clock = end
    this.steps++
    this.busyNs += d
    const kv = sched.kv

    if (obs.onStep !== undefined) {
      const info = this.info
      info.startNs = now
      info.durationNs = d
      info.running = sched.running.length
      info.waiting = sched.waiting.length
      info.kvBlocksUsed = kv.usedBlocks
      info.preempted = plan.preempted
      obs.onStep(info)
    }

    // the cohort's tokens: one each, every member's gap since the cohort's previous step
    const onGap = obs.onTokenGap
    if (lazy > 0 && onGap !== undefined) onGap(end - cohort.lastTokenNs, lazy)
    cohort.advance(lazy > 0 ? 1 : 0, end)

    // the explicit requests' tokens, and every finish in running order (the cohort's merged in)
    let finished = 0
    const onToken = obs.onToken
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
      // beyond numTokens only for a spec-decode verify pass (its drafts)
      const verify = r.numComputed > r.numTokens
      r.numOutput++
      if (r.firstTokenNs < 0) r.firstTokenNs = end
      else if (onGap !== undefined) onGap(end - r.lastTokenNs, 1)
      if (onToken !== undefined) onToken(r, end)
      r.lastTokenNs = end
      if (verify) this.acceptDrafts(r, end)
      if (r.numOutput >= r.outputTokens) {
        if (lazy > 0) finished += this.finishCohortBefore(r.runSeq, end)
        this.finish(r, end)
        finished++
      }
    }
    if (lazy > 0) finished += this.finishCohortBefore(Infinity, end)
    // explicit requests that got a token and go on decoding join the cohort
    let joined = 0
    const running = sched.running
    if (running.lazy) {
      for (let i = 0; i < plan.count; i++) if (running.offer(plan.reqs[i]!, end)) joined++
    }
    if (finished > 0 || joined > 0) sched.removeFinished()
    if (finished > 0) this.stalled = false // blocks and sequence slots were freed
    // The next step repeats this one's structure (the cohort only, one decode token each, nothing
    // admitted) when every running request is in the cohort, nothing was preempted, and nothing
    // waiting can be admitted: the queue is empty, or this step already scheduled every running
    // request as a decode and admitted and finished nothing (so the head stays blocked: the budget
    // and running count stay, blocks only get used). fastForward() may then take several at once.
    this.steady = running.explicit.length === 0 && cohort.size > 0 && plan.preempted === 0 &&
      (sched.waiting.length === 0 || (plan.shape.numPrefill === 0 && plan.admitted === 0 && finished === 0 && plan.count === joined))
    return d
  }

  /**
   * Spec decode: the drafter's time in the step just scheduled, ns, over the requests verifying
   * drafts (their context: tokens known, including the newest). See SpecDecoder.drafterNs.
   */
  private drafterNs(): number {
    const plan = this.plan
    let count = 0
    let contextSum = 0
    for (let i = 0; i < plan.count; i++) {
      const r = plan.reqs[i]!
      if (r.numComputed > r.numTokens) {
        count++
        contextSum += r.numTokens
      }
    }
    return this.spec!.drafterNs(this.perf, count, contextSum)
  }

  /**
   * Spec decode, after `r`'s verify pass ending at `tNs` gave its first token: draw the accepted
   * drafts, which are further tokens of the same step (one chunk, one ITL gap), and roll its
   * computed tokens back past the rejected ones (vLLM: num_computed_tokens -= rejected; the blocks
   * stay allocated).
   */
  private acceptDrafts(r: SimRequest, tNs: number): void {
    const drafts = r.numComputed - r.numTokens + 1 // numOutput already counts the verified token
    const a = this.spec!.verify(drafts)
    const onToken = this.observer.onToken
    for (let j = 0; j < a; j++) {
      r.numOutput++
      if (onToken !== undefined) onToken(r, tNs)
    }
    r.numComputed = r.promptTokens + r.numOutput - 1
  }

  /** `r` produced its last token at `tNs`: free its blocks and report it. */
  private finish(r: SimRequest, tNs: number): void {
    r.status = RequestStatus.Finished
    r.finishNs = tNs
    this.scheduler.kv.release(r, true)
    this.observer.onFinish?.(r)
  }

  /** Finish the cohort members whose last token came in the step just applied, ending at `tNs`, that run before `runSeq`; returns how many. */
  private finishCohortBefore(runSeq: number, tNs: number): number {
    const cohort = this.scheduler.running.cohort
    let k = 0
    for (let r = cohort.finished(); r !== undefined && r.runSeq < runSeq; r = cohort.finished()) {
      cohort.leave(r)
      this.finish(r, tNs)
      k++
    }
    return k
  }

  /**
   * True when fastForward() may skip steps (see the end of step()). Never under pipeline
   * parallelism: the micro-batches of the other virtual engines interleave on the shared stages, so
   * one virtual engine's steady run cannot be taken in one move; step() runs every micro-batch.
   */
  get canFastForward(): boolean {
    return this.steady && this.gate === undefined && this.scheduler.running.cohort.size > 0 && this.numSchedulerSteps === 1 && this.spec === undefined && this.lora === undefined
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
   * stopping before any step in which a KV allocation would fail, and before any step in which a
   * request would finish unless `pastFinishes` (then, with nothing waiting, the finishing step is
   * run here too, its finishes reported in running order, and the run goes on with the rest). The
   * caller passes `pastFinishes` only when nothing outside the instance reacts to a finish before
   * `limitNs` (a closed-loop client does; the ordered engine never passes it). Gives the same times,
   * to the nanosecond, and the same observer calls as calling step() for each: the same perf model
   * prices each step's shape (the cohort's n decodes, context sum growing by n per step), KV blocks
   * are taken at the same block boundaries and freed at the same finishes, and arrivals cannot be
   * admitted in between (a step in this state admits nothing until a request finishes or frees
   * blocks, and every arrival at or after `limitNs` is handled by the caller). Costs O(1) to set up,
   * one perf evaluation per step and O(log n) per finish. Returns the steps taken (0 = none possible).
   */
  fastForward(limitNs: number, pastFinishes = false): number {
    this.steady = false
    const sched = this.scheduler
    const running = sched.running
    const cohort = running.cohort
    const kv = sched.kv
    if (cohort.size === 0 || running.explicit.length > 0 || this.clock >= limitNs) return 0
    const waiting = sched.waiting.length
    // a finish frees a sequence slot and blocks: with requests waiting (or, on a decode instance,
    // hand-offs waiting for blocks) the step after it may admit one, so it must be a full step
    const spanFinishes = pastFinishes && waiting === 0 && this.inbox.length === 0
    const shape = this.plan.shape
    shape.numPrefill = 0
    shape.prefillTokens = 0
    const obs = this.observer
    const onStep = obs.onStep
    const onGap = obs.onTokenGap
    let free = kv.free
    let taken = 0
    const start = this.clock
    let clock = start
    let last = cohort.lastTokenNs
    let toFinish = cohort.stepsToFinish() // steps before the next finishing one
    let j = 0 // steps since the cohort was last advanced
    let total = 0
    let blocked = false
    while (clock < limitNs) {
      if (j === toFinish && !spanFinishes) break
      const need = cohort.crossers(j)
      if (need > free) {
        blocked = true
        break
      }
      free -= need
      taken += need
      const n = cohort.size
      shape.numDecode = n
      shape.decodeContextSum = cohort.contextSum(j)
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
      clock += d
      if (onGap !== undefined) onGap(clock - last, n)
      last = clock
      if (j++ === toFinish) {
        // the step just taken gave some members their last token
        kv.takeBlocks(taken)
        taken = 0
        cohort.advance(j, clock)
        total += j
        j = 0
        this.finishCohortBefore(Infinity, clock)
        if (cohort.size === 0) break
        free = kv.free
        toFinish = cohort.stepsToFinish()
      }
    }
    if (j > 0) {
      kv.takeBlocks(taken)
      cohort.advance(j, clock)
      total += j
    }
    if (total === 0) return 0
    this.clock = clock
    this.busyNs += clock - start
    this.steps += total
    this.fastForwardedSteps += total
    this.steady = !blocked && cohort.size > 0 && clock >= limitNs
    return total
  }
}

/**
 * The step walk shared by the non-default scheduling policies (priority, orca, static, sarathi,
 * sjf, vllm-v0). It is vLLM V1's walk (scheduler/vllmV1.ts, `Scheduler.schedule`) with the points where the
 * policies differ made explicit:
 *
 * 1. Running requests, in running-list order (`decodeFirst`: the decodes first, then the running
 *    prefills). Each gets min(tokens it still needs, --long-prefill-token-threshold if set and
 *    `chunked`, remaining budget). When its KV blocks cannot be allocated a victim is preempted
 *    (recompute: blocks freed, computed tokens reset, back to the waiting queue) until the
 *    allocation succeeds or the request itself was the victim (then the walk over running
 *    requests stops, as vLLM's does). The victim is `victim(running)` (vLLM FCFS: the tail; vLLM
 *    priority: the largest (priority, arrival)); a victim already scheduled this step gives its
 *    tokens back (vLLM V1 does the same for the priority policy). The walk indexes the running
 *    list as vLLM's `while req_index < len(self.running)` does, so removing a request before the
 *    current one shifts the list under the index exactly as there.
 * 2. Only if nothing was preempted, and `admitOpen()` (static batching: only between batches):
 *    waiting requests in the queue's order while the budget lasts and fewer than --max-num-seqs
 *    run (`budgetedAdmission` false: the budget does not bound admission). `chunked`: the last one admitted may get a partial chunk; otherwise a prompt that does
 *    not fit the remaining budget stops admission, except (`wholeFirst`) the first prompt of a
 *    step, which is taken whole even past the budget so a long prompt is never starved. KV:
 *    `reserveFull` (Orca, FasterTransformer) allocates blocks for prompt + all output tokens at
 *    admission, so running requests never need a block and are never preempted; otherwise blocks
 *    grow as tokens are computed (with --scheduler-reserve-full-isl the whole prompt must fit at
 *    admission). With prefix caching a request starts at its cached prefix.
 *
 * With `prefillFirst` (vLLM V0 without chunked prefill) the order is turned round: waiting prompts
 * first, and a step that admitted any runs them alone; only a step that admits nothing runs 1.
 *
 * Every running request is explicit here (the decode cohort of vllmV1.ts is not used), so the
 * engine's fast-forward of steady decode steps never applies to these policies: each step is
 * scheduled and priced on its own (exact by construction).
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import { RequestStatus, type SimRequest } from "../../domain/SimRequest.js"
import type { KvCache } from "../../memory/KvCache.js"
import { RunningSet } from "../RunningSet.js"
import { abortRequest } from "../abort.js"
import type { Scheduler } from "../SchedulerService.js"
import { addToPlan, resetStepPlan, type StepPlan } from "../StepPlan.js"
import type { WaitingQueue } from "../WaitingQueue.js"

/** Where the policies differ (see the file comment). */
export interface ExplicitRules {
  readonly name: string
  readonly waiting: WaitingQueue<SimRequest>
  /** Schedule running decodes before running prefills (Sarathi-Serve); else running-list order (vLLM). */
  readonly decodeFirst: boolean
  /** Prompts may be split over steps (chunked prefill). */
  readonly chunked: boolean
  /** Without chunking: the first prompt admitted in a step is taken whole even past the budget. */
  readonly wholeFirst: boolean
  /**
   * Whether admission stops at the token budget (default true). Static batching sets false: a
   * FasterTransformer batch is bounded by its batch size and memory only.
   */
  readonly budgetedAdmission?: boolean
  /**
   * vLLM V0's default scheduler without chunked prefill (`Scheduler._schedule_default`): waiting
   * prompts are admitted first, and a step that admitted any computes those prompts alone (the
   * running decodes pause); only a step that admits nothing runs the running requests.
   */
  readonly prefillFirst?: boolean
  /** Allocate KV for prompt + output tokens at admission (never preempts). */
  readonly reserveFull: boolean
  /** Index in `running` of the request to preempt when blocks run out. */
  readonly victim: (running: ReadonlyArray<SimRequest>) => number
  /** Whether waiting requests may be admitted this step (default always). */
  readonly admitOpen?: (running: ReadonlyArray<SimRequest>) => boolean
  /**
   * Called when a request is queued (new arrival, not a preemption), before it is ordered: the
   * priority policy draws its priority here under --priority-levels.
   */
  readonly onEnqueue?: (r: SimRequest) => void
}

/** vLLM FCFS's victim: the tail of the running list (`self.running.pop()`). */
export const tailVictim = (running: ReadonlyArray<SimRequest>): number => running.length - 1

export const makeExplicitScheduler = (e: EngineConfig, kv: KvCache, rules: ExplicitRules): Scheduler => {
  const waiting = rules.waiting
  const running = new RunningSet(kv)
  const run = running.explicit
  const budgetMax = e.maxNumBatchedTokens
  const maxSeqs = e.maxNumSeqs
  const chunked = rules.chunked
  const threshold = chunked ? e.longPrefillTokenThreshold : 0
  const reserveIsl = e.schedulerReserveFullIsl
  const { decodeFirst, reserveFull, wholeFirst, victim } = rules
  const admitOpen = rules.admitOpen
  const budgeted = rules.budgetedAdmission ?? true
  const onEnqueue = rules.onEnqueue
  // this step's running requests and tokens, before they enter the plan (a victim may be taken back)
  const staged: Array<SimRequest> = []
  let stagedN = new Int32Array(64)
  const order: Array<SimRequest> = []

  const preempt = (r: SimRequest, now: number, onPreempt: ((r: SimRequest, now: number) => void) | undefined) => {
    if (onPreempt !== undefined) onPreempt(r, now)
    kv.release(r, false)
    r.numComputed = 0
    r.status = RequestStatus.Waiting
    r.preemptions++
    waiting.pushFront(r)
  }

  const isDecode = (r: SimRequest) => r.numComputed + 1 === r.numTokens && r.numOutput > 0

  /** The running requests in walk order (decode-first: decodes, then the rest, each in running order). */
  const walkOrder = (): ReadonlyArray<SimRequest> => {
    if (!decodeFirst) return run
    order.length = 0
    for (const r of run) if (isDecode(r)) order.push(r)
    for (const r of run) if (!isDecode(r)) order.push(r)
    return order
  }

  const prefillFirst = rules.prefillFirst ?? false

  const schedule = (now: number, plan: StepPlan, onPreempt?: (r: SimRequest, now: number) => void): void => {
    resetStepPlan(plan)
    if (prefillFirst) {
      admitWaiting(now, plan, budgetMax)
      if (plan.admitted > 0) return
    }
    const budget = scheduleRunning(now, plan, onPreempt)
    // 2. waiting requests (skipped on a step that preempted)
    if (!prefillFirst && plan.preempted === 0) admitWaiting(now, plan, budget)
  }

  /** 1. The running requests into `plan`; returns the token budget left. */
  const scheduleRunning = (now: number, plan: StepPlan, onPreempt: ((r: SimRequest, now: number) => void) | undefined): number => {
    let budget = budgetMax
    staged.length = 0
    if (stagedN.length < run.length + 1) stagedN = new Int32Array(2 * (run.length + 1))
    let preempted = 0
    const list = walkOrder()
    let i = 0
    while (i < list.length && budget > 0) {
      const r = list[i]!
      if (r.status !== RequestStatus.Running) {
        i++ // preempted earlier in this step (decode-first order only)
        continue
      }
      let n = r.numTokens - r.numComputed
      if (threshold > 0 && n > threshold) n = threshold
      if (n > budget) n = budget
      if (n <= 0) {
        i++
        continue
      }
      let ok = true
      while (!kv.allocate(r, r.numComputed + n)) {
        const k = victim(run)
        const v = run[k]!
        run.splice(k, 1)
        const s = staged.indexOf(v)
        if (s >= 0) {
          budget += stagedN[s]!
          staged.splice(s, 1)
          stagedN.copyWithin(s, s + 1, staged.length + 1)
        }
        preempt(v, now, onPreempt)
        preempted++
        if (v === r) {
          ok = false
          break
        }
      }
      if (!ok) break
      stagedN[staged.length] = n
      staged.push(r)
      budget -= n
      i++
    }
    for (let k = 0; k < staged.length; k++) {
      const r = staged[k]!
      const n = stagedN[k]!
      addToPlan(plan, r, n)
      r.numComputed += n
    }
    plan.preempted = preempted
    return budget
  }

  /** 2. Waiting requests into `plan` while `budget` tokens last (and admission is open). */
  const admitWaiting = (now: number, plan: StepPlan, budget: number): void => {
    if (admitOpen === undefined || admitOpen(run)) {
      let prompts = 0
      while (waiting.length > 0 && (budget > 0 || !budgeted)) {
        if (run.length >= maxSeqs) break
        const r = waiting.peek()!
        const hit = kv.computedPrefix(r)
        let n = r.numTokens - hit
        if (threshold > 0 && n > threshold) n = threshold
        if (budgeted && n > budget) {
          if (chunked) n = budget
          else if (!(wholeFirst && prompts === 0)) break
        }
        const ok = reserveFull
          ? kv.admit(r, hit, r.promptTokens + r.outputTokens, -1)
          : kv.admit(r, hit, hit + n, reserveIsl ? r.numTokens : -1)
        if (!ok) break
        r.numComputed = hit
        r.cachedPromptTokens += hit
        waiting.popFront()
        running.push(r)
        r.status = RequestStatus.Running
        if (r.firstScheduledNs < 0) r.firstScheduledNs = now
        plan.admitted++
        addToPlan(plan, r, n)
        r.numComputed += n
        budget -= n
        prompts++
      }
    }
  }

  const abort = (r: SimRequest): boolean => abortRequest(r, waiting, running, kv)

  return {
    name: rules.name,
    decodeCohort: false,
    waiting,
    running,
    kv,
    enqueue: (r) => {
      if (onEnqueue !== undefined) onEnqueue(r)
      waiting.pushBack(r)
    },
    adoptRunning: (r) => {
      running.push(r)
      r.status = RequestStatus.Running
    },
    schedule,
    removeFinished: () => running.compact(),
    abort,
    hasWork: () => running.length > 0 || waiting.length > 0
  }
}

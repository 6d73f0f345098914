/**
 * vLLM V1 scheduling policy (vllm/v1/core/sched/scheduler.py, `Scheduler.schedule`), FCFS:
 *
 * 1. Running requests first, in order. Each gets min(tokens it still needs,
 *    --long-prefill-token-threshold if set, remaining token budget). If its KV blocks cannot be
 *    allocated, the request at the tail of the running list is preempted (recompute: its blocks
 *    are freed, its computed tokens reset to 0, and it goes to the front of the waiting queue)
 *    until the allocation succeeds or the request itself was the one preempted.
 * 2. Only if nothing was preempted this step: waiting requests in FCFS order while the budget
 *    lasts and fewer than --max-num-seqs are running. Without chunked prefill a prompt that does
 *    not fit the remaining budget stops admission; with --scheduler-reserve-full-isl a request is
 *    admitted only if blocks for all its known tokens are free. The first request that cannot be
 *    admitted stops admission (no preemption on behalf of waiting requests). With prefix caching
 *    a request starts at its cached prefix (`get_computed_blocks`) and computes only the rest.
 *
 * `num_computed_tokens` advances when scheduled (vLLM `_update_after_schedule`).
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import { RequestQueue } from "./RequestQueue.js"
import type { Scheduler } from "./SchedulerService.js"
import { addToPlan, resetStepPlan, type StepPlan } from "./StepPlan.js"

export const makeVllmV1Scheduler = (e: EngineConfig, kv: KvCache): Scheduler => {
  const waiting = new RequestQueue<SimRequest>()
  const running: Array<SimRequest> = []
  const budgetMax = e.maxNumBatchedTokens
  const maxSeqs = e.maxNumSeqs
  const threshold = e.longPrefillTokenThreshold
  const chunked = e.enableChunkedPrefill
  const reserveFull = e.schedulerReserveFullIsl

  const preempt = (r: SimRequest, now: number, onPreempt: ((r: SimRequest, now: number) => void) | undefined) => {
    if (onPreempt !== undefined) onPreempt(r, now) // sees the tokens it is about to lose
    kv.release(r, false)
    r.numComputed = 0
    r.status = RequestStatus.Waiting
    r.preemptions++
    waiting.pushFront(r)
  }

  const schedule = (now: number, plan: StepPlan, onPreempt?: (r: SimRequest, now: number) => void): void => {
    resetStepPlan(plan)
    let budget = budgetMax

    // 1. running requests
    let i = 0
    while (i < running.length && budget > 0) {
      const r = running[i]!
      let n = r.numTokens - r.numComputed
      if (threshold > 0 && n > threshold) n = threshold
      if (n > budget) n = budget
      if (n <= 0) {
        i++
        continue
      }
      let ok = true
      while (!kv.allocate(r, r.numComputed + n)) {
        const victim = running.pop()!
        preempt(victim, now, onPreempt)
        plan.preempted++
        if (victim === r) {
          ok = false
          break
        }
      }
      if (!ok) break
      addToPlan(plan, r, n)
      r.numComputed += n
      budget -= n
      i++
    }

    // 2. waiting requests (skipped on a step that preempted)
    if (plan.preempted === 0) {
      while (waiting.length > 0 && budget > 0) {
        if (running.length >= maxSeqs) break
        const r = waiting.peek()!
        // a waiting request holds nothing (new or preempted); the prefix cache may cover a prefix
        const hit = kv.computedPrefix(r)
        let n = r.numTokens - hit
        if (threshold > 0 && n > threshold) n = threshold
        if (!chunked && n > budget) break
        if (n > budget) n = budget
        if (!kv.admit(r, hit, hit + n, reserveFull ? r.numTokens : -1)) break
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
      }
    }
  }

  const removeFinished = (): void => {
    let w = 0
    for (let k = 0; k < running.length; k++) {
      const r = running[k]!
      if (r.status === RequestStatus.Running) running[w++] = r
    }
    running.length = w
  }

  const abort = (r: SimRequest): boolean => {
    if (r.status === RequestStatus.Waiting) {
      if (!waiting.remove(r)) return false
    } else if (r.status === RequestStatus.Running) {
      const k = running.indexOf(r)
      if (k < 0) return false
      running.splice(k, 1)
    } else {
      return false
    }
    kv.release(r, true)
    r.status = RequestStatus.Finished
    return true
  }

  return {
    name: "vllm-v1",
    waiting,
    running,
    kv,
    enqueue: (r) => waiting.pushBack(r),
    adoptRunning: (r) => {
      running.push(r)
      r.status = RequestStatus.Running
    },
    schedule,
    removeFinished,
    abort,
    hasWork: () => running.length > 0 || waiting.length > 0
  }
}

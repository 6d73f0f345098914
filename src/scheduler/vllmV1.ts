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
 *
 * With speculative decoding (--speculative-config, k drafts) a decoding request asks for its newest
 * token plus d = min(k, tokens it still has to generate - 1) drafts, as vLLM's
 * `num_tokens_with_spec`, against the budget and with KV slots for all of them; the engine rolls
 * `num_computed_tokens` back past the rejected drafts (engine/Instance.ts, SpecDecoder.ts).
 *
 * Decoders may be held lazily in the running set's decode cohort (RunningSet, DecodeCohort). The
 * cohort is scheduled whole, in O(1), when that gives what the walk above would: no member is cut
 * short by the budget and no allocation fails (so nobody is preempted). Its blocks are taken where
 * its members stand in the running order when that can matter (a prefilling request caching hashes
 * while the step evicts cached blocks). Otherwise the cohort is dissolved into explicit requests
 * first and the walk runs over all of them (see planCohort).
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import { RequestQueue } from "./RequestQueue.js"
import { RunningSet } from "./RunningSet.js"
import { abortRequest } from "./abort.js"
import type { Scheduler } from "./SchedulerService.js"
import { addToPlan, resetStepPlan, type StepPlan } from "./StepPlan.js"
import { SwapSpace, type SwapSpec } from "./SwapSpace.js"

/** How the step treats the decode cohort (see the file comment). */
const enum CohortPlan {
  /** No cohort, or dissolved: every running request is explicit. */
  None = 0,
  /** Scheduled whole; its blocks taken before the explicit requests'. */
  First = 1,
  /** Scheduled whole; its blocks taken at its members' places in the running order. */
  Interleaved = 2
}

export const makeVllmV1Scheduler = (e: EngineConfig, kv: KvCache, swapSpec?: SwapSpec): Scheduler => {
  const swap = swapSpec === undefined ? undefined : new SwapSpace(swapSpec)
  const waiting = new RequestQueue<SimRequest>()
  const running = new RunningSet(kv)
  const explicit = running.explicit
  const cohort = running.cohort
  const budgetMax = e.maxNumBatchedTokens
  const maxSeqs = e.maxNumSeqs
  const threshold = e.longPrefillTokenThreshold
  const chunked = e.enableChunkedPrefill
  const reserveFull = e.schedulerReserveFullIsl
  const bs = kv.blockSize
  /** Speculative decoding: draft tokens per decoding request, k (0 = off). */
  const spec = e.speculativeConfig?.numSpeculativeTokens ?? 0
  /** LoRA (--enable-lora): adapters a step may use, max_loras (0 = off), and the step's adapters so far. */
  const maxLoras = e.lora?.maxLoras ?? 0
  const stepLoras = new Int32Array(maxLoras)
  let stepLoraCount = 0
  /** Waiting requests set aside this step by the max_loras rule, put back at the front after admission. */
  const skipped: Array<SimRequest> = []
  let loraSkips = 0
  const noteLora = (id: number): void => {
    if (id <= 0) return
    for (let k = 0; k < stepLoraCount; k++) if (stepLoras[k] === id) return
    stepLoras[stepLoraCount++] = id
  }
  /** Whether admitting a request with adapter `id` would exceed max_loras (vLLM: it is skipped, not a stop). */
  const loraFull = (id: number): boolean => {
    if (id <= 0 || stepLoraCount < maxLoras) return false
    for (let k = 0; k < stepLoraCount; k++) if (stepLoras[k] === id) return false
    return true
  }
  /** Interleaved: cohort blocks to take before explicit request i (index explicit.length: after the last). */
  let takeBefore = new Int32Array(16)

  const preempt = (r: SimRequest, now: number, onPreempt: ((r: SimRequest, now: number) => void) | undefined) => {
    if (onPreempt !== undefined) onPreempt(r, now) // sees the tokens it is about to lose
    // --preemption-mode swap: its KV goes to host memory and its computed tokens stay
    const swapped = swap !== undefined && r.blocks > 0 && swap.swapOut(r.blocks)
    if (swapped) r.swappedBlocks = r.blocks
    kv.release(r, false)
    if (!swapped) r.numComputed = 0
    r.status = RequestStatus.Waiting
    r.preemptions++
    waiting.pushFront(r)
  }

  /**
   * Whether the step can schedule the whole cohort, and how (dissolves it when not). It can when
   * the walk would give every member its token and no allocation would fail. When every member
   * runs before every explicit request (the usual case: a prompt chunked over several steps is the
   * latest admitted), the walk gives the members their tokens first and the explicit requests what
   * is left of the budget, and takes the members' blocks first too. Otherwise the members are
   * interleaved with explicit requests, and the budget must cover every running request's tokens
   * (then nobody is cut short and only the order of the allocations could differ).
   */
  const planCohort = (): CohortPlan => {
    const size = cohort.size
    if (size === 0) return CohortPlan.None
    const first = explicit.length === 0 || cohort.maxRunSeq < explicit[0]!.runSeq
    let budget = budgetMax - size
    let blocks = size > budgetMax ? 0 : cohort.crossers()
    let caches = false
    let fits = size <= budgetMax
    for (let i = 0; fits && i < explicit.length; i++) {
      const r = explicit[i]!
      let n = r.numTokens - r.numComputed
      if (threshold > 0 && n > threshold) n = threshold
      if (n <= 0) continue
      if (n > budget) {
        if (!first) fits = false
        if (budget <= 0) break
        n = budget
      }
      budget -= n
      const t = r.numComputed + n
      const need = Math.ceil(t / bs) - r.blocks
      if (need > 0) blocks += need
      if (!caches && kv.cachesOnAllocate(r, t)) caches = true
    }
    if (!fits || blocks > kv.free) {
      running.dissolve()
      return CohortPlan.None
    }
    if (first || !caches || cohort.crossers() === 0 || !kv.evictsCached(blocks)) return CohortPlan.First
    // place each crossing member's block before the first explicit request after it in the running order
    const n = explicit.length
    if (takeBefore.length < n + 1) takeBefore = new Int32Array(2 * (n + 1))
    takeBefore.fill(0, 0, n + 1)
    for (let k = 0; k < size; k++) {
      const m = cohort.at(k)
      if (!cohort.crossesNext(m)) continue
      let lo = 0, hi = n
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (explicit[mid]!.runSeq < m.runSeq) lo = mid + 1
        else hi = mid
      }
      takeBefore[lo]!++
    }
    return CohortPlan.Interleaved
  }

  const schedule = (now: number, plan: StepPlan, onPreempt?: (r: SimRequest, now: number) => void): void => {
    resetStepPlan(plan)
    let budget = budgetMax
    const mode = planCohort()
    if (mode !== CohortPlan.None) {
      // 1a. the cohort, one decode token each
      if (mode === CohortPlan.First) kv.takeBlocks(cohort.crossers())
      const s = plan.shape
      plan.cohort = cohort.size
      s.numDecode += cohort.size
      s.decodeContextSum += cohort.contextSum()
      budget -= cohort.size
    }

    // 1. running requests (1b. the explicit ones)
    let i = 0
    while (i < explicit.length && budget > 0) {
      const r = explicit[i]!
      if (mode === CohortPlan.Interleaved && takeBefore[i]! > 0) kv.takeBlocks(takeBefore[i]!)
      let n = r.numTokens - r.numComputed
      if (spec > 0 && n === 1 && r.numOutput > 0) {
        // spec decode: the newest token plus d = min(k, tokens left - 1) drafts to verify
        const left = r.outputTokens - r.numOutput - 1
        n += left < spec ? left : spec
      }
      if (threshold > 0 && n > threshold) n = threshold
      if (n > budget) n = budget
      if (n <= 0) {
        i++
        continue
      }
      let ok = true
      while (!kv.allocate(r, r.numComputed + n)) {
        if (mode !== CohortPlan.None) throw new Error("vllm-v1: an allocation planned to fit failed")
        const victim = explicit.pop()!
        preempt(victim, now, onPreempt)
        plan.preempted++
        if (victim === r) {
          ok = false
          break
        }
      }
      if (!ok) break
      addToPlan(plan, r, n)
      if (maxLoras > 0) noteLora(r.lora)
      r.numComputed += n
      budget -= n
      i++
    }
    if (mode === CohortPlan.Interleaved) for (let k = i; k <= explicit.length; k++) if (takeBefore[k]! > 0) kv.takeBlocks(takeBefore[k]!)

    // 2. waiting requests (skipped on a step that preempted)
    if (plan.preempted === 0) {
      while (waiting.length > 0 && budget > 0) {
        if (running.length >= maxSeqs) break
        const r = waiting.peek()!
        if (maxLoras > 0) {
          // vLLM: a request whose adapter would make the step's adapters exceed max_loras is set
          // aside (skipped_waiting_requests) and admission goes on with the next
          if (loraFull(r.lora)) {
            skipped.push(waiting.popFront()!)
            loraSkips++
            continue
          }
          noteLora(r.lora)
        }
        if (r.swappedBlocks > 0) {
          // swapped out: its KV comes back from host memory, then it goes on where it stopped
          let n = r.numTokens - r.numComputed
          if (threshold > 0 && n > threshold) n = threshold
          if (n > budget) n = budget
          if (!kv.admit(r, 0, r.numComputed + n, -1)) break
          swap!.swapIn(r.swappedBlocks)
          r.swappedBlocks = 0
          waiting.popFront()
          running.push(r)
          r.status = RequestStatus.Running
          plan.admitted++
          addToPlan(plan, r, n)
          r.numComputed += n
          budget -= n
          continue
        }
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
    if (maxLoras > 0) {
      // the set-aside requests go back to the head of the queue, in their order
      for (let k = skipped.length - 1; k >= 0; k--) waiting.pushFront(skipped[k]!)
      skipped.length = 0
      stepLoraCount = 0
    }
  }

  const abort = (r: SimRequest): boolean => abortRequest(r, waiting, running, kv)

  return {
    name: "vllm-v1",
    decodeCohort: true,
    waiting,
    running,
    kv,
    enqueue: (r) => waiting.pushBack(r),
    adoptRunning: (r) => {
      running.push(r)
      r.status = RequestStatus.Running
    },
    schedule,
    swap,
    removeFinished: () => running.compact(),
    abort,
    hasWork: () => running.length > 0 || waiting.length > 0,
    get loraSkips() {
      return loraSkips
    }
  }
}

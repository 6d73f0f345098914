/**
 * `--scheduling-policy priority`: vLLM V1's priority policy (vllm/v1/core/sched/scheduler.py with
 * `SchedulingPolicy.PRIORITY`; vLLM docs, "--scheduling-policy: priority means requests are
 * handled based on given priority (lower value means earlier handling) and time of arrival
 * deciding any ties"):
 * - the waiting queue is a heap ordered by (priority, arrival at the engine, id);
 * - when a running request cannot get KV blocks, the running request with the largest
 *   (priority, arrival) is preempted (recompute), the first such in running order on a tie
 *   (Python's `max`), and goes back to the heap by its key;
 * - otherwise vLLM V1's walk (chunked prefill per --enable-chunked-prefill, the token budget,
 *   --max-num-seqs, no preemption on behalf of waiting requests).
 * Priorities come from the trace's `priority` field or the API body's; with --priority-levels N
 * every request's priority is instead drawn uniformly from 0..N-1 (see `drawPriority`).
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import type { SimRequest } from "../../domain/SimRequest.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler } from "./explicit.js"
import { OrderedQueue } from "./OrderedQueue.js"

/** Waiting order: lower priority value first, then earlier arrival at the engine, then id. */
export const byPriority = (a: SimRequest, b: SimRequest): number =>
  a.priority - b.priority || a.queuedNs - b.queuedNs || a.id - b.id

/** Index of vLLM's priority victim: max (priority, arrival), the first in running order on a tie. */
export const priorityVictim = (running: ReadonlyArray<SimRequest>): number => {
  let k = 0
  for (let i = 1; i < running.length; i++) {
    const r = running[i]!, m = running[k]!
    if (r.priority > m.priority || (r.priority === m.priority && r.queuedNs > m.queuedNs)) k = i
  }
  return k
}

/**
 * A request's priority under --priority-levels `levels`: uniform over 0..levels-1, a pure function
 * of (seed, request id) so every instance and every replay draws the same. The draw is the
 * splitmix32 / murmur3 fmix32 finaliser (Appleby's MurmurHash3 constants) over seed and id.
 */
export const drawPriority = (seed: number, id: number, levels: number): number => {
  let z = (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b9) + id) | 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z = (z ^ (z >>> 16)) >>> 0
  return Math.floor((z / 4294967296) * levels)
}

/** @param levels --priority-levels (0 = take each request's own priority) */
export const priorityPolicy = (e: EngineConfig, levels: number, seed: number): SchedulerPolicy => ({
  name: "priority",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "priority",
      waiting: new OrderedQueue(byPriority),
      decodeFirst: false,
      chunked: e.enableChunkedPrefill,
      wholeFirst: false,
      reserveFull: false,
      victim: priorityVictim,
      ...(levels > 0 ? { onEnqueue: (r: SimRequest) => { r.priority = drawPriority(seed, r.id, levels) } } : {})
    })
})

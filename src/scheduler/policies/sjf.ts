/**
 * `--scheduling-policy sjf`: shortest job first by prompt length. The waiting queue is ordered by
 * prompt tokens (then arrival at the engine, then id); a preempted request goes back by the same
 * key. Everything else is vLLM V1's FCFS walk (chunked prefill per --enable-chunked-prefill,
 * recompute preemption of the running tail). Non-preemptive towards running requests: a short
 * arrival only overtakes requests still waiting. Output lengths are not used (a real server does
 * not know them); the prompt length is what the engine sees at arrival.
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import type { SimRequest } from "../../domain/SimRequest.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler, tailVictim } from "./explicit.js"
import { OrderedQueue } from "./OrderedQueue.js"

/** Waiting order: fewer prompt tokens first, then earlier arrival at the engine, then id. */
export const byPromptLength = (a: SimRequest, b: SimRequest): number =>
  a.promptTokens - b.promptTokens || a.queuedNs - b.queuedNs || a.id - b.id

export const sjfPolicy = (e: EngineConfig): SchedulerPolicy => ({
  name: "sjf",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "sjf",
      waiting: new OrderedQueue(byPromptLength),
      decodeFirst: false,
      chunked: e.enableChunkedPrefill,
      wholeFirst: false,
      reserveFull: false,
      victim: tailVictim
    })
})

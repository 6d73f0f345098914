/**
 * `--scheduling-policy sarathi`: Sarathi-Serve's stall-free batching (Agrawal et al., "Taming
 * Throughput-Latency Tradeoff in LLM Inference with Sarathi-Serve", OSDI 2024, §4 and
 * Algorithm 2): every iteration has a fixed token budget (--max-num-batched-tokens, the paper's
 * chunk size); the running decodes are scheduled first, one token each, then the running
 * partial prefills, then new requests, each prefill chunked to what is left of the budget, so a
 * prompt never stalls the decodes. Prefill is always chunked (--enable-chunked-prefill is not
 * consulted; --long-prefill-token-threshold still caps one request's chunk). When KV blocks run
 * out the latest admitted running request is preempted (recompute), as Sarathi-Serve's vLLM-based
 * scheduler does; admission needs the whole prompt's blocks free with
 * --scheduler-reserve-full-isl (on by default), as its block manager's `can_allocate`.
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import { RequestQueue } from "../RequestQueue.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler, tailVictim } from "./explicit.js"

export const sarathiPolicy = (e: EngineConfig): SchedulerPolicy => ({
  name: "sarathi",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "sarathi",
      waiting: new RequestQueue(),
      decodeFirst: true,
      chunked: true,
      wholeFirst: false,
      reserveFull: false,
      victim: tailVictim
    })
})

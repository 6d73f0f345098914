/**
 * `--scheduling-policy vllm-v0`: vLLM V0's default scheduler (vllm/core/scheduler.py, as of
 * vLLM 0.6.0), the engine behind published vLLM 0.5/0.6 results:
 * - without chunked prefill (`--no-enable-chunked-prefill`, V0's default below a 32K context):
 *   `_schedule_default` admits waiting prompts first, first come first served, while their tokens
 *   fit --max-num-batched-tokens and fewer than --max-num-seqs run, each only when blocks for its
 *   whole prompt are free; a step that admitted any prompt computes those prompts alone, and the
 *   running decodes resume on the next step that admits nothing;
 * - with chunked prefill (`_schedule_chunked_prefill`): the running decodes first, then running
 *   prompt chunks, then new prompts chunked to what is left of the budget (as Sarathi-Serve).
 * When KV blocks run out the last running request is preempted by recompute
 * (`self.running.pop()`). Multi-step scheduling (--num-scheduler-steps) applies to its all-decode
 * steps (engine/Instance.ts). Not modelled: the block manager's watermark (1% of blocks kept free
 * at admission) and the swapped queue's priority over new prompts.
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import { RequestQueue } from "../RequestQueue.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler, tailVictim } from "./explicit.js"

export const vllmV0Policy = (e: EngineConfig): SchedulerPolicy => ({
  name: "vllm-v0",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "vllm-v0",
      waiting: new RequestQueue(),
      decodeFirst: e.enableChunkedPrefill,
      chunked: e.enableChunkedPrefill,
      prefillFirst: !e.enableChunkedPrefill,
      wholeFirst: false,
      reserveFull: false,
      victim: tailVictim
    })
})

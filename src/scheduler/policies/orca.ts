/**
 * `--scheduling-policy orca`: Orca's iteration-level scheduling (Yu et al., "Orca: A Distributed
 * Serving System for Transformer-Based Generative Models", OSDI 2022, §4.2 and Algorithm 1):
 * - requests join and leave the batch at every iteration, admitted first come first served while
 *   fewer than --max-num-seqs (Orca's max batch size) run;
 * - no chunked prefill: a request's whole prompt is computed in the iteration that admits it;
 * - KV slots for the request's maximum tokens (prompt + output) are reserved when it is admitted
 *   (Algorithm 1's `n_rsrv += max_tokens`), so a running request never runs out and nothing is
 *   ever preempted; a request whose reservation does not fit waits.
 * Orca has no per-iteration token budget; here --max-num-batched-tokens caps the prompt tokens an
 * iteration takes beyond its first prompt (which is always taken whole), so a burst of arrivals
 * is spread over iterations instead of becoming one arbitrarily large one.
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import { RequestQueue } from "../RequestQueue.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler, tailVictim } from "./explicit.js"

export const orcaPolicy = (e: EngineConfig): SchedulerPolicy => ({
  name: "orca",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "orca",
      waiting: new RequestQueue(),
      decodeFirst: false,
      chunked: false,
      wholeFirst: true,
      reserveFull: true,
      victim: tailVictim
    })
})

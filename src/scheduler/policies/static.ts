/**
 * `--scheduling-policy static`: request-level (static) batching as NVIDIA FasterTransformer serves
 * (and as the Orca paper's baseline, §2.2): a batch is formed only when the previous one has
 * completely finished; its requests are admitted together (first come first served, up to
 * --max-num-seqs, their whole prompts in the first iteration, KV reserved for prompt + output
 * tokens as FasterTransformer allocates its cache for the maximum sequence length), and it runs
 * until its last request finishes. Requests arriving meanwhile wait for the next batch.
 * The token budget does not bound a batch (--max-num-batched-tokens is not consulted): its size is
 * set by --max-num-seqs and the KV memory only, as FasterTransformer's batch size and cache are.
 * A finished request leaves the batch at once: the padded iterations FasterTransformer would still
 * compute for it until the longest request ends are not priced (a lower bound on its cost).
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import { RequestQueue } from "../RequestQueue.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import { makeExplicitScheduler, tailVictim } from "./explicit.js"

export const staticPolicy = (e: EngineConfig): SchedulerPolicy => ({
  name: "static",
  make: (kv) =>
    makeExplicitScheduler(e, kv, {
      name: "static",
      waiting: new RequestQueue(),
      decodeFirst: false,
      chunked: false,
      wholeFirst: true,
      reserveFull: true,
      victim: tailVictim,
      admitOpen: (running) => running.length === 0,
      budgetedAdmission: false
    })
})

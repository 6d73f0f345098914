/**
 * `--scheduling-policy static`: request-level (static) batching as NVIDIA FasterTransformer serves
 * (and as the Orca paper's baseline, §2.2): a batch is formed only when the previous one has
 * completely finished; its requests are admitted together (first come first served, up to
 * --max-num-seqs, their whole prompts in the first iteration, KV reserved for prompt + output
 * tokens as FasterTransformer allocates its cache for the maximum sequence length), and it runs
 * until its last request finishes. Requests arriving meanwhile wait for the next batch.
 * As for orca, --max-num-batched-tokens caps the prompt tokens of a batch beyond its first prompt.
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
      admitOpen: (running) => running.length === 0
    })
})

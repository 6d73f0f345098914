/**
 * `--scheduling-policy fcfs` (the default): vLLM V1's first-come-first-served scheduler, unchanged
 * (scheduler/vllmV1.ts). The only policy that holds decoders lazily in the decode cohort, so the
 * only one the engine fast-forwards.
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import type { SwapSpec } from "../SwapSpace.js"
import { makeVllmV1Scheduler } from "../vllmV1.js"

export const fcfsPolicy = (e: EngineConfig, swap?: SwapSpec): SchedulerPolicy => ({ name: "vllm-v1", make: (kv) => makeVllmV1Scheduler(e, kv, swap) })

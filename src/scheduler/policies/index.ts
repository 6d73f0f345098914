/**
 * `--scheduling-policy`: the named batching policies behind SchedulerService (one file each).
 */
import type { EngineConfig } from "../../domain/EngineConfig.js"
import type { SchedulerPolicy } from "../SchedulerService.js"
import type { SwapSpec } from "../SwapSpace.js"
import { fcfsPolicy } from "./fcfs.js"
import { orcaPolicy } from "./orca.js"
import { priorityPolicy } from "./priority.js"
import { sarathiPolicy } from "./sarathi.js"
import { sjfPolicy } from "./sjf.js"
import { staticPolicy } from "./static.js"
import { vllmV0Policy } from "./vllmV0.js"

export { SCHEDULING_POLICIES, type SchedulingPolicyName } from "../../domain/EngineConfig.js"

/**
 * The policy named by `e.schedulingPolicy` (absent: fcfs); `seed` seeds --priority-levels draws;
 * `swap` is --preemption-mode swap's host space (fcfs only: config/resolve.ts refuses it with the others).
 */
export const policyFor = (e: EngineConfig, seed: number, swap?: SwapSpec): SchedulerPolicy => {
  switch (e.schedulingPolicy ?? "fcfs") {
    case "fcfs":
      return fcfsPolicy(e, swap)
    case "priority":
      return priorityPolicy(e, e.priorityLevels ?? 0, seed)
    case "orca":
      return orcaPolicy(e)
    case "static":
      return staticPolicy(e)
    case "sarathi":
      return sarathiPolicy(e)
    case "sjf":
      return sjfPolicy(e)
    case "vllm-v0":
      return vllmV0Policy(e)
  }
}

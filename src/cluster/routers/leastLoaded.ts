/**
 * `least-loaded`: the candidate with the lowest waiting x 4 + running, lowest index on ties
 * (LLMServingSim 2.0's LOAD policy; the same score vLLM V1's data-parallel load balancer gives
 * an engine, waiting requests counted 4 times). Kept for compatibility with earlier runs.
 */
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import { pickMin } from "./pickMin.js"

export const leastLoadedRouter = (signals: LoadSignals): Router => (_r, candidates, nowNs) => {
  signals.read(candidates, nowNs)
  return pickMin(candidates.length, signals, (i) => signals.waiting[i]! * 4 + signals.running[i]!)
}

/**
 * `least-outstanding`: the candidate with the fewest outstanding requests (waiting + running),
 * lowest index on ties: join-the-shortest-queue, the least-outstanding-requests policy of load
 * balancers (e.g. AWS ALB's `least_outstanding_requests`) and llm-d's active-request counting.
 */
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import { pickMin } from "./pickMin.js"

export const leastOutstandingRouter = (signals: LoadSignals): Router => (_r, candidates, nowNs) => {
  signals.read(candidates, nowNs)
  return pickMin(candidates.length, signals, (i) => signals.waiting[i]! + signals.running[i]!)
}

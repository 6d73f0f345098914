/**
 * `least-kv`: the candidate with the lowest KV-cache usage (used blocks / total blocks, vLLM's
 * `kv_cache_usage`), ties by fewer outstanding requests, then lowest index (idle instances all
 * read 0 usage).
 */
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import { pickMin } from "./pickMin.js"

export const leastKvRouter = (signals: LoadSignals): Router => (_r, candidates, nowNs) => {
  signals.read(candidates, nowNs)
  return pickMin(candidates.length, signals, (i) => signals.kvUsage[i]!)
}

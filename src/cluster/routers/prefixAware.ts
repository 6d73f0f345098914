/**
 * `prefix-aware`: the candidate whose KV cache holds the longest prefix of the request's prompt
 * (vLLM production-stack router's `prefixaware`: longest prefix match), ties (including no hit
 * anywhere) by fewer outstanding requests, then at random from the router's seeded stream (with a
 * stale load signal a burst of arrivals sees equal loads: a lowest-index tie break would send the
 * whole burst, and then every request sharing its prefix, to one instance). Pure affinity: it does
 * not weigh load against hits, so a prefix shared by many requests concentrates them (see
 * `weighted`).
 *
 * The prefix lookup is exact and fresh (`KvCache.peekCachedPrefix`, no side effects), as llm-d's
 * precise-prefix-cache-scorer fed by vLLM's KV events, not an approximate router-side index of
 * past routing decisions; `--router-staleness-ms` delays only the outstanding-request tie break.
 * Cost per arrival: for each candidate, hash lookups up to the first miss (0 for requests without
 * known content).
 */
import type { Rng } from "../../workload/Rng.js"
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import { pickMin } from "./pickMin.js"

export const prefixAwareRouter = (signals: LoadSignals, rng: Rng): Router => {
  let hits = new Float64Array(8)
  return (r, candidates, nowNs) => {
    const n = candidates.length
    if (hits.length < n) hits = new Float64Array(2 * n)
    for (let i = 0; i < n; i++) hits[i] = r.content === undefined ? 0 : candidates[i]!.scheduler.kv.peekCachedPrefix(r)
    signals.read(candidates, nowNs)
    return pickMin(n, signals, (i) => -hits[i]!, rng)
  }
}

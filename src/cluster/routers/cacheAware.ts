/**
 * `cache-aware`: SGLang router's cache-aware load balancing (sgl-router / SGLang model gateway,
 * policy `cache_aware`), which switches between load balancing and prefix affinity:
 * 1. Imbalanced, when both (max - min) > `balanceAbs` and max > `balanceRel` x min over the
 *    candidates' outstanding requests (waiting + running; SGLang counts the requests it has in
 *    flight to each worker): the candidate with the fewest outstanding requests.
 * 2. Otherwise the candidate holding the longest cached prefix of the prompt, if that prefix is more
 *    than `cacheThreshold` of the prompt's tokens (SGLang: matched characters / request
 *    characters);
 * 3. else the candidate with the smallest "tree": the fewest prompt tokens routed to it so far that
 *    it did not already hold (SGLang's approximate radix tree grows by the unmatched part of each
 *    request routed to a worker; its size-capped LRU eviction, `max_tree_size` 67,108,864
 *    characters by default, is not modelled, so the tree here only grows).
 *
 * Defaults are the gateway's: cache_threshold 0.3, balance_abs_threshold 64, balance_rel_threshold
 * 1.5 (sgl-model-gateway CLI defaults and `PolicyConfig::CacheAware` in its launcher; older
 * sglang-router releases used 0.5 / 32 / 1.0001).
 *
 * Unlike `prefix-aware` (pure affinity), a prefix that every request shares but that is a small
 * part of each prompt (a system prompt; every Mooncake request's first hash block) does not pull all
 * traffic to the first instance that cached it. The prefix lookup is the same exact, side-effect
 * free `peekCachedPrefix` as `prefix-aware`'s (SGLang's tree is an approximation of it, built from
 * routing decisions). Ties: fewer outstanding requests, then at random from the router's seeded
 * stream. Cost per arrival: O(candidates) plus the prefix lookups.
 */
import type { Rng } from "../../workload/Rng.js"
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import type { CacheAwareThresholds } from "../RouterSpec.js"
import { pickMin } from "./pickMin.js"

export const cacheAwareRouter = (signals: LoadSignals, t: CacheAwareThresholds, rng: Rng): Router => {
  let hits = new Float64Array(8)
  // tokens in each instance's "tree", by instance id
  let tree = new Float64Array(8)
  return (r, candidates, nowNs) => {
    const n = candidates.length
    signals.read(candidates, nowNs)
    if (hits.length < n) hits = new Float64Array(2 * n)
    let minLoad = Infinity
    let maxLoad = -Infinity
    let bestHit = 0
    for (let i = 0; i < n; i++) {
      const load = signals.waiting[i]! + signals.running[i]!
      if (load < minLoad) minLoad = load
      if (load > maxLoad) maxLoad = load
      const h = r.content === undefined ? 0 : candidates[i]!.scheduler.kv.peekCachedPrefix(r)
      hits[i] = h
      if (h > bestHit) bestHit = h
      const id = candidates[i]!.id
      if (id >= tree.length) {
        const g = new Float64Array(Math.max(id + 1, 2 * tree.length))
        g.set(tree)
        tree = g
      }
    }
    let pick: number
    if (maxLoad - minLoad > t.balanceAbs && maxLoad > t.balanceRel * minLoad) {
      pick = pickMin(n, signals, (i) => signals.waiting[i]! + signals.running[i]!, rng)
    } else if (r.promptTokens > 0 && bestHit / r.promptTokens > t.cacheThreshold) {
      pick = pickMin(n, signals, (i) => -hits[i]!, rng)
    } else {
      pick = pickMin(n, signals, (i) => tree[candidates[i]!.id]!, rng)
    }
    const id = candidates[pick]!.id
    tree[id] = tree[id]! + Math.max(0, r.promptTokens - hits[pick]!)
    return pick
  }
}

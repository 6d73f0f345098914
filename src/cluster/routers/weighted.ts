/**
 * `weighted`: llm-d inference scheduler's scoring (EPP scheduling profile: scorers -> weighted sum
 * -> max-score picker), with its three default scorers, each a score in [0, 1], higher better:
 * - queue (llm-d `queue-scorer`): (maxQ - q) / (maxQ - minQ) over the candidates' waiting-queue
 *   lengths q; 1 for every candidate when all queues are equal.
 * - kv (llm-d `kv-cache-utilization-scorer`): 1 - KV-cache usage.
 * - prefix (llm-d `prefix-cache-scorer`): the fraction of the prompt's blocks found cached on the
 *   candidate (here prompt tokens hit / prompt tokens; exact lookup, see prefixAware.ts).
 * total = wQueue x queue + wKv x kv + wPrefix x prefix; the highest total wins, ties drawn
 * uniformly at random from the router's seeded stream (llm-d's max-score picker picks among
 * equal scores at random). Default weights 2/2/3 as llm-d's default profile (RouterSpec.ts).
 * Sources: the scorers' READMEs in llm-d/llm-d-inference-scheduler
 * (pkg/epp/framework/plugins/scheduling/scorer/{queuedepth,kvcacheutilization,prefix}).
 */
import type { Rng } from "../../workload/Rng.js"
import type { LoadSignals } from "../LoadSignals.js"
import type { Router } from "../Router.js"
import type { RouterWeights } from "../RouterSpec.js"

export const weightedRouter = (signals: LoadSignals, w: RouterWeights, rng: Rng): Router => {
  let hits = new Float64Array(8)
  return (r, candidates, nowNs) => {
    const n = candidates.length
    signals.read(candidates, nowNs)
    let minQ = Infinity
    let maxQ = -Infinity
    for (let i = 0; i < n; i++) {
      const q = signals.waiting[i]!
      if (q < minQ) minQ = q
      if (q > maxQ) maxQ = q
    }
    if (hits.length < n) hits = new Float64Array(2 * n)
    const usePrefix = w.prefix > 0 && r.content !== undefined && r.promptTokens > 0
    for (let i = 0; i < n; i++) hits[i] = usePrefix ? candidates[i]!.scheduler.kv.peekCachedPrefix(r) / r.promptTokens : 0
    let best = 0
    let bestScore = -Infinity
    let ties = 0
    for (let i = 0; i < n; i++) {
      const queue = maxQ === minQ ? 1 : (maxQ - signals.waiting[i]!) / (maxQ - minQ)
      const kv = 1 - signals.kvUsage[i]!
      const score = w.queue * queue + w.kv * kv + w.prefix * hits[i]!
      if (score > bestScore) {
        best = i
        bestScore = score
        ties = 1
      } else if (score === bestScore) {
        // reservoir choice among the tied maxima: each ends up chosen with probability 1 / ties
        ties++
        if (rng.int(1, ties) === 1) best = i
      }
    }
    return best
  }
}

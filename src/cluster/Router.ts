/**
 * Router: picks the instance (replica) of one pool that an arriving request goes to. It runs once
 * per arrival, sees the request (its prompt content, for prefix-aware policies), the candidate
 * instances of the pool and the simulated time, and returns an index into `candidates`. How the
 * candidates are chosen (which pool, prefill or decode) is the caller's business.
 *
 * Policies (names as vLLM's production-stack router and llm-d's inference scheduler use them,
 * where they exist) live one per file in ./routers; `RouterSpec.ts` parses the flags. Every
 * policy is O(candidates) per arrival (prefix lookups: O(prompt blocks) per candidate) and none
 * does any work per engine step.
 */
import { InvalidOption } from "../domain/errors.js"
import type { SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import { Rng } from "../workload/Rng.js"
import { LoadSignals } from "./LoadSignals.js"
import { cacheAwareRouter } from "./routers/cacheAware.js"
import { leastKvRouter } from "./routers/leastKv.js"
import { leastLoadedRouter } from "./routers/leastLoaded.js"
import { leastOutstandingRouter } from "./routers/leastOutstanding.js"
import { prefixAwareRouter } from "./routers/prefixAware.js"
import { randomRouter } from "./routers/random.js"
import { roundRobinRouter } from "./routers/roundRobin.js"
import { weightedRouter } from "./routers/weighted.js"
import { checkRouterSpec, type RouterPolicy, type RouterSpec, toRouterSpec } from "./RouterSpec.js"

/**
 * What a router reads of a candidate: an instance, or a pipeline-parallel replica (its virtual
 * engines' sums; cluster/pipeline.ts `Replica`). `id` keys the stale-signal samples.
 */
export interface Routable {
  readonly id: number
  readonly scheduler: {
    readonly waiting: { readonly length: number }
    readonly running: { readonly length: number }
    readonly kv: Pick<KvCache, "usedBlocks" | "numBlocks" | "peekCachedPrefix">
  }
}

/** Index into `candidates` (0 .. candidates.length - 1) of the instance `r` goes to. */
export type Router = (r: SimRequest, candidates: ReadonlyArray<Routable>, nowNs: number) => number

/**
 * Salt mixed into the run's seed for the router's own random stream, so its draws are not the
 * workload generator's (which is seeded with the same `--seed`).
 */
const ROUTER_SEED_SALT = 0x726f7574

/**
 * Build a router. `seed` is the run's `--seed` (the `random` policy and the `weighted` policy's
 * tie breaks draw from a stream derived from it). Throws on an invalid spec (a bug: specs from
 * the CLI were checked by `routerSpec`).
 */
export const makeRouter = (choice: RouterPolicy | RouterSpec, seed: number): Router => {
  const spec = checkRouterSpec(toRouterSpec(choice))
  if (spec instanceof InvalidOption) throw new Error(spec.message)
  const rng = () => new Rng((seed ^ ROUTER_SEED_SALT) >>> 0)
  const signals = () => new LoadSignals(spec.stalenessMs * 1e6)
  switch (spec.policy) {
    case "round-robin":
      return roundRobinRouter()
    case "random":
      return randomRouter(rng())
    case "least-outstanding":
      return leastOutstandingRouter(signals())
    case "least-loaded":
      return leastLoadedRouter(signals())
    case "least-kv":
      return leastKvRouter(signals())
    case "prefix-aware":
      return prefixAwareRouter(signals(), rng())
    case "cache-aware":
      return cacheAwareRouter(signals(), spec.cacheAware, rng())
    case "weighted":
      return weightedRouter(signals(), spec.weights, rng())
  }
}

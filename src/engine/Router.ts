/**
 * Router: picks the instance an arriving request goes to. With one instance it is trivial; with
 * several, `round-robin` cycles and `least-loaded` picks the instance with the fewest
 * waiting x 4 + running requests (LLMServingSim 2.0's LOAD policy), lowest index on ties.
 */
import type { SimRequest } from "../domain/SimRequest.js"
import type { Instance } from "./Instance.js"

export const ROUTER_POLICIES = ["round-robin", "least-loaded"] as const
export type RouterPolicy = typeof ROUTER_POLICIES[number]

/** Index into `candidates` of the instance that gets `r`, arriving at `nowNs`. */
export type Router = (r: SimRequest, candidates: ReadonlyArray<Instance>, nowNs: number) => number

export const makeRouter = (policy: RouterPolicy): Router => {
  if (policy === "least-loaded") {
    return (_r, instances) => {
      let best = 0
      let bestLoad = Infinity
      for (let i = 0; i < instances.length; i++) {
        const s = instances[i]!.scheduler
        const load = s.waiting.length * 4 + s.running.length
        if (load < bestLoad) {
          best = i
          bestLoad = load
        }
      }
      return best
    }
  }
  let next = 0
  return (_r, instances) => {
    const i = next % instances.length
    next = i + 1
    return i
  }
}

/**
 * Router: picks the instance an arriving request goes to. With one instance it is trivial; with
 * several, `round-robin` cycles and `least-loaded` picks the instance with the fewest
 * waiting x 4 + running requests (LLMServingSim 2.0's LOAD policy), lowest index on ties.
 */

export type RouterPolicy = "round-robin" | "least-loaded"

/** What a router reads of an instance (or of a pipeline-parallel replica: its virtual engines' sums). */
export interface Routable {
  readonly scheduler: { readonly waiting: { readonly length: number }; readonly running: { readonly length: number } }
}

export type Router = (instances: ReadonlyArray<Routable>) => number

export const makeRouter = (policy: RouterPolicy): Router => {
  if (policy === "least-loaded") {
    return (instances) => {
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
  return (instances) => {
    const i = next % instances.length
    next = i + 1
    return i
  }
}

/**
 * `round-robin`: candidates in turn (vLLM production-stack router's `roundrobin`; the simulator's
 * default). One counter per router, taken modulo the number of candidates.
 */
import type { Router } from "../Router.js"

export const roundRobinRouter = (): Router => {
  let next = 0
  return (_r, candidates) => {
    const i = next % candidates.length
    next = i + 1
    return i
  }
}

/**
 * The candidate with the lowest `key`, ties broken by fewer outstanding (waiting + running)
 * requests, then by the lowest index (deterministic), or, given `rng`, uniformly at random among
 * the candidates still tied. Reads the signals of the last `LoadSignals.read`.
 */
import type { Rng } from "../../workload/Rng.js"
import type { LoadSignals } from "../LoadSignals.js"

export const pickMin = (n: number, s: LoadSignals, key: (i: number) => number, rng?: Rng): number => {
  let best = 0
  let bestKey = Infinity
  let bestOut = Infinity
  let ties = 0
  for (let i = 0; i < n; i++) {
    const k = key(i)
    const out = s.waiting[i]! + s.running[i]!
    if (k < bestKey || (k === bestKey && out < bestOut)) {
      best = i
      bestKey = k
      bestOut = out
      ties = 1
    } else if (rng !== undefined && k === bestKey && out === bestOut) {
      // reservoir choice: each tied candidate ends up chosen with probability 1 / ties
      ties++
      if (rng.int(1, ties) === 1) best = i
    }
  }
  return best
}

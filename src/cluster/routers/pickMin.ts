/**
 * The candidate with the lowest `key`, ties broken by fewer outstanding (waiting + running)
 * requests, then by the lowest index (deterministic). Reads the signals of the last
 * `LoadSignals.read`.
 */
import type { LoadSignals } from "../LoadSignals.js"

export const pickMin = (n: number, s: LoadSignals, key: (i: number) => number): number => {
  let best = 0
  let bestKey = Infinity
  let bestOut = Infinity
  for (let i = 0; i < n; i++) {
    const k = key(i)
    const out = s.waiting[i]! + s.running[i]!
    if (k < bestKey || (k === bestKey && out < bestOut)) {
      best = i
      bestKey = k
      bestOut = out
    }
  }
  return best
}

/**
 * The Pareto front of a set of configurations over two "higher is better" axes, as vLLM's
 * `bench sweep plot_pareto` draws it (output tokens/s per user against output tokens/s per GPU):
 * a point is on the front when no other point is at least as good on both axes and strictly better
 * on one. Points with a non-finite coordinate are left out. O(n log n).
 */

/**
 * The items on the Pareto front of `items` when both `x` and `y` are maximised, sorted by `x`
 * ascending (so `y` descends along the front). Of several identical points the first is kept.
 */
export const paretoFront = <A>(
  items: ReadonlyArray<A>,
  x: (a: A) => number,
  y: (a: A) => number
): Array<A> => {
  const points = items
    .map((item, index) => ({ item, index, x: x(item), y: y(item) }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
    .sort((a, b) => b.x - a.x || b.y - a.y || a.index - b.index)
  const front: Array<A> = []
  let bestY = -Infinity
  for (const p of points) {
    if (p.y > bestY) {
      front.push(p.item)
      bestY = p.y
    }
  }
  return front.reverse()
}

/** Whether `a` dominates `b`: at least as good on both axes, strictly better on one. */
export const dominates = (ax: number, ay: number, bx: number, by: number): boolean =>
  ax >= bx && ay >= by && (ax > bx || ay > by)

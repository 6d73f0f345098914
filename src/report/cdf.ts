/**
 * Quantiles and empirical CDFs of per-request samples for the report. Quantiles interpolate
 * linearly between order statistics (NumPy's default `percentile`, which vLLM's bench uses for its
 * p50/p90/p99), so the per-instance table agrees with summary.json's definition.
 */

/** The finite values of `xs`, sorted ascending. */
export const sortedFinite = (xs: Iterable<number>): Float64Array => {
  const out: Array<number> = []
  for (const x of xs) if (Number.isFinite(x)) out.push(x)
  return Float64Array.from(out).sort()
}

/** The `q` quantile (0..1) of ascending `sorted`, linear interpolation; NaN when empty. */
export const quantile = (sorted: ArrayLike<number>, q: number): number => {
  const n = sorted.length
  if (n === 0) return NaN
  const h = (n - 1) * Math.min(1, Math.max(0, q))
  const lo = Math.floor(h)
  const hi = Math.min(n - 1, lo + 1)
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!)
}

/** The mean of `xs` (NaN when empty). */
export const mean = (xs: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]!
  return xs.length === 0 ? NaN : s / xs.length
}

/** One point of an empirical CDF: P(X <= value) = p. */
export interface CdfPoint {
  readonly value: number
  readonly p: number
}

/**
 * The empirical CDF of ascending `sorted` as at most `maxPoints` + 1 points (the exact step
 * function when there are fewer samples): at n samples the i-th order statistic has p = i/n; above
 * that, the order statistics at evenly spaced p plus the tail (p >= 0.99) at every 0.1 %, and the
 * minimum and maximum, so the figure stays small without losing the tail a p99 reader looks at.
 */
export const cdfPoints = (sorted: ArrayLike<number>, maxPoints = 200): Array<CdfPoint> => {
  const n = sorted.length
  if (n === 0) return []
  if (n <= maxPoints) return Array.from({ length: n }, (_, i) => ({ value: sorted[i]!, p: (i + 1) / n }))
  const ps = new Set<number>()
  for (let k = 1; k <= maxPoints; k++) ps.add(k / maxPoints)
  for (let k = 990; k <= 1000; k++) ps.add(k / 1000)
  const out: Array<CdfPoint> = [{ value: sorted[0]!, p: 1 / n }]
  for (const p of [...ps].sort((a, b) => a - b)) {
    const i = Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))
    out.push({ value: sorted[i]!, p: (i + 1) / n })
  }
  return out
}

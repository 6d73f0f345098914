/**
 * Two-sample Kolmogorov–Smirnov test, as LLMServingSim 2.0's `bench validate` reports it
 * (casys-kaist/LLMServingSim, bench/core/stats.py `ks_2samp`, commit 030c1bc).
 *
 * Statistic: D = sup_x |F1(x) - F2(x)|, the largest gap between the two empirical CDFs. It is
 * exact: both samples are sorted (O(n log n)) and merged; at every distinct value of the pooled
 * sample both CDFs step past all samples <= that value before the gap is taken, so ties inside and
 * across the samples count as they should (the sup is reached just after a jump).
 *
 * p-value (asymptotic): P(D >= d) under "same distribution" ~ Q_KS(lambda), with
 *   n_e = n1 n2 / (n1 + n2),  lambda = (sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) d
 * (Stephens' small-sample correction, as in Numerical Recipes' `probks`/`kstwo` and in
 * LLMServingSim's `ks_2samp`) and the Kolmogorov distribution's tail
 *   Q_KS(lambda) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2)                        (1)
 *               = 1 - (sqrt(2 pi) / lambda) sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 lambda^2))  (2)
 * (Kolmogorov 1933; (2) is the Jacobi-theta form of the same function, which converges in a few
 * terms where (1) converges slowly: we use (2) for lambda < 1.18 and (1) above, as e.g. Marsaglia,
 * Tsang and Wang 2003 and scipy's `kolmogorov` do). A *small* p means the distributions differ.
 * Where LLMServingSim's 100-term series (1) converges, the two agree to 1e-12.
 */

export interface KsResult {
  /** sup |F1 - F2| over the pooled sample, in [0, 1]. */
  readonly d: number
  /** Asymptotic P(D >= d) if both samples came from one distribution. */
  readonly pValue: number
  readonly n1: number
  readonly n2: number
}

/** Q_KS(lambda) = P(K > lambda) for the Kolmogorov distribution K (see the module comment). */
export const kolmogorovQ = (lambda: number): number => {
  if (!(lambda > 0)) return 1
  if (lambda < 1.18) {
    // (2): terms fall as exp(-pi^2 (2k-1)^2 / (8 lambda^2)); k <= 6 is below 1e-17 relative for lambda < 1.18
    const w = (Math.PI * Math.PI) / (8 * lambda * lambda)
    let s = 0
    for (let k = 1; k <= 20; k++) {
      const term = Math.exp(-w * (2 * k - 1) * (2 * k - 1))
      s += term
      if (term < 1e-17 * s) break
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / lambda) * s))
  }
  // (1): for lambda >= 1.18 the terms fall as exp(-2.78 k^2), a handful suffice
  let s = 0
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda)
    s += k % 2 === 1 ? term : -term
    if (term < 1e-17) break
  }
  return Math.min(1, Math.max(0, 2 * s))
}

const sortedCopy = (xs: ArrayLike<number>): Float64Array => Float64Array.from(xs).sort()

/**
 * Two-sample KS statistic and asymptotic p-value. Samples need not be sorted (they are copied).
 * Fewer than 2 values on either side: NaN for both (as LLMServingSim).
 */
export const ksTwoSample = (a: ArrayLike<number>, b: ArrayLike<number>): KsResult => {
  const n1 = a.length
  const n2 = b.length
  if (n1 < 2 || n2 < 2) return { d: NaN, pValue: NaN, n1, n2 }
  const xa = sortedCopy(a)
  const xb = sortedCopy(b)
  let i = 0
  let j = 0
  let d = 0
  while (i < n1 && j < n2) {
    const x = Math.min(xa[i]!, xb[j]!)
    while (i < n1 && xa[i]! <= x) i++
    while (j < n2 && xb[j]! <= x) j++
    const gap = Math.abs(i / n1 - j / n2)
    if (gap > d) d = gap
  }
  // once one side is exhausted its CDF is 1 and the other's only rises towards 1: no larger gap
  const sq = Math.sqrt((n1 * n2) / (n1 + n2))
  return { d, pValue: kolmogorovQ((sq + 0.12 + 0.11 / sq) * d), n1, n2 }
}

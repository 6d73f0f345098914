/**
 * TOST equivalence of a simulated mean to a measured one within ±margin of the measured mean, as
 * LLMServingSim 2.0's `bench validate` publishes it (casys-kaist/LLMServingSim,
 * bench/core/stats.py `tost`, commit 030c1bc; `--equiv-margin`, default 0.10):
 *
 *   diff = mean(sim) - mean(meas),   delta = margin x |mean(meas)|
 *   se   = sqrt(s_meas^2 / n_meas + s_sim^2 / n_sim)        (Welch; s^2 the n-1 sample variance)
 *   H0_lower: diff <= -delta   t_lower = (diff + delta) / se,  p_lower = P(T >= t_lower)
 *   H0_upper: diff >= +delta   t_upper = (diff - delta) / se,  p_upper = P(T <= t_upper)
 *   p = max(p_lower, p_upper);  equivalent  <=>  p < alpha (0.05)
 *
 * i.e. Schuirmann's two one-sided tests (Schuirmann 1987, J. Pharmacokinet. Biopharm. 15:657) on
 * the unpaired mean difference with the equivalence bounds ±10% of the measured mean; equivalently
 * the 1 - 2 alpha (90%) confidence interval of diff lies inside (-delta, +delta).
 *
 * One deliberate difference: LLMServingSim takes the normal distribution for T; we take Student's t
 * with the Welch–Satterthwaite degrees of freedom
 *   df = (v1 + v2)^2 / (v1^2 / (n1 - 1) + v2^2 / (n2 - 1)),  v_i = s_i^2 / n_i
 * (Welch 1947, Satterthwaite 1946), the usual form of the unpaired TOST (R's TOSTER `t_TOST` and
 * `equivalence::tost` with var.equal = FALSE). At validation sample sizes (df in the hundreds) the two
 * p-values agree to about 1e-3; with few requests the t form is the honest one.
 *
 * se = 0 (both samples constant): p = 0 when |diff| < delta, else 1 (as LLMServingSim).
 * Fewer than 2 values on either side: NaN, not equivalent.
 */
import { tCdf, tQuantile } from "./studentT.js"

export const DEFAULT_EQUIVALENCE_MARGIN = 0.1
export const DEFAULT_ALPHA = 0.05

export interface Moments {
  readonly n: number
  readonly mean: number
  /** Sample variance (n - 1 denominator). */
  readonly variance: number
}

export const momentsOf = (xs: ArrayLike<number>): Moments => {
  const n = xs.length
  if (n === 0) return { n, mean: NaN, variance: NaN }
  let s = 0
  for (let i = 0; i < n; i++) s += xs[i]!
  const mean = s / n
  let q = 0
  for (let i = 0; i < n; i++) q += (xs[i]! - mean) ** 2
  return { n, mean, variance: n > 1 ? q / (n - 1) : NaN }
}

export interface TostResult {
  /** Equivalence band as a fraction of the measured mean (0.1 = ±10%). */
  readonly margin: number
  readonly alpha: number
  /** (mean(sim) - mean(meas)) / mean(meas). */
  readonly relDiff: number
  /** mean(sim) - mean(meas), in the samples' unit. */
  readonly diff: number
  /** margin x |mean(meas)|, same unit. */
  readonly delta: number
  /** Welch standard error of diff. */
  readonly se: number
  /** Welch–Satterthwaite degrees of freedom. */
  readonly df: number
  readonly tLower: number
  readonly tUpper: number
  readonly pLower: number
  readonly pUpper: number
  /** max(pLower, pUpper). */
  readonly p: number
  /** The 1 - 2 alpha confidence interval of diff / mean(meas) (90% for alpha 0.05). */
  readonly ciRel: readonly [number, number]
  readonly equivalent: boolean
}

/** TOST of `sim`'s mean against `meas`'s within ±margin x |mean(meas)| (see the module comment). */
export const tostWelch = (
  meas: Moments,
  sim: Moments,
  margin: number = DEFAULT_EQUIVALENCE_MARGIN,
  alpha: number = DEFAULT_ALPHA
): TostResult => {
  const diff = sim.mean - meas.mean
  const relDiff = meas.mean === 0 ? NaN : diff / meas.mean
  const delta = Math.abs(meas.mean) * margin
  const nan = { margin, alpha, relDiff, diff, delta, se: NaN, df: NaN, tLower: NaN, tUpper: NaN, pLower: NaN, pUpper: NaN, p: NaN, ciRel: [NaN, NaN] as const, equivalent: false }
  if (meas.n < 2 || sim.n < 2) return nan
  const v1 = meas.variance / meas.n
  const v2 = sim.variance / sim.n
  const se = Math.sqrt(v1 + v2)
  if (se === 0) {
    const inside = Math.abs(diff) < delta
    const p = inside ? 0 : 1
    return { ...nan, se, df: Infinity, pLower: p, pUpper: p, p, ciRel: [relDiff, relDiff], equivalent: inside }
  }
  const df = (v1 + v2) ** 2 / (v1 * v1 / (meas.n - 1) + v2 * v2 / (sim.n - 1))
  const tLower = (diff + delta) / se
  const tUpper = (diff - delta) / se
  const pLower = tCdf(-tLower, df) // P(T >= tLower)
  const pUpper = tCdf(tUpper, df)
  const p = Math.max(pLower, pUpper)
  const half = tQuantile(1 - alpha, df) * se
  const scale = meas.mean === 0 ? NaN : 1 / meas.mean
  return { margin, alpha, relDiff, diff, delta, se, df, tLower, tUpper, pLower, pUpper, p, ciRel: [(diff - half) * scale, (diff + half) * scale], equivalent: p < alpha }
}

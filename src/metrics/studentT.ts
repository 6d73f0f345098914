/**
 * Student's t distribution: CDF and quantile, from jStat (npm `jstat` 1.9.6, MIT, one package with
 * no dependencies). jStat computes the CDF as the regularized incomplete beta function
 *   P(T <= t) = I_x(nu/2, nu/2),  x = (t + sqrt(t^2 + nu)) / (2 sqrt(t^2 + nu))
 * evaluated by the modified Lentz continued fraction (Numerical Recipes 6.4 `betacf`). We take the
 * lower tail P(T <= t) for t <= 0 only and reflect (P(T <= t) = 1 - P(T <= -t)), so small tail
 * probabilities do not lose digits to 1 - (1 - p). Beyond nu = 1e7 jStat's log-gamma terms cancel
 * (its CDF drifts by 1e-6 at nu = 1e10), while t and normal differ by < 1e-8: we use the normal. Checked against printed t
 * tables (test/metrics/stats.test.ts). (The @stdlib t-CDF was considered: same algorithm family,
 * but 214 packages.)
 */
import jStat from "jstat"

/** Standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2. */
const normalCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2)

/**
 * erfc(x): the Maclaurin series of erf for |x| < 2 (Abramowitz & Stegun 7.1.5) and the Laplace
 * continued fraction beyond (A&S 7.1.14, evaluated by modified Lentz), both to ~1e-15 relative.
 */
const erfc = (x: number): number => {
  if (x < 0) return 2 - erfc(-x)
  if (x < 2) {
    // erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = x
    let sum = x
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n
      const t = term / (2 * n + 1)
      sum += t
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz)
  const tiny = 1e-300
  let f = x
  let c = x
  let d = 0
  for (let n = 1; n < 500; n++) {
    const an = n / 2
    d = x + an * d
    d = Math.abs(d) < tiny ? tiny : d
    c = x + an / c
    c = Math.abs(c) < tiny ? tiny : c
    d = 1 / d
    const delta = c * d
    f *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f)
}

/** P(T <= t) for T ~ Student's t with `df` > 0 degrees of freedom (df = Infinity: the normal). */
export const tCdf = (t: number, df: number): number => {
  if (Number.isNaN(t) || !(df > 0)) return NaN
  if (t === Infinity) return 1
  if (t === -Infinity) return 0
  if (df > 1e7) return normalCdf(t)
  if (t > 0) return 1 - tCdf(-t, df)
  return Math.min(0.5, Math.max(0, jStat.studentt.cdf(t, df)))
}

/** The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1). */
export const tQuantile = (p: number, df: number): number => {
  if (!(p > 0 && p < 1) || !(df > 0)) return NaN
  return jStat.studentt.inv(p, Math.min(df, 1e7))
}

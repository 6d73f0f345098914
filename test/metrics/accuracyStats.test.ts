import { describe, expect, it } from "@effect/vitest"
import { kolmogorovQ, ksTwoSample } from "../../src/metrics/ks.js"
import { tCdf, tQuantile } from "../../src/metrics/studentT.js"
import { momentsOf, tostWelch } from "../../src/metrics/tost.js"

describe("two-sample Kolmogorov–Smirnov", () => {
  it("pins D and the p-value on two small hand-made samples", () => {
    // a = [1, 2, 3, 4], b = [3, 5, 6, 7] (given out of order; 3 is a tie across the samples).
    // Pooled distinct values and the two ECDFs just after each (F_a, F_b, |gap|):
    //   x=1: 1/4, 0/4, 0.25    x=2: 2/4, 0/4, 0.50    x=3: 3/4, 1/4, 0.50 (both step at the tie)
    //   x=4: 4/4, 1/4, 0.75    x=5: 1, 2/4, 0.50      x=6: 1, 3/4, 0.25    x=7: 1, 1, 0
    // D = 0.75. n_e = 4*4/8 = 2, sqrt(n_e) = 1.4142136;
    // lambda = (1.4142136 + 0.12 + 0.11/1.4142136) * 0.75 = 1.6119953 * 0.75 = 1.2089965 (>= 1.18: series (1))
    // lambda^2 = 1.4616725; Q = 2 (e^-2.9233450 - e^-11.693380 + e^-26.310052 - ...)
    //   = 2 (0.05375358 - 0.00000835 + 0.000000000004) = 0.1074905
    const r = ksTwoSample([4, 2, 1, 3], [7, 3, 6, 5])
    expect(r.d).toBe(0.75)
    expect(r.n1).toBe(4)
    expect(r.n2).toBe(4)
    expect(r.pValue).toBeCloseTo(0.1074905, 6)

    // a = [1, 3, 5, 7, 9], b = [2, 4, 6, 8, 10]: the gap alternates 0.2, 0 -> D = 0.2.
    // n_e = 2.5, sqrt = 1.5811388; lambda = (1.5811388 + 0.12 + 0.0695701) * 0.2 = 0.3541418 (< 1.18: form (2))
    // w = pi^2 / (8 lambda^2) = 9.8696044 / 1.0033252 = 9.8368953;
    // Q = 1 - sqrt(2 pi)/lambda * (e^-w + e^-9w + ...) = 1 - 7.0781 * 5.3437e-5 = 0.9996218
    const s = ksTwoSample([1, 3, 5, 7, 9], [2, 4, 6, 8, 10])
    expect(s.d).toBeCloseTo(0.2, 12)
    expect(s.pValue).toBeCloseTo(0.9996218, 6)
  })

  it("identical samples: D = 0, p = 1; disjoint: D = 1; both forms of Q agree where they meet", () => {
    const xs = [5, 1, 4, 2, 3, 3]
    expect(ksTwoSample(xs, [...xs])).toMatchObject({ d: 0, pValue: 1 })
    const far = ksTwoSample([1, 2, 3], [10, 11, 12, 13])
    expect(far.d).toBe(1)
    expect(far.pValue).toBeLessThan(0.05)
    // Kolmogorov distribution table: Q(1.0) = 0.2700; the critical values 1.3581 (alpha 0.05) and 1.6276 (0.01)
    expect(kolmogorovQ(1.0)).toBeCloseTo(0.27, 4)
    expect(kolmogorovQ(1.3581)).toBeCloseTo(0.05, 4)
    expect(kolmogorovQ(1.6276)).toBeCloseTo(0.01, 4)
    const series = (l: number) => { let q = 0; for (let k = 1; k < 200; k++) q += (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * l * l); return 2 * q }
    for (const l of [0.6, 1.0, 1.17, 1.19, 1.5]) expect(kolmogorovQ(l)).toBeCloseTo(series(l), 12)
    expect(kolmogorovQ(0)).toBe(1)
    expect(ksTwoSample([1], [1, 2]).d).toBeNaN()
  })
})

describe("Student's t CDF (jStat) against printed tables", () => {
  it("matches t-table critical values", () => {
    // [t, df, P(T <= t)] from a standard two-sided t table (upper-tail 0.05, 0.025, 0.005, 0.01)
    const rows: Array<[number, number, number]> = [
      [6.313752, 1, 0.95], [12.706205, 1, 0.975], [2.919986, 2, 0.95], [2.228139, 10, 0.975],
      [1.697261, 30, 0.95], [2.749996, 30, 0.995], [-3.364930, 5, 0.01], [1.983972, 100, 0.975],
      [1.959964, 1e9, 0.975], [-2.326348, 1e12, 0.01]
    ]
    for (const [t, df, p] of rows) expect(tCdf(t, df), `t=${t} df=${df}`).toBeCloseTo(p, 6)
    // closed forms: df = 1 (Cauchy) 1/2 + atan(t)/pi; df = 2: 1/2 + t / (2 sqrt(2 + t^2))
    for (const t of [-30, -3, -0.5, 0, 0.7, 4]) {
      expect(tCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 8)
      expect(tCdf(t, 2)).toBeCloseTo(0.5 + t / (2 * Math.sqrt(2 + t * t)), 8)
    }
    // a far tail keeps its digits (no 1 - (1 - p))
    expect(tCdf(-40, 3) / (1 - tCdf(40, 3))).toBeCloseTo(1, 6)
    expect(tCdf(-40, 3)).toBeGreaterThan(1e-6)
    expect(tQuantile(0.975, 10)).toBeCloseTo(2.228139, 5)
    expect(tQuantile(0.95, 1e9)).toBeCloseTo(1.644854, 4)
  })
})

describe("TOST equivalence within ±10% of the measured mean", () => {
  // a fixed, well-spread sample: 300 values of a shifted sine, mean ~100, sd ~7
  const base = Array.from({ length: 300 }, (_, i) => 100 + 10 * Math.sin(i * 1.7))
  it("a 3% shift is equivalent within ±10%; a 30% shift is not; 3% is not within ±1%", () => {
    const m = momentsOf(base)
    const eq = tostWelch(m, momentsOf(base.map((x) => x * 1.03)))
    expect(eq.relDiff).toBeCloseTo(0.03, 10)
    expect(eq.p).toBeLessThan(1e-6)
    expect(eq.equivalent).toBe(true)
    expect(eq.ciRel[0]).toBeGreaterThan(-0.1)
    expect(eq.ciRel[1]).toBeLessThan(0.1)
    const far = tostWelch(m, momentsOf(base.map((x) => x * 1.3)))
    expect(far.equivalent).toBe(false)
    expect(far.p).toBeGreaterThan(0.999)
    expect(tostWelch(m, momentsOf(base.map((x) => x * 1.03)), 0.01).equivalent).toBe(false)
  })
  it("pins a hand-computed case", () => {
    // meas [9, 10, 11]: mean 10, s^2 1; sim [10, 11, 12]: mean 11, s^2 1. diff = 1, delta = 1.
    // se = sqrt(1/3 + 1/3) = 0.8164966; df = (2/3)^2 / (2 (1/3)^2 / 2) = 4.
    // t_lower = 2 / 0.8164966 = 2.4494897 (t^2 = 6), p_lower = P(T_4 >= t); t_4's closed form
    //   P(T_4 >= t) = 1/2 - t (6 + t^2) / (2 (4 + t^2)^(3/2)) = 1/2 - 2.4494897 * 12 / (2 * 31.622777) = 0.0352420
    // t_upper = 0, p_upper = 0.5 -> p = 0.5, not equivalent (the sim mean sits on the +10% bound)
    const r = tostWelch(momentsOf([9, 10, 11]), momentsOf([10, 11, 12]))
    expect(r.df).toBeCloseTo(4, 12)
    expect(r.se).toBeCloseTo(0.8164966, 6)
    expect(r.pLower).toBeCloseTo(0.035242, 6)
    expect(r.pUpper).toBeCloseTo(0.5, 12)
    expect(r.p).toBeCloseTo(0.5, 12)
    expect(r.equivalent).toBe(false)
  })
  it("constant samples and too few values", () => {
    expect(tostWelch(momentsOf([5, 5]), momentsOf([5.2, 5.2])).equivalent).toBe(true)
    expect(tostWelch(momentsOf([5, 5]), momentsOf([6, 6])).equivalent).toBe(false)
    expect(tostWelch(momentsOf([5]), momentsOf([5, 6])).p).toBeNaN()
  })
})

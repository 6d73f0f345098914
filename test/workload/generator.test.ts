import { describe, expect, it } from "@effect/vitest"
import { generateArrivals, type GeneratorSpec } from "../../src/workload/generator.js"
import { Rng } from "../../src/workload/Rng.js"

const spec: GeneratorSpec = { numRequests: 20_000, requestRate: 10, burstiness: 1, inputLen: 1000, outputLen: 200, lengthDist: "uniform", rangeRatio: 0.5, lengthSigma: 0.5, seed: 7 }

describe("workload generator", () => {
  it("is deterministic for a seed and differs across seeds", () => {
    const a = [...generateArrivals(spec)].slice(0, 50)
    expect([...generateArrivals(spec)].slice(0, 50)).toEqual(a)
    expect([...generateArrivals({ ...spec, seed: 8 })].slice(0, 50)).not.toEqual(a)
  })

  it("Poisson arrivals have the requested rate; uniform lengths stay in range", () => {
    const xs = [...generateArrivals(spec)]
    const rate = (xs.length - 1) / (xs[xs.length - 1]!.arrivalNs / 1e9)
    expect(rate).toBeGreaterThan(9.7)
    expect(rate).toBeLessThan(10.3)
    for (const x of xs) {
      expect(x.promptTokens).toBeGreaterThanOrEqual(500)
      expect(x.promptTokens).toBeLessThanOrEqual(1500)
    }
    const mean = xs.reduce((a, x) => a + x.promptTokens, 0) / xs.length
    expect(mean).toBeGreaterThan(980)
    expect(mean).toBeLessThan(1020)
  })

  it("gamma burstiness keeps the mean rate and changes the spread", () => {
    const gaps = (b: number) => {
      const xs = [...generateArrivals({ ...spec, burstiness: b })]
      const g = xs.slice(1).map((x, i) => (x.arrivalNs - xs[i]!.arrivalNs) / 1e9)
      const m = g.reduce((a, x) => a + x, 0) / g.length
      const cv = Math.sqrt(g.reduce((a, x) => a + (x - m) ** 2, 0) / g.length) / m
      return { m, cv }
    }
    const bursty = gaps(0.25) // CV = 1/sqrt(k) = 2
    const smooth = gaps(4) // CV = 0.5
    expect(bursty.m).toBeCloseTo(0.1, 2)
    expect(smooth.m).toBeCloseTo(0.1, 2)
    expect(bursty.cv).toBeGreaterThan(1.8)
    expect(smooth.cv).toBeLessThan(0.55)
  })

  it("infinite rate sends everything at t = 0; lognormal has the requested median", () => {
    const xs = [...generateArrivals({ ...spec, requestRate: Infinity, lengthDist: "lognormal" })]
    expect(xs.every((x) => x.arrivalNs === 0)).toBe(true)
    const sorted = xs.map((x) => x.outputTokens).sort((a, b) => a - b)
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThan(190)
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(210)
  })

  it("the PRNG is uniform", () => {
    const r = new Rng(1)
    const bins = new Array(10).fill(0)
    for (let i = 0; i < 100_000; i++) bins[Math.floor(r.uniform() * 10)]++
    for (const b of bins) expect(Math.abs(b - 10_000)).toBeLessThan(500)
  })

  it("a shared prefix (--random-prefix-len) is the same tokens before every prompt and moves no other draw", () => {
    const small = { ...spec, numRequests: 200 }
    const plain = [...generateArrivals(small)]
    const pre = [...generateArrivals({ ...small, prefixLen: 100 })]
    const content = pre[0]!.content!
    if (content.kind !== "tokens") throw new Error(`expected token content, got ${content.kind}`)
    expect(content.ids.length).toBe(100)
    for (const [i, a] of pre.entries()) {
      expect(a.content).toBe(content) // one shared object: equal block hashes, no per-request copy
      expect(a.promptTokens).toBe(100 + plain[i]!.promptTokens)
      expect(a.outputTokens).toBe(plain[i]!.outputTokens)
      expect(a.arrivalNs).toBe(plain[i]!.arrivalNs)
    }
    expect(plain.every((a) => a.content === undefined)).toBe(true)
  })
})

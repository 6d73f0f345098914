/**
 * The SLA bisection (src/sla/search.ts) against configurations whose limit is known in closed form
 * (the hand-computable setup of test/metrics/saturation.test.ts): 10 ms steps, one request at a
 * time (max_num_seqs 1), 10-token prompts and 10 output tokens, so each request takes exactly
 * 100 ms of service (its prefill gives the first token, then 9 decodes).
 *
 * Request rate: N = 200 requests, one every g = 1000 / r ms. For g >= 100 every request is served
 * on arrival (E2E 100 ms). For g < 100 request k waits for the k before it: it finishes at
 * 100 (k + 1) ms, so E2E_k = 100 + (100 - g) k, increasing in k; numpy's linear p99 sits at
 * position 0.99 x 199 = 197.01, so p99 E2E = 100 + (100 - g) x 197.01. The constraint
 * p99_e2el_ms <= 150 holds iff g >= 100 - 50 / 197.01, i.e. r <= r* = 1000 / (100 - 50 / 197.01)
 * = 10.02544 req/s.
 *
 * Max concurrency: the same requests all due at t = 0 through a closed loop of c slots: request k
 * < c finishes at 100 (k + 1) ms; every later one is sent when a slot frees and waits behind the
 * c - 1 in flight: E2E 100 c. With N = 200 and c <= 100, p99 E2E = 100 c, so p99_e2el_ms <= 450
 * holds iff c <= 4.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { type Constraint, parseConstraint } from "../../src/sla/constraint.js"
import { judgeRow } from "../../src/sla/run.js"
import { nextProbe, observe, initialState, outcomeOf, type SearchDomain, searchAll } from "../../src/sla/search.js"
import type { SweepRow } from "../../src/sweep/job.js"
import { ms, runScenario } from "../helpers.js"

const N = 200
const constraint = (text: string): Constraint => {
  const c = parseConstraint(text)
  if (!("metric" in c)) throw c
  return c
}
const options = { stepNs: ms(10), engine: { maxNumSeqs: 1 } }

/** A probe as the CLI's judge sees it: a row whose `metrics` hold the summary's p99_e2el_ms. */
const asRow = (p99: number) => ({ error: null, metrics: { p99_e2el_ms: p99 } }) as unknown as SweepRow

const atRate = (rate: number) =>
  runScenario(Array.from({ length: N }, (_, i) => ({ arrivalNs: (1e9 / rate) * i, promptTokens: 10, outputTokens: 10 })), options).pipe(
    Effect.map((r) => asRow(r.summary.p99_e2el_ms))
  )

const atConcurrency = (c: number) =>
  runScenario(Array.from({ length: N }, () => ({ arrivalNs: 0, promptTokens: 10, outputTokens: 10 })),
    { ...options, client: { maxConcurrency: c, thinkTimeMeanNs: 0, seed: 0, allAtOnce: true } }).pipe(
    Effect.map((r) => asRow(r.summary.p99_e2el_ms))
  )

describe("SLA search", () => {
  it.effect("request rate: the bisection brackets the closed-form limit 1000 / (100 - 50 / 197.01) req/s within the tolerance", () =>
    Effect.gen(function*() {
      const rStar = 1000 / (100 - 50 / 197.01)
      const domain: SearchDomain = { start: 1, max: 1024, integer: false, tolerance: 0.001 }
      const values: Array<number> = []
      const [r] = yield* searchAll(["cfg"], domain, judgeRow([constraint("p99_e2el_ms<=150")]),
        (batch) => Effect.forEach(batch, (b) => atRate(b.value)), (p) => values.push(p.value))
      expect(r!.outcome).toBe("found")
      // bracket: 1, 2, 4, 8 pass, 16 fails; then bisection of [8, 16]
      expect(values.slice(0, 6)).toEqual([1, 2, 4, 8, 16, 12])
      expect(r!.found!).toBeLessThanOrEqual(rStar)
      expect(r!.failedAt!).toBeGreaterThan(rStar)
      expect(r!.failedAt! - r!.found!).toBeLessThanOrEqual(0.001 * r!.found!)
      expect(r!.found!).toBeCloseTo(10.02, 1)
      // the probe at the limit has the closed-form p99: 100 + (100 - g) x 197.01 ms
      const g = 1000 / r!.found!
      expect(r!.best!.result.metrics!["p99_e2el_ms"]).toBeCloseTo(g >= 100 ? 100 : 100 + (100 - g) * 197.01, 6)
    }))

  it.effect("max concurrency: 1, 2, 4 pass, 8 fails, bisection to 4 (p99 E2E = 100 c ms against 450)", () =>
    Effect.gen(function*() {
      const values: Array<number> = []
      const [r] = yield* searchAll(["cfg"], { start: 1, max: 64, integer: true, tolerance: 0 }, judgeRow([constraint("p99_e2el_ms<=450")]),
        (batch) => Effect.forEach(batch, (b) => atConcurrency(b.value)), (p) => values.push(p.value))
      expect(values).toEqual([1, 2, 4, 8, 6, 5])
      expect(r!.outcome).toBe("found")
      expect(r!.found).toBe(4)
      expect(r!.failedAt).toBe(5)
      expect(r!.best!.result.metrics!["p99_e2el_ms"]).toBeCloseTo(400, 6)
    }))

  it.effect("a configuration that fails at the lowest probe is infeasible; one meeting the SLA at the maximum is at-max", () =>
    Effect.gen(function*() {
      const domain: SearchDomain = { start: 1, max: 16, integer: false, tolerance: 0.05 }
      const rs = yield* searchAll([50, 100, 5], domain, judgeRow([constraint("p99_e2el_ms<=150")]),
        // configurations 50 and 100: p99 E2E = value x config x 20 ms (1000 ms already at 1 req/s); 5: value x 0.05 ms
        (batch) => Effect.succeed(batch.map((b) => asRow(b.value * b.config * (b.config === 5 ? 0.01 : 20)))))
      expect(rs.map((r) => r.outcome)).toEqual(["infeasible", "infeasible", "at-max"])
      expect(rs[0]!.probes.map((p) => p.value)).toEqual([1])
      expect(rs[2]!.found).toBe(16)
      expect(rs[2]!.probes.map((p) => p.value)).toEqual([1, 2, 4, 8, 16])
    }))

  it.effect("a probe that cannot run stops its configuration with the error", () =>
    Effect.gen(function*() {
      const [r] = yield* searchAll(["cfg"], { start: 1, max: 16, integer: false, tolerance: 0.05 }, judgeRow([constraint("p99_e2el_ms<=150")]),
        (batch) => Effect.succeed(batch.map(() => ({ ...asRow(NaN), error: "model does not fit" }))))
      expect(r!.outcome).toBe("error")
      expect(r!.error).toBe("model does not fit")
      expect(r!.probes).toHaveLength(1)
    }))

  it.prop("for any monotone SLA with limit T in [start, max): start <= found <= T < failedAt, within the tolerance",
    [fc.double({ min: 0.5, max: 900, noNaN: true }), fc.double({ min: 0.001, max: 0.5, noNaN: true }), fc.boolean()],
    ([t, tol, integer]) => {
      const d: SearchDomain = { start: 1, max: 1000, integer, tolerance: tol }
      const limit = integer ? Math.floor(t) : t
      let s = initialState
      let probes = 0
      for (let v = nextProbe(d, s); v !== undefined; v = nextProbe(d, s)) {
        s = observe(s, v, v <= limit)
        if (++probes > 200) return false
      }
      if (limit < 1) return outcomeOf(s) === "infeasible" && s.hi === 1
      if (outcomeOf(s) !== "found" || !(s.lo! <= limit && limit < s.hi!)) return false
      return integer ? s.hi! - s.lo! === 1 : s.hi! - s.lo! <= tol * s.lo!
    })
})

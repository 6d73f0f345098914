/**
 * The --sensitivity verdict (metrics/saturation.ts) on hand-computable configurations: 10 ms
 * steps, one request at a time (max_num_seqs 1), 10-token prompts and 10 output tokens, so a
 * request takes 10 steps (its prefill gives the first token, then 9 decodes): 100 ms of service,
 * a capacity of exactly 10 requests/s (9.09 at step time x1.1, 11.1 at x0.9). 200 requests arrive
 * every `gap` ms.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runSensitivity } from "../../src/cli/sensitivity.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { LoadProbe, saturationVerdict } from "../../src/metrics/saturation.js"
import { ms, runScenario } from "../helpers.js"

const N = 200
const arrivalsEvery = (gapMs: number): ReadonlyArray<Arrival> =>
  Array.from({ length: N }, (_, i) => ({ arrivalNs: ms(gapMs) * i, promptTokens: 10, outputTokens: 10 }))

const report = (gapMs: number, pct = 10) =>
  Effect.gen(function*() {
    const arrivals = arrivalsEvery(gapMs)
    const options = { stepNs: ms(10), engine: { maxNumSeqs: 1 } }
    const probe = new LoadProbe()
    const main = yield* runScenario(arrivals, { ...options, observer: probe.observer })
    return yield* runSensitivity(pct, { summary: main.summary, probe }, (scale) =>
      runScenario(arrivals, { ...options, stepTimeScale: scale }).pipe(Effect.map((r) => r.summary)))
  })

describe("saturation verdict", () => {
  it.effect("lightly loaded (one every 200 ms, half the capacity): not flagged; hand-computed throughputs and TTFT", () =>
    Effect.gen(function*() {
      const r = yield* report(200)
      expect(r.runs.map((x) => x.scale)).toEqual([0.9, 1, 1.1])
      // the run lasts 199 gaps plus one request's service: 39.8 s + 90 / 100 / 110 ms
      expect(r.runs.map((x) => x.request_throughput)).toEqual([N / 39.89, N / 39.9, N / 39.91].map((x) => expect.closeTo(x, 9)))
      expect(r.runs.map((x) => x.p99_ttft_ms)).toEqual([9, 10, 11].map((x) => expect.closeTo(x, 9)))
      expect(r.runs.map((x) => x.mean_e2el_ms)).toEqual([90, 100, 110].map((x) => expect.closeTo(x, 9)))
      expect(r.offered_request_rate).toBeCloseTo(5, 9)
      expect(r.near_saturation).toBe(false)
      expect(r.reason).toMatch(/^not within 10% of saturation: at step time x1\.10 the throughput stays at 5\.01 req\/s against 5\.01 \(-0\.0%, at most 5\.0%; 5\.00 req\/s offered\) and p99 TTFT moves x1\.10 \(at most x2\)$/)
    }))

  it.effect("just under capacity (one every 101 ms): at x1.1 the throughput falls 8.2% and TTFT explodes: flagged", () =>
    Effect.gen(function*() {
      const r = yield* report(101)
      // nominal: every request served on arrival, the run ends at 199 x 101 + 100 ms; at x1.1 (110 ms
      // of service) they pile up from the first and the last finishes at 200 x 110 ms
      expect(r.runs[1]!.request_throughput).toBeCloseTo(N / 20.199, 9)
      expect(r.runs[2]!.request_throughput).toBeCloseTo(N / 22, 9)
      // request k's first token at x1.1: 110 k + 11 ms, sent at 101 k: TTFT 9 k + 11 ms
      expect(r.runs[2]!.mean_ttft_ms).toBeCloseTo(9 * (N - 1) / 2 + 11, 6)
      // p99 (numpy's linear): at position 0.99 x 199 = 197.01, 9 x 197.01 + 11 = 1784.09 ms
      expect(r.runs[2]!.p99_ttft_ms).toBeCloseTo(1784.09, 6)
      expect(r.near_saturation).toBe(true)
      expect(r.reason).toBe(
        "within 10% of saturation: at step time x1.10 the throughput falls to 9.09 req/s against 9.90 (-8.2%, more than 5.0%; 9.90 req/s offered): it cannot keep up and requests pile up; " +
          "and p99 TTFT goes from 10.0 to 1784.1 ms (x178, more than x2): requests queue"
      )
    }))

  it.effect("one every 105 ms: the throughput falls only 4.6% (less than 5%), but p99 TTFT grows x100: flagged", () =>
    Effect.gen(function*() {
      const r = yield* report(105)
      expect(1 - r.runs[2]!.request_throughput / r.runs[1]!.request_throughput).toBeCloseTo(1 - 20.995 / 22, 9)
      expect(r.near_saturation).toBe(true)
      expect(r.reason).toMatch(/^within 10% of saturation: at step time x1\.10 p99 TTFT goes from 10\.0 to \d+\.\d ms \(x\d+, more than x2\): requests queue$/)
    }))

  it.effect("over capacity (one every 95 ms): saturated already, the x0.9 run is 5.3% faster", () =>
    Effect.gen(function*() {
      const r = yield* report(95)
      // nominal: 100 ms of service for a 95 ms gap: the last finishes at 200 x 100 ms; x0.9 keeps up
      expect(r.runs[1]!.request_throughput).toBeCloseTo(N / 20, 9)
      expect(r.runs[0]!.request_throughput).toBeCloseTo(N / (199 * 0.095 + 0.09), 9)
      expect(r.near_saturation).toBe(true)
      expect(r.reason).toBe("saturated already at the nominal step time: its throughput follows the step time, at x0.90 10.53 req/s against 10.00 (+5.3%, more than 5.0%; 10.53 req/s offered): requests pile up for the whole run")
    }))

  it.effect("pct 20: one every 125 ms keeps up at x1.2 (120 ms of service): not flagged; one every 105 ms falls 12.5% (more than 10%): flagged", () =>
    Effect.gen(function*() {
      const ok = yield* report(125, 20)
      expect(ok.runs.map((x) => x.scale)).toEqual([0.8, 1, 1.2])
      expect(ok.near_saturation).toBe(false)
      const near = yield* report(105, 20)
      expect(1 - near.runs[2]!.request_throughput / near.runs[1]!.request_throughput).toBeCloseTo(1 - 20.995 / 24, 9)
      expect(near.near_saturation).toBe(true)
      expect(near.reason).toMatch(/^within 20% of saturation: at step time x1\.20 the throughput falls to/)
    }))

  it("all requests at once (an offline batch): the throughput is not judged, and the reason says why", () => {
    const probe = new LoadProbe()
    expect(probe.observer.onToken).toBeUndefined() // it leaves fast-forwarding on
    expect(probe.load()).toEqual({ offeredRate: undefined, unmeasured: "all requests arrive at once (an offline batch)" })
    const run = (scale: number, thr: number, ttft: number) => ({ scale, requestThroughput: thr, p99TtftMs: ttft })
    const v = saturationVerdict(10, probe.load(), run(0.9, 11, 90), run(1, 10, 100), run(1.1, 9.1, 110))
    expect(v).toEqual({ nearSaturation: false, reason: "throughput not judged: all requests arrive at once (an offline batch); at step time x1.10 p99 TTFT moves x1.10 (at most x2)" })
    expect(saturationVerdict(10, probe.load(), run(0.9, 11, 90), run(1, 10, 100), run(1.1, 9.1, 250)).nearSaturation).toBe(true)
  })

  it.effect("a run whose arrivals span less than two service times is in effect a batch: not judged by throughput", () =>
    Effect.gen(function*() {
      const probe = new LoadProbe()
      // 20 requests one every 5 ms: 95 ms of arrivals, 100 ms of service each
      yield* runScenario(arrivalsEvery(5).slice(0, 20), { stepNs: ms(10), engine: { maxNumSeqs: 1 }, observer: probe.observer })
      const load = probe.load()
      expect(load.offeredRate).toBeCloseTo(200, 9)
      expect(load.unmeasured).toBe("the requests arrive over 0.1 s, less than 2 x their median service time of 0.1 s (in effect an offline batch; more requests would tell)")
    }))
})

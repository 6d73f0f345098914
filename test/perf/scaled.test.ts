/**
 * The scaled perf model (perf/scaled.ts) scales every step exactly: plain steps, fast-forwarded
 * decode runs (identical to --exact-steps and to a perf model scaled by hand) and pipeline stages
 * and sends; a single request's TTFT and E2E scale exactly.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { resolveCluster } from "../../src/cluster/resolveCluster.js"
import { simulateCluster } from "../../src/engine/simulate.js"
import { TraceWriter } from "../../src/trace/TraceWriter.js"
import type { Arrival } from "../../src/engine/Engine.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { type BatchShape, batchShapeOf } from "../../src/perf/BatchShape.js"
import type { PerfModel } from "../../src/perf/PerfModelService.js"
import { scalePerfModel } from "../../src/perf/scaled.js"
import { stepRow } from "../../src/trace/format.js"
import { ms, runScenario } from "../helpers.js"

const constant10ms: PerfModel = { name: "constant(10ms)", stepTimeNs: (b) => (b.prefillTokens + b.numDecode === 0 ? 0 : ms(10)) }

describe("scalePerfModel", () => {
  it("a 10 ms step becomes 11 ms at x1.1 and 9 ms at x0.9; an empty batch stays 0; the name says the factor", () => {
    const b = batchShapeOf([[10, 0]], [5, 7])
    expect(scalePerfModel(constant10ms, 1.1).stepTimeNs(b)).toBe(11_000_000)
    expect(scalePerfModel(constant10ms, 0.9).stepTimeNs(b)).toBe(9_000_000)
    expect(scalePerfModel(constant10ms, 1.1).stepTimeNs(batchShapeOf([], []))).toBe(0)
    expect(scalePerfModel(constant10ms, 1.1).name).toBe("constant(10ms) x1.1")
    expect(scalePerfModel(constant10ms, 1)).toBe(constant10ms)
  })

  it("rounds each scaled time to integer ns", () => {
    const m: PerfModel = { name: "f", stepTimeNs: (b) => 7 * b.numDecode }
    expect(scalePerfModel(m, 1.1).stepTimeNs(batchShapeOf([], [1]))).toBe(8) // 7.7
    expect(scalePerfModel(m, 1.1).stepTimeNs(batchShapeOf([], [1, 1, 1]))).toBe(23) // 23.1
  })

  it("refuses a factor that is not a positive number", () => {
    for (const f of [0, -1, Number.NaN, Infinity]) expect(() => scalePerfModel(constant10ms, f)).toThrow(/positive/)
  })

  it("scales every pipeline stage and every send", () => {
    const m: PerfModel = {
      name: "pp",
      stepTimeNs: () => ms(17),
      pipeline: {
        stages: 2,
        layers: [16, 16],
        price: (_b, stageNs, sendNs) => {
          stageNs[0] = ms(10)
          stageNs[1] = ms(6)
          sendNs[0] = ms(1)
        }
      }
    }
    const s = scalePerfModel(m, 1.1)
    const stageNs = new Float64Array(2)
    const sendNs = new Float64Array(1)
    s.pipeline!.price(batchShapeOf([], [1]), stageNs, sendNs)
    expect([...stageNs]).toEqual([11_000_000, 6_600_000])
    expect([...sendNs]).toEqual([1_100_000])
    expect(s.pipeline!.stages).toBe(2)
    expect(s.pipeline!.layers).toEqual([16, 16])
    expect(s.stepTimeNs(batchShapeOf([], [1]))).toBe(18_700_000)
  })
})

describe("stepTimeScale in a simulation", () => {
  it.effect("one request: TTFT and E2E scale exactly (10 ms steps: 10 -> 11 ms, 50 -> 55 ms)", () =>
    Effect.gen(function*() {
      const one: ReadonlyArray<Arrival> = [{ arrivalNs: ms(3), promptTokens: 10, outputTokens: 5 }]
      const base = yield* runScenario(one, { stepNs: ms(10) })
      const slow = yield* runScenario(one, { stepNs: ms(10), stepTimeScale: 1.1 })
      const fast = yield* runScenario(one, { stepNs: ms(10), stepTimeScale: 0.9 })
      expect([base.summary.mean_ttft_ms, base.summary.mean_e2el_ms, base.summary.mean_tpot_ms]).toEqual([10, 50, 10])
      expect([slow.summary.mean_ttft_ms, slow.summary.mean_e2el_ms, slow.summary.mean_tpot_ms]).toEqual([11, 55, 11])
      expect([fast.summary.mean_ttft_ms, fast.summary.mean_e2el_ms, fast.summary.mean_tpot_ms]).toEqual([9, 45, 9])
      expect(slow.result.perfModel).toBe(`constant(${ms(10)}ns) x1.1`)
      // the summary records the scaled model
      expect(slow.summary.config.perf_model).toBe(`constant(${ms(10)}ns) x1.1`)
    }))

  // all arrive at t = 0 and every step time is a multiple of 10 ns, so at x1.1 every event time is
  // exactly 1.1 x the unscaled one
  const batch: ReadonlyArray<Arrival> = Array.from({ length: 8 }, (_, i) => ({ arrivalNs: 0, promptTokens: 100 + 10 * i, outputTokens: 300 + 37 * i }))
  const stepNs = (b: BatchShape) => (b.prefillTokens + b.numDecode === 0 ? 0 : 500_000 + 3_000 * b.numDecode + 40 * b.prefillTokens + 10 * b.decodeContextSum)
  const timeline = (scale: number, exactSteps: boolean) =>
    Effect.gen(function*() {
      const steps: Array<string> = []
      const starts: Array<[number, number]> = []
      const r = yield* runScenario(batch, {
        stepNs,
        engine: { maxNumSeqs: 8, maxNumBatchedTokens: 256 },
        stepTimeScale: scale,
        exactSteps,
        observer: { onStep: (i: StepInfo) => (steps.push(stepRow(i)), starts.push([i.startNs, i.durationNs])) }
      })
      const times = r.store.requests.map(({ request: q }) => [q.id, q.firstScheduledNs, q.firstTokenNs, q.finishNs])
      return { r, steps, starts, times, skipped: r.result.engine.instances[0]!.fastForwardedSteps }
    })

  it.effect("fast-forwarded decode runs are scaled too: identical to --exact-steps and to a model scaled by hand, every time x1.1", () =>
    Effect.gen(function*() {
      const base = yield* timeline(1, false)
      const fast = yield* timeline(1.1, false)
      const exact = yield* timeline(1.1, true)
      expect(fast.skipped).toBeGreaterThan(500) // the fast path ran (of about 560 steps)
      expect(exact.skipped).toBe(0)
      expect(fast.steps).toEqual(exact.steps)
      expect(fast.r.store.requests.map((x) => x.row)).toEqual(exact.r.store.requests.map((x) => x.row))
      expect(fast.times).toEqual(base.times.map(([id, ...t]) => [id, ...t.map((x) => Math.round(x! * 1.1))]))
      expect(fast.starts).toEqual(base.starts.map(([s, d]) => [Math.round(s * 1.1), Math.round(d * 1.1)]))
      // the same as a perf model that prices every step 1.1 x by hand
      const byHand = yield* runScenario(batch, { stepNs: (b) => Math.round(1.1 * stepNs(b)), engine: { maxNumSeqs: 8, maxNumBatchedTokens: 256 } })
      expect(byHand.store.requests.map((x) => x.row)).toEqual(fast.r.store.requests.map((x) => x.row))
      expect(fast.r.summary.mean_e2el_ms).toBeCloseTo(1.1 * base.r.summary.mean_e2el_ms, 9)
    }))

  it.effect("pipeline stages and sends are scaled: P=2 with stages 10/6 ms and a 1 ms send, every micro-batch x1.1", () =>
    Effect.gen(function*() {
      const run = (scale: number) =>
        Effect.gen(function*() {
          const steps: Array<[number, number, number]> = []
          const { store } = yield* runScenario(
            [{ arrivalNs: 0, promptTokens: 10, outputTokens: 3 }, { arrivalNs: 0, promptTokens: 10, outputTokens: 3 }],
            {
              pipeline: { stages: 2, sendNs: ms(1), stageNs: (_b, s) => (s === 0 ? ms(10) : ms(6)) },
              stepTimeScale: scale,
              observer: { onStep: (i: StepInfo) => steps.push([i.virtualEngine, i.startNs / 1e6, i.durationNs / 1e6]) }
            }
          )
          return { steps, finish: store.requests.map((r) => r.request.finishNs / 1e6) }
        })
      const base = yield* run(1)
      const slow = yield* run(1.1)
      // unscaled (test/cluster/pipeline.test.ts): VE0 0 -> 17, VE1 10 -> 27, VE0 20 -> 37, VE1 30 -> 47, VE0 40 -> 57, VE1 50 -> 67
      expect(base.steps).toEqual([[0, 0, 17], [1, 10, 17], [0, 20, 17], [1, 30, 17], [0, 40, 17], [1, 50, 17]])
      // x1.1: stage 0 11 ms, send 1.1 ms, stage 1 6.6 ms: 18.7 ms a micro-batch, one every 11 ms
      expect(slow.steps.map(([v, s, d]) => [v, Number(s.toFixed(6)), Number(d.toFixed(6))])).toEqual([[0, 0, 18.7], [1, 11, 18.7], [0, 22, 18.7], [1, 33, 18.7], [0, 44, 18.7], [1, 55, 18.7]])
      expect(slow.finish.map((x) => Number(x.toFixed(6)))).toEqual([62.7, 73.7])
    }))
})

describe("stepTimeScale in a cluster", () => {
  const base = { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }
  for (const file of ["heterogeneous-h100-a100.json", "2p2d-llama3.1-8b-h100.yaml"]) {
    it.effect(`every pool is scaled (${file}): each pool's perf model, and one request's step times x1.1 to the rounding of each step`, () =>
      Effect.gen(function*() {
        const cluster = yield* resolveCluster(`resources/clusters/${file}`, base, {})
        const one = Stream.make({ arrivalNs: 0, promptTokens: 512, outputTokens: 64 })
        const run = (scale: number) => simulateCluster(one, cluster, { stepTimeScale: scale }).pipe(Effect.provide(TraceWriter.none))
        const plain = yield* run(1)
        const slow = yield* run(1.1)
        const pools = (slow.summary.config as { pools: ReadonlyArray<{ perf_model: string }> }).pools
        expect(pools.length).toBeGreaterThan(1)
        for (const p of pools) expect(p.perf_model).toMatch(/ x1\.1$/)
        // TTFT and E2E less the front end's delays (not steps): every step 1.1 x, each rounded to the ns
        const fe = cluster.pools[0]!.config.frontEnd
        const feMs = (fe.ingressUs + 512 * fe.tokenizeUsPerToken + fe.egressUs) / 1000
        expect(feMs).toBeGreaterThan(0)
        const steps = slow.summary.num_steps
        const transfer = file.startsWith("2p2d")
        if (!transfer) {
          expect(Math.abs(slow.summary.mean_ttft_ms - feMs - 1.1 * (plain.summary.mean_ttft_ms - feMs))).toBeLessThanOrEqual(steps * 0.5e-6)
          expect(Math.abs(slow.summary.mean_e2el_ms - feMs - 1.1 * (plain.summary.mean_e2el_ms - feMs))).toBeLessThanOrEqual(steps * 0.5e-6)
        } else {
          // the decode side's steps are scaled: TPOT exactly (to the rounding), E2E by less than 10% (the transfer is not)
          expect(Math.abs(slow.summary.mean_tpot_ms - 1.1 * plain.summary.mean_tpot_ms)).toBeLessThanOrEqual(steps * 0.5e-6)
          expect(slow.summary.mean_e2el_ms).toBeGreaterThan(plain.summary.mean_e2el_ms)
          expect(slow.summary.mean_e2el_ms).toBeLessThan(1.1 * plain.summary.mean_e2el_ms)
        }
      }))
  }
})

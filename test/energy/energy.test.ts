/**
 * --energy: the step-work counts of a tiny model by hand, a fixed-step run whose energy follows
 * from TDP and idle power alone, and the refusal of hardware without idleW.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { makeStepWork } from "../../src/energy/stepWork.js"
import { utilisation } from "../../src/energy/power.js"
import { ms, runScenario, testHardware, testModel } from "../helpers.js"

describe("step work (test/tiny: h 512, 4 layers, 8 heads, 2 KV heads, head_dim 64, ffn 1024, vocab 1000, 16-bit)", () => {
  const work = makeStepWork(testModel, defaultEngineConfig(1 << 20, 2))
  it("one decode at context 10", () => {
    // parameters: embeddings 2 x 1000 x 512 = 1,024,000 (untied), final norm 512,
    // per layer attention 512 x 12 x 64 + 512 x 512 = 655,360, norms 1,024, MLP 3 x 512 x 1024 = 1,572,864
    // -> 4 x 2,229,248 = 8,916,992; total 9,941,504 elements = 19,883,008 bytes
    // FLOPs: 2 x (9,941,504 - 1,024,000) linear + 2 x 512,000 LM head + 4 x 8 x 64 x 4 layers x 10 = 18,940,928
    // bytes: weights + (10 read + 1 written) x KV per token 2 x 4 x 2 x 64 x 2 = 2,048 -> 19,905,536
    const w = work(batchShapeOf([], [10]), 1, { flops: 0, bytes: 0 })
    expect(w.flops).toBe(18_940_928)
    expect(w.bytes).toBe(19_905_536)
  })
  it("a fast-forwarded run of 3 decode steps is the sum of its steps", () => {
    const one = (ctx: number) => work(batchShapeOf([], [ctx, ctx + 5]), 1, { flops: 0, bytes: 0 })
    const steps = [one(10), one(11), one(12)]
    const ff = work(batchShapeOf([], [10, 15]), 3, { flops: 0, bytes: 0 })
    expect(ff.flops).toBeCloseTo(steps.reduce((a, w) => a + w.flops, 0), 6)
    expect(ff.bytes).toBeCloseTo(steps.reduce((a, w) => a + w.bytes, 0), 6)
  })
  it("a prefill chunk counts causal pairs c (p + (c+1)/2)", () => {
    // chunk 4 after 6 cached: 4 x (6 + 2.5) = 34 pairs -> attention FLOPs 8,192 x 34 = 278,528
    const w = work(batchShapeOf([[4, 6]], []), 1, { flops: 0, bytes: 0 })
    expect(w.flops).toBe(4 * 2 * 8_917_504 + 2 * 512_000 + 8_192 * 34)
    expect(w.bytes).toBe(19_883_008 + (10 + 4) * 2_048)
  })
  it("utilisation is the busier unit's share, clipped to 1", () => {
    // 1e6 FLOPs on 1 GPU of 1e3 FLOP/ns over 2,000 ns = 0.5; 3e5 bytes at 1e3 B/ns = 0.15
    expect(utilisation(1e6, 3e5, 1, 1e3, 1e3, 2000)).toBe(0.5)
    expect(utilisation(1e6, 3e6, 1, 1e3, 1e3, 2000)).toBe(1)
    expect(utilisation(1e6, 3e5, 2, 1e3, 1e3, 2000)).toBe(0.25)
  })
})

describe("--energy on a fixed-step run", () => {
  it.effect("every step saturates a (deliberately slow) GPU: energy = TDP x duration", () =>
    Effect.gen(function*() {
      // 1 GFLOP/s and 1 MB/s: every step's work far exceeds 10 ms of the GPU, so u = 1.
      // One request (100 in, 5 out): 5 steps of 10 ms, duration 50 ms.
      // idle 20 W x 0.05 s = 1 J; active (100 - 20) W x 1 x 0.05 s = 4 J; total 5 J = 1 J per output token.
      const hw = { ...testHardware, bf16Tflops: 1e-3, fp16Tflops: 1e-3, memoryBandwidthGBs: 1e-3, tdpW: 100, idleW: 20 }
      const { summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 100, outputTokens: 5 }], { hardware: hw, energy: true })
      const e = summary.energy!
      expect(summary.duration).toBe(0.05)
      expect(e.idle_j).toBeCloseTo(1, 9)
      expect(e.active_j).toBeCloseTo(4, 9)
      expect(e.total_j).toBeCloseTo(5, 9)
      expect(e.per_request_j).toBeCloseTo(5, 9)
      expect(e.per_output_token_j).toBeCloseTo(1, 9)
      expect(e.avg_power_w).toBeCloseTo(100, 9)
      expect(e.per_gpu[0]!.mean_busy_utilization).toBe(1)
    }))

  it.effect("an idle gap between two requests is charged at idle power only", () =>
    Effect.gen(function*() {
      // request A at 0 (1 step, 10 ms), request B at 100 ms (1 step): duration 110 ms, busy 20 ms.
      // idle 20 W x 0.11 s = 2.2 J; active 80 W x 0.02 s = 1.6 J; total 3.8 J over 2 tokens.
      const hw = { ...testHardware, bf16Tflops: 1e-3, fp16Tflops: 1e-3, memoryBandwidthGBs: 1e-3, tdpW: 100, idleW: 20 }
      const { summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 10, outputTokens: 1 },
        { arrivalNs: ms(100), promptTokens: 10, outputTokens: 1 }
      ], { hardware: hw, energy: true })
      const e = summary.energy!
      expect(e.total_j).toBeCloseTo(3.8, 9)
      expect(e.per_output_token_j).toBeCloseTo(1.9, 9)
      expect(e.per_gpu[0]!.busy_fraction).toBeCloseTo(0.02 / 0.11, 9)
    }))

  it.effect("fast-forwarded decode runs price the same energy as --exact-steps", () =>
    Effect.gen(function*() {
      // a step time that grows with the batch; the test GPU (100 TFLOP/s, 1,000 GB/s) stays under u = 1
      const hw = { ...testHardware, tdpW: 100, idleW: 20 }
      const stepNs = (b: { prefillTokens: number; numDecode: number }) => (b.prefillTokens + b.numDecode === 0 ? 0 : 1_000_000 + 1_000 * b.numDecode + 100 * b.prefillTokens)
      const arrivals = Array.from({ length: 6 }, (_, i) => ({ arrivalNs: ms(3 * i), promptTokens: 50 + 10 * i, outputTokens: 40 + 7 * i }))
      const fast = yield* runScenario(arrivals, { hardware: hw, energy: true, stepNs })
      const exact = yield* runScenario(arrivals, { hardware: hw, energy: true, stepNs, exactSteps: true })
      expect(fast.summary.num_steps).toBe(exact.summary.num_steps)
      expect(fast.result.engine.instances[0]!.fastForwardedSteps).toBeGreaterThan(0)
      expect(fast.summary.energy!.active_j).toBeGreaterThan(0)
      expect(fast.summary.energy!.per_gpu[0]!.mean_busy_utilization).toBeLessThan(1)
      expect(fast.summary.energy!.active_j).toBeCloseTo(exact.summary.energy!.active_j, 9)
      expect(fast.summary.energy!.total_j).toBeCloseTo(exact.summary.energy!.total_j, 9)
    }))

  it.effect("without --energy the summary has no energy section", () =>
    Effect.gen(function*() {
      const { summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 100, outputTokens: 5 }])
      expect(summary.energy).toBeUndefined()
    }))

  it.effect("hardware without idleW is refused naming --energy and the file field", () =>
    Effect.gen(function*() {
      const r = yield* Effect.either(runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 1 }], { energy: true }))
      expect(Either.isLeft(r)).toBe(true)
      const err = Either.getLeft(r).pipe((o) => (o._tag === "Some" ? o.value : undefined)) as { message: string } | undefined
      expect(err?.message).toMatch(/^--energy: hardware TESTGPU has no idleW: its hardware file/)
    }))
})

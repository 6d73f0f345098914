import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import { alphaBeta } from "../../src/network/NetworkService.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { makeRoofline } from "../../src/perf/roofline.js"

// a block override skips memory sizing, so models bigger than one GPU can be priced at TP 1
const perfFor = (model: string, hardware: string, tp = 1) =>
  resolveConfig({ model, hardware, tensorParallelSize: tp, numGpuBlocksOverride: 100_000 }).pipe(
    Effect.map((c) => makeRoofline(c.model, c.hardware, c.engine, { ...c.roofline, stepOverheadNs: 0, kernelOverheadNs: 0 }, alphaBeta(c.hardware.interconnectGBs)))
  )

describe("roofline perf model", () => {
  it.effect("a one-token decode is bound by reading the weights once", () =>
    Effect.gen(function*() {
      const p = yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "A100")
      const t = p.stepTimeNs(batchShapeOf([], [1]))
      // all bf16 weights but the embedding table (only one row is gathered): 16.06 - 1.05 = 15.01 GB
      // at 2039 GB/s x 0.8 = 9.20 ms, plus small activation and KV traffic
      expect(t / 1e6).toBeGreaterThan(9.19)
      expect(t / 1e6).toBeLessThan(9.4)
    }))

  it.effect("a 2048-token prefill is compute bound: 2 x params x tokens FLOPs at 70% of peak", () =>
    Effect.gen(function*() {
      const p = yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "H100")
      const t = p.stepTimeNs(batchShapeOf([[2048, 0]], []))
      const gemmOnly = (2 * 6.98e9 * 2048) / (989e12 * 0.7) * 1e9 // decoder-layer GEMMs, ns
      expect(t).toBeGreaterThan(gemmOnly)
      expect(t).toBeLessThan(gemmOnly * 1.3)
    }))

  it.effect("near the ridge point a GEMM takes sqrt(c^2 + m^2), not max(c, m) (GEMM_ROOFLINE_SMOOTHING)", () =>
    Effect.gen(function*() {
      const p = yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "A100")
      // 134 one-token decodes: A100's ridge at 70% / 80% efficiency is 312e12 x 0.7 / (2039e9 x 0.8) = 134 FLOP/byte,
      // i.e. 134 tokens through a bf16 weight. Hand-computed GEMMs: 32 layers of qkv [4096 x 6144], o [4096 x 4096],
      // gate/up [4096 x 28672], down [14336 x 4096], and the LM head [4096 x 128256] over 134 positions.
      const T = 134
      const F = 312e12 * 0.7 / 1e9 // FLOP/ns
      const B = 2039 * 0.8 // bytes/ns
      const shapes: Array<[number, number, number]> = [[4096, 6144, 32], [4096, 4096, 32], [4096, 28672, 32], [14336, 4096, 32], [4096, 128256, 1]]
      let norm = 0
      let max = 0
      for (const [k, n, times] of shapes) {
        const c = 2 * T * k * n / F
        const m = (k * n * 2 + T * (k + n) * 2) / B
        norm += times * Math.sqrt(c * c + m * m)
        max += times * Math.max(c, m)
      }
      const t = p.stepTimeNs(batchShapeOf([], Array(T).fill(1)))
      expect(norm / max).toBeGreaterThan(1.38) // at the ridge the two differ by about sqrt(2)
      expect(t).toBeGreaterThan(norm)
      expect(t).toBeLessThan(norm * 1.05) // attention, element-wise and sampler traffic are small here
    }))

  it.effect("bigger models and slower GPUs take longer; more work never takes less time", () =>
    Effect.gen(function*() {
      const shape = batchShapeOf([[512, 100]], [300, 900, 2000])
      const llama = (yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "A100")).stepTimeNs(shape)
      const qwen32 = (yield* perfFor("Qwen/Qwen3-32B", "A100")).stepTimeNs(shape)
      const onT4 = (yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "T4")).stepTimeNs(shape)
      const onH100 = (yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "H100")).stepTimeNs(shape)
      expect(qwen32).toBeGreaterThan(llama)
      expect(onT4).toBeGreaterThan(llama)
      expect(onH100).toBeLessThan(llama)
      const p = yield* perfFor("meta-llama/Llama-3.1-8B-Instruct", "A100")
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 8192 }), fc.array(fc.integer({ min: 1, max: 8192 }), { maxLength: 64 }),
        (chunk, ctx, decodes) => {
          const base = p.stepTimeNs(batchShapeOf([[chunk, ctx]], decodes))
          expect(p.stepTimeNs(batchShapeOf([[chunk + 1, ctx]], decodes))).toBeGreaterThanOrEqual(base)
          expect(p.stepTimeNs(batchShapeOf([[chunk, ctx]], [...decodes, 100]))).toBeGreaterThanOrEqual(base)
          expect(p.stepTimeNs(batchShapeOf([[chunk, ctx + 1]], decodes))).toBeGreaterThanOrEqual(base)
        }
      ), { numRuns: 200 })
    }))

  it.effect("tensor parallelism speeds up a big model's decode and adds all-reduce time", () =>
    Effect.gen(function*() {
      const shape = batchShapeOf([], Array(32).fill(1000))
      const tp1 = (yield* perfFor("meta-llama/Llama-3.1-70B-Instruct", "H100", 1)).stepTimeNs(shape)
      const tp4 = (yield* perfFor("meta-llama/Llama-3.1-70B-Instruct", "H100", 4)).stepTimeNs(shape)
      expect(tp4).toBeLessThan(tp1 / 2)
      expect(tp4).toBeGreaterThan(tp1 / 4)
    }))

  it.effect("MoE decode reads only the routed experts' weights", () =>
    Effect.gen(function*() {
      const moe = yield* perfFor("Qwen/Qwen3-30B-A3B", "H100")
      const dense = yield* perfFor("Qwen/Qwen3-32B", "H100")
      const one = batchShapeOf([], [500])
      expect(moe.stepTimeNs(one)).toBeLessThan(dense.stepTimeNs(one) / 4)
    }))
})

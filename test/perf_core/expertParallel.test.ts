import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { normalizeOnOffFlags } from "../../src/cli/options.js"
import { type EngineFlags, resolveConfig } from "../../src/config/resolve.js"
import { expertParameterCount, parameterCount } from "../../src/domain/Model.js"
import type { Network } from "../../src/domain/Network.js"
import type { SimConfig } from "../../src/domain/SimConfig.js"
import { kvCapacity, weightBytesPerGpu } from "../../src/memory/capacity.js"
import { zeroNetwork } from "../../src/network/NetworkService.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { derivedImbalance, expectedMaxStdNormal, moeParallelOf } from "../../src/perf/expertParallel.js"
import { moeTraffic } from "../../src/perf/moeTraffic.js"
import { datasheetOpParams, makeOpRoofline } from "../../src/perf/opModel.js"
import { makeRoofline } from "../../src/perf/roofline.js"
import type { BenchRun } from "../../src/validate/bench.js"
import { runSettings } from "../../src/validate/bench.js"

const QWEN_MOE = "Qwen/Qwen3-30B-A3B" // config.json: hidden 2048, 48 layers all MoE, 128 experts, top-8, moe_intermediate 768
const cfgOf = (f: Partial<EngineFlags>) => resolveConfig({ model: QWEN_MOE, hardware: "H100", numGpuBlocksOverride: 10_000, ...f })

/** A Network that records every all-to-all it is asked to price. */
const recordingNetwork = () => {
  const calls: Array<{ bytes: number; n: number }> = []
  const net: Network = { ...zeroNetwork, allToAllNs: (bytes, n) => { calls.push({ bytes, n }); return 1000 } }
  return { net, calls }
}

/** The perf models that price MoE layers themselves (profile tables fall back to op-roofline's MoE cost). */
const perfModels = (c: SimConfig, net: Network) => [
  makeRoofline(c.model, c.hardware, c.engine, c.roofline, net),
  makeOpRoofline("op", c.model, c.hardware, c.engine, datasheetOpParams, net)
]

describe("expert parallelism: all-to-all", () => {
  it.effect("each MoE layer sends tokens x top-k x hidden x 2 bytes per GPU, twice, over EP = DP x TP GPUs", () =>
    Effect.gen(function*() {
      for (const [dp, tp] of [[2, 1], [2, 2], [4, 1]] as const) {
        const c = yield* cfgOf({ dataParallelSize: dp, tensorParallelSize: tp, enableExpertParallel: true })
        for (let i = 0; i < 2; i++) {
          const { net, calls } = recordingNetwork()
          // 100-token chunk + 3 decodes = 103 tokens on this DP rank
          perfModels(c, net)[i]!.stepTimeNs(batchShapeOf([[100, 0]], [10, 20, 30]))
          // dispatch + combine of one MoE layer (the models price one layer and multiply by 48)
          expect(calls.length).toBe(2)
          for (const call of calls) {
            expect(call.n).toBe(dp * tp)
            expect(call.bytes).toBe(103 * 8 * 2048 * 2)
          }
        }
      }
    }))

  it.effect("no all-to-all without EP, nor under EP with one DP rank (the TP all-reduce combines)", () =>
    Effect.gen(function*() {
      for (const f of [{ dataParallelSize: 2 }, { tensorParallelSize: 2, enableExpertParallel: true }, {}]) {
        const c = yield* cfgOf(f)
        const { net, calls } = recordingNetwork()
        for (const p of perfModels(c, net)) p.stepTimeNs(batchShapeOf([[64, 0]], [5]))
        expect(calls.length).toBe(0)
      }
    }))

  it.effect("the all-to-all time is added to the step: a slower network makes an EP step slower", () =>
    Effect.gen(function*() {
      const c = yield* cfgOf({ dataParallelSize: 2, enableExpertParallel: true })
      const slow: Network = { ...zeroNetwork, allToAllNs: () => 50_000 }
      const b = batchShapeOf([], [100, 200])
      const fast = makeRoofline(c.model, c.hardware, c.engine, c.roofline, zeroNetwork).stepTimeNs(b)
      expect(makeRoofline(c.model, c.hardware, c.engine, c.roofline, slow).stepTimeNs(b) - fast).toBe(2 * 48 * 50_000)
    }))
})

describe("expert parallelism: expert GEMMs on one GPU", () => {
  it.effect("pairs = T x DP x top-k / EP x imbalance at full expert width; weights of local experts hit", () =>
    Effect.gen(function*() {
      const c = yield* cfgOf({ dataParallelSize: 4, enableExpertParallel: true, expertLoadImbalance: 1.5 })
      const par = moeParallelOf(c.model, c.engine)!
      expect(par.ep).toBe(4)
      expect(par.localExperts).toBe(32)
      const out = { flops: 0, bytes: 0 }
      expect(moeTraffic(c.model, 10, par, 2, out)).toBe(true)
      const pairs = 10 * 4 * 8 / 4 * 1.5
      expect(out.flops).toBeCloseTo(2 * pairs * 3 * 2048 * 768, 0)
      const active = 32 * (1 - Math.pow(1 - 8 / 128, 10 * 4 * 1.5))
      expect(out.bytes).toBeCloseTo(active * 3 * 2048 * 768 * 2 + pairs * (2048 + 3 * 768) * 2, 0)
    }))

  it.effect("a larger --expert-load-imbalance makes a compute-bound EP step slower (the slowest GPU sets it)", () =>
    Effect.gen(function*() {
      const b = batchShapeOf([[4096, 0]], [])
      const t = (f: Partial<EngineFlags>) => cfgOf({ dataParallelSize: 2, enableExpertParallel: true, ...f }).pipe(
        Effect.map((c) => makeRoofline(c.model, c.hardware, c.engine, c.roofline, zeroNetwork).stepTimeNs(b))
      )
      expect(yield* t({ expertLoadImbalance: 2 })).toBeGreaterThan(yield* t({ expertLoadImbalance: 1 }))
    }))
})

describe("expert parallelism: imbalance factor", () => {
  it("E[max of n standard normals] matches order-statistics tables", () => {
    expect(expectedMaxStdNormal(1)).toBe(0)
    expect(expectedMaxStdNormal(2)).toBeCloseTo(1 / Math.sqrt(Math.PI), 4)
    expect(expectedMaxStdNormal(8)).toBeCloseTo(1.4236, 3)
    expect(expectedMaxStdNormal(16)).toBeCloseTo(1.7660, 3)
  })

  it("is 1 for EP 1, >= 1 and <= EP always, decreasing in the pair count, -> 1 as tokens grow", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(1, 2, 4, 8, 16, 32), (pairs, ep) => {
      const f = derivedImbalance(pairs, ep)
      expect(f).toBeGreaterThanOrEqual(1)
      expect(f).toBeLessThanOrEqual(ep)
      expect(derivedImbalance(pairs + 1, ep)).toBeLessThanOrEqual(f)
      if (ep === 1) expect(f).toBe(1)
    }), { numRuns: 300 })
    expect(derivedImbalance(1e9, 8)).toBeLessThan(1.001)
  })

  it("agrees with a Monte Carlo of uniform routing within 5% (EP 8, 64 and 1024 pairs)", () => {
    let s = 12345
    const rand = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 2 ** 32 }
    for (const pairs of [64, 1024]) {
      const ep = 8
      let sumMax = 0
      const trials = 2000
      const counts = new Array<number>(ep)
      for (let t = 0; t < trials; t++) {
        counts.fill(0)
        for (let i = 0; i < pairs; i++) counts[Math.floor(rand() * ep)]!++
        sumMax += Math.max(...counts)
      }
      const mc = sumMax / trials / (pairs / ep)
      expect(Math.abs(derivedImbalance(pairs, ep) / mc - 1)).toBeLessThan(0.05)
    }
  })
})

describe("expert parallelism: memory", () => {
  it.effect("expert weights per GPU = expert params / EP, the rest / TP; KV per token unchanged", () =>
    Effect.gen(function*() {
      const one = yield* cfgOf({})
      const m = one.model
      const experts = expertParameterCount(m)
      expect(experts).toBe(48 * 128 * 3 * 2048 * 768)
      const rest = parameterCount(m) - experts
      for (const [dp, tp] of [[2, 1], [4, 1], [2, 2]] as const) {
        const c = yield* cfgOf({ dataParallelSize: dp, tensorParallelSize: tp, enableExpertParallel: true })
        expect(weightBytesPerGpu(m, c.engine)).toBe(Math.ceil((rest / tp + experts / (dp * tp)) * 2))
        const cap = kvCapacity(m, c.hardware, c.engine)
        const capTp = kvCapacity(m, c.hardware, (yield* cfgOf({ tensorParallelSize: tp })).engine)
        if ("_tag" in cap || "_tag" in capTp) throw new Error("no KV")
        expect(cap.kvBytesPerToken).toBe(capTp.kvBytesPerToken)
      }
      expect(weightBytesPerGpu(m, one.engine)).toBe(Math.ceil(parameterCount(m) * 2))
    }))

  it.effect("a dense model's weights per GPU do not depend on DP", () =>
    Effect.gen(function*() {
      const a = yield* resolveConfig({ model: "Qwen/Qwen3-8B", hardware: "H100" })
      const b = yield* resolveConfig({ model: "Qwen/Qwen3-8B", hardware: "H100", dataParallelSize: 4 })
      expect(weightBytesPerGpu(b.model, b.engine)).toBe(weightBytesPerGpu(a.model, a.engine))
      expect(b.numInstances).toBe(4)
    }))
})

describe("expert parallelism: flags", () => {
  it.effect("EP on a dense model is refused, naming the flag", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolveConfig({ model: "Qwen/Qwen3-8B", hardware: "H100", enableExpertParallel: true }))
      expect(e._tag).toBe("InvalidOption")
      expect(e.message).toContain("--enable-expert-parallel")
      expect(e.message).toContain("dense")
    }))

  it.effect("an EP size that does not divide the experts, an imbalance < 1 or without EP are refused", () =>
    Effect.gen(function*() {
      const bad = [
        { dataParallelSize: 3, enableExpertParallel: true },
        { dataParallelSize: 2, enableExpertParallel: true, expertLoadImbalance: 0.9 },
        { dataParallelSize: 2, expertLoadImbalance: 1.2 }
      ]
      const opts = ["--enable-expert-parallel", "--expert-load-imbalance", "--expert-load-imbalance"]
      for (let i = 0; i < bad.length; i++) {
        const e = yield* Effect.flip(cfgOf(bad[i]!))
        expect(e._tag).toBe("InvalidOption")
        expect(e.message).toContain(opts[i])
      }
    }))

  it.effect("--data-parallel-size and --num-instances agree or fail", () =>
    Effect.gen(function*() {
      expect((yield* cfgOf({ dataParallelSize: 2 })).numInstances).toBe(2)
      expect((yield* cfgOf({ numInstances: 2 })).engine.dataParallelSize).toBe(2)
      expect((yield* cfgOf({ numInstances: 2, dataParallelSize: 2 })).numInstances).toBe(2)
      const e = yield* Effect.flip(cfgOf({ numInstances: 3, dataParallelSize: 2 }))
      expect(e._tag).toBe("InvalidOption")
      expect(e.message).toContain("--data-parallel-size")
      expect(e.message).toContain("--num-instances")
    }))

  it("--enable-expert-parallel is an on/off flag", () => {
    expect(normalizeOnOffFlags(["--enable-expert-parallel", "false"])).toEqual(["--no-enable-expert-parallel"])
    expect(normalizeOnOffFlags(["--no-enable-expert-parallel", "--enable-expert-parallel=yes"])).toEqual(["--enable-expert-parallel"])
  })

  it.effect("validate takes data_parallel_size and enable_expert_parallel from meta.json", () =>
    Effect.gen(function*() {
      const run = {
        metaPath: "meta.json",
        meta: {
          model: QWEN_MOE,
          engine_kwargs: { data_parallel_size: 2, enable_expert_parallel: true },
          resolved_config: { parallel_config: { data_parallel_size: 2, enable_expert_parallel: true } }
        }
      } as unknown as BenchRun
      const st = yield* runSettings(run)
      expect(st.flags.dataParallelSize).toBe(2)
      expect(st.flags.enableExpertParallel).toBe(true)
      expect(st.honoured).toContain("data_parallel_size=2")
      expect(st.honoured).toContain("enable_expert_parallel=true")
      expect(st.notHonoured.some((s) => s.includes("not wired"))).toBe(false)
      const c = yield* cfgOf({ ...st.flags })
      expect(c.numInstances).toBe(2)
      expect(moeParallelOf(c.model, c.engine)!.ep).toBe(2)
    }))
})

import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { listHardware, listModels, loadHardware, loadModel } from "../../src/config/catalog.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { kvBytesPerToken, parameterCount } from "../../src/domain/Model.js"

describe("ConfigService catalogue", () => {
  it("bundles the required models and hardware", () => {
    for (const m of ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-8B", "facebook/opt-6.7b", "meta-llama/Llama-3.1-70B-Instruct", "Qwen/Qwen3-32B", "mistralai/Mixtral-8x7B-v0.1", "Qwen/Qwen3-30B-A3B"]) {
      expect(listModels()).toContain(m)
    }
    for (const h of ["H100", "A100", "L40", "RTX4090", "A6000", "A40", "RTX4080", "RTX3090", "A10", "V100", "T4", "H200", "L40S", "B200", "RTXPRO6000", "MI300X"]) {
      expect(listHardware()).toContain(h)
    }
  })

  it.effect("KV bytes per token at 16 bit (vLLM's figures)", () =>
    Effect.gen(function*() {
      const kv = (name: string) => loadModel(name).pipe(Effect.map((m) => kvBytesPerToken(m.shape, 2)))
      expect(yield* kv("meta-llama/Llama-3.1-8B-Instruct")).toBe(131_072)
      expect(yield* kv("Qwen/Qwen3-8B")).toBe(147_456)
      expect(yield* kv("facebook/opt-6.7b")).toBe(524_288)
      expect(yield* kv("Qwen/Qwen3-30B-A3B")).toBe(98_304)
      expect(yield* kv("meta-llama/Llama-3.1-70B-Instruct")).toBe(327_680)
    }))

  it.effect("parameter counts match the published sizes", () =>
    Effect.gen(function*() {
      const params = (name: string) => loadModel(name).pipe(Effect.map((m) => parameterCount(m.shape) / 1e9))
      // Llama-3.1-8B weights = 16,060,522,496 bytes in bf16 (LLMServingSim's get_weight agrees)
      expect(parameterCount((yield* loadModel("meta-llama/Llama-3.1-8B-Instruct")).shape) * 2).toBe(16_060_522_496)
      expect(yield* params("meta-llama/Llama-3.1-70B-Instruct")).toBeCloseTo(70.6, 1)
      expect(yield* params("mistralai/Mixtral-8x7B-v0.1")).toBeCloseTo(46.7, 1)
      expect(yield* params("Qwen/Qwen3-30B-A3B")).toBeCloseTo(30.5, 1)
      expect(yield* params("facebook/opt-6.7b")).toBeCloseTo(6.66, 1)
    }))

  it.effect("names match case-insensitively, by org-less id and by alias", () =>
    Effect.gen(function*() {
      expect((yield* loadModel("qwen/qwen3-8b")).shape.id).toBe("Qwen/Qwen3-8B")
      expect((yield* loadModel("opt-6.7b")).shape.id).toBe("facebook/opt-6.7b")
      expect((yield* loadHardware("rtx-4090")).name).toBe("RTX4090")
      expect((yield* loadHardware("h100-sxm")).name).toBe("H100")
      expect((yield* loadHardware("a100")).memoryBandwidthGBs).toBe(2039)
    }))

  it.effect("an unknown name lists the known ones", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadHardware("Z80"))
      expect(e._tag).toBe("UnknownName")
      expect(e.message).toContain("RTX4090")
      const m = yield* Effect.flip(loadModel("gpt-5"))
      expect(m.message).toContain("Qwen/Qwen3-8B")
    }))

  it.effect("a config.json by path; a bad one names the field", () =>
    Effect.gen(function*() {
      const m = yield* loadModel("resources/models/Qwen/Qwen3-8B/config.json")
      expect(m.shape.layers).toBe(36)
      // reported under its path (it may be an edited copy); profiles are found under the model it names
      expect(m.shape.id).toBe("Qwen/Qwen3-8B (from resources/models/Qwen/Qwen3-8B/config.json)")
      expect(m.shape.name).toBe("Qwen/Qwen3-8B")
      expect(m.shape.path).toBe("resources/models/Qwen/Qwen3-8B/config.json")
      const bundled = yield* loadModel("qwen3-8b")
      expect([bundled.shape.id, bundled.shape.name, bundled.shape.path]).toEqual(["Qwen/Qwen3-8B", "Qwen/Qwen3-8B", null])
      const bad = yield* Effect.flip(loadModel("test/fixtures/traces/v2.jsonl"))
      expect(bad._tag).toBe("InputError")
      const missing = yield* Effect.flip(loadModel("./nope/config.json"))
      expect(missing.message).toContain("no such file")
    }))

  it.effect("KV capacity: the RTX 4090 reference run's 2,588 blocks; zero memory left fails clearly", () =>
    Effect.gen(function*() {
      const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", maxModelLen: 32768 })
      const { kvCapacity } = yield* Effect.promise(() => import("../../src/memory/capacity.js"))
      const cap = kvCapacity(cfg.model, cfg.hardware, cfg.engine)
      expect("numBlocks" in cap && cap.numBlocks).toBe(2588)
      const r = yield* Effect.either(resolveConfig({ model: "meta-llama/Llama-3.1-70B-Instruct", hardware: "RTX4090" }))
      expect(Either.isLeft(r) && r.left._tag).toBe("NoKvMemory")
      const tp = yield* resolveConfig({ model: "meta-llama/Llama-3.1-70B-Instruct", hardware: "H100", tensorParallelSize: 4 })
      expect(tp.engine.tensorParallelSize).toBe(4)
    }))

  it.effect("flag ranges are checked and name the flag", () =>
    Effect.gen(function*() {
      const bad = (f: Record<string, number>) => Effect.flip(resolveConfig({ model: "Qwen/Qwen3-8B", hardware: "H100", ...f })).pipe(Effect.map((e) => e.message))
      expect(yield* bad({ gpuMemoryUtilization: 1.5 })).toContain("--gpu-memory-utilization")
      expect(yield* bad({ maxNumSeqs: 0 })).toContain("--max-num-seqs")
      expect(yield* bad({ blockSize: -16 })).toContain("--block-size")
      expect(yield* bad({ maxModelLen: 10_000_000 })).toContain("--max-model-len")
      expect(yield* bad({ tensorParallelSize: 3 })).toContain("--tensor-parallel-size")
    }))
})

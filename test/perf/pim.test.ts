/**
 * PIM attention offload (--pim-config): the PIM and link times of a tiny config by hand, the
 * serial and interleaved step compositions, the KV capacity on the device, and the errors of a bad
 * config file.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Either } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { defaultRooflineParams } from "../../src/domain/PerfParams.js"
import { loadPimConfig, type PimConfig } from "../../src/domain/Pim.js"
import { kvCapacity } from "../../src/memory/capacity.js"
import { zeroNetwork } from "../../src/network/NetworkService.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { makePimPerf, pimAttentionNs, pimPrefillLinkNs } from "../../src/perf/pim.js"
import { makeRoofline } from "../../src/perf/roofline.js"
import { testHardware, testModel } from "../helpers.js"

// test/tiny: 4 layers, 8 heads x head_dim 64, 2 KV heads, 16-bit KV: K+V of a token in a layer = 2 x 2 x 64 x 2 = 512 B,
// a query (or an attention output) = 8 x 64 x 2 = 1,024 B
const pim: PimConfig = {
  name: "tiny", channels: 2, channelBandwidthGBs: 64, channelGflops: 8, capacityGB: 0.001,
  link: { bandwidthGBs: 128, latencyNs: 100 }, interleave: false, source: "test"
}
const engine = defaultEngineConfig(1 << 20, 2)

describe("PIM times by hand", () => {
  it("decode attention: the slower of bank bandwidth and PIM compute, plus the link, per layer", () => {
    // 2 decodes, context 1,000: memory 1,000 x 512 / (2 x 64) = 4,000 ns; compute 4 x 8 x 64 x 1,000 / (2 x 8) = 128,000 ns;
    // link 2 x 100 + 2 x (2 x 1,024 + 512) / 128 = 240 ns; 4 layers x 128,240 = 512,960 ns
    expect(pimAttentionNs(testModel, engine, pim, 2, 1000)).toBe(512_960)
    // bandwidth-bound when PIM compute is plentiful: 4 x (4,000 + 240) = 16,960
    expect(pimAttentionNs(testModel, engine, { ...pim, channelGflops: 1e6 }, 2, 1000)).toBe(16_960)
    expect(pimAttentionNs(testModel, engine, pim, 0, 0)).toBe(0)
  })
  it("a prefill chunk writes its K/V to the device over the link", () => {
    // chunk 100 at context 0: 4 layers x (100 + 100 x 512 / 128) = 2,000 ns
    expect(pimPrefillLinkNs(testModel, engine, pim, batchShapeOf([[100, 0]], []))).toBe(2_000)
    // chunk 100 after 50 cached: the 50 come back too (one more transfer): 4 x (200 + 150 x 4) = 3,200
    expect(pimPrefillLinkNs(testModel, engine, pim, batchShapeOf([[100, 50]], []))).toBe(3_200)
  })
  it("the GPU side leaves decode attention out", () => {
    // full roofline attention per layer for 2 decodes of total context 1,000: bytes (1,000 + 2) x 512 + 2 x 2 x 512 x 2 = 517,120
    // at 1,000 GB/s x 0.8 = 646.4 ns (FLOPs 2,048,000 / 50,000 per ns = 41 ns); 4 layers = 2,585.6 ns
    const full = makeRoofline(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork)
    const off = makeRoofline(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork, { offloadDecodeAttention: true })
    const b = batchShapeOf([], [400, 600])
    expect(Math.abs(full.stepTimeNs(b) - off.stepTimeNs(b) - 2585.6)).toBeLessThanOrEqual(1)
  })
  it("serial: GPU then PIM; interleaved: the step overhead plus, per half, the slower of GPU and PIM", () => {
    const off = makeRoofline(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork, { offloadDecodeAttention: true })
    const b = batchShapeOf([], [200, 300, 250, 250])
    const serial = makePimPerf(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork, pim)
    // 4 decodes of context 1,000 on PIM: 4 x (128,000 + 200 + 4 x 2,560 / 128) = 513,120 ns
    expect(serial.stepTimeNs(b)).toBe(off.stepTimeNs(b) + 513_120)
    // interleaved: halves of 2 decodes, context 500 each: PIM 4 x (64,000 + 240) = 256,960 ns each, slower than the
    // tiny model's GPU half (under 100 us without the 1 ms step overhead) -> 1,000,000 + 2 x 256,960
    const inter = makePimPerf(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork, { ...pim, interleave: true })
    const half = off.stepTimeNs(batchShapeOf([], [250, 250])) - defaultRooflineParams.stepOverheadNs
    expect(half).toBeLessThan(256_960)
    expect(inter.stepTimeNs(b)).toBe(1_000_000 + 2 * 256_960)
    // GPU-bound halves when the PIM is fast: overhead + 2 x the GPU half
    const fast = makePimPerf(testModel, testHardware, engine, defaultRooflineParams, zeroNetwork, { ...pim, interleave: true, channelGflops: 1e9, channelBandwidthGBs: 1e9, link: { bandwidthGBs: 1e9, latencyNs: 0 } })
    expect(Math.abs(fast.stepTimeNs(b) - (1_000_000 + 2 * half))).toBeLessThanOrEqual(1)
    // no decodes: the GPU alone plus the prefill's KV over the link
    const p = batchShapeOf([[100, 0]], [])
    expect(serial.stepTimeNs(p)).toBe(off.stepTimeNs(p) + 2_000)
  })
  it("the KV cache lives on the device: floor(capacity / block bytes) blocks", () => {
    // block of 16 tokens x 4 layers x 512 B = 32,768 B; 1 MB / 32,768 = 30 blocks
    const cap = kvCapacity(testModel, testHardware, engine, 1e6)
    expect("_tag" in cap ? cap : cap.numBlocks).toBe(30)
  })
})

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pim-test-"))
const write = (name: string, body: unknown) => {
  const f = path.join(tmp, name)
  fs.writeFileSync(f, typeof body === "string" ? body : JSON.stringify(body))
  return f
}
const message = <A, E extends { message: string }>(e: Effect.Effect<A, E>) =>
  Effect.either(e).pipe(Effect.map((r) => (Either.isLeft(r) ? r.left.message : "no error")))

describe("--pim-config file errors name the file and the field", () => {
  const good = JSON.parse(fs.readFileSync("resources/pim/hbm-pim-h100.json", "utf8")) as Record<string, unknown>
  it.effect("the bundled examples load", () =>
    Effect.gen(function*() {
      const a = yield* loadPimConfig("resources/pim/hbm-pim-h100.json")
      const b = yield* loadPimConfig("resources/pim/hbm-pim-h100-interleave.json")
      expect([a.channels, a.interleave, b.interleave]).toEqual([80, false, true])
    }))
  it.effect("a missing field", () =>
    Effect.gen(function*() {
      const { channels: _, ...rest } = good
      const f = write("missing.json", rest)
      expect(yield* message(loadPimConfig(f))).toMatch(new RegExp(`${f}.*channels`))
    }))
  it.effect("a negative bandwidth", () =>
    Effect.gen(function*() {
      const f = write("neg.json", { ...good, link: { bandwidthGBs: -1, latencyNs: 0 } })
      expect(yield* message(loadPimConfig(f))).toMatch(/link\.bandwidthGBs/)
    }))
  it.effect("an unknown field (a typo would be ignored)", () =>
    Effect.gen(function*() {
      const f = write("typo.json", { ...good, interleaved: true })
      expect(yield* message(loadPimConfig(f))).toMatch(/interleaved.*no such field/)
    }))
  it.effect("not JSON, and no such file", () =>
    Effect.gen(function*() {
      expect(yield* message(loadPimConfig(write("bad.json", "{ nope")))).toMatch(/bad\.json.*valid JSON/)
      expect(yield* message(loadPimConfig(path.join(tmp, "absent.json")))).toMatch(/absent\.json: no such file/)
    }))
  it.effect("refused with pipeline parallelism and with a measured perf model", () =>
    Effect.gen(function*() {
      const f = "resources/pim/hbm-pim-h100.json"
      const base = { model: "meta-llama/Llama-3.1-8B", hardware: "H100" }
      expect(yield* message(resolveConfig({ ...base, pimConfig: f, pipelineParallelSize: 2 }))).toMatch(/^--pim-config: .*pipeline-parallel-size/)
      expect(yield* message(resolveConfig({ ...base, pimConfig: f, perfModel: "op-roofline" }))).toMatch(/^--pim-config: runs on the datasheet roofline only/)
      const ok = yield* resolveConfig({ ...base, pimConfig: f })
      expect(ok.pim?.capacityGB).toBe(30)
      // the GPU still holds the weights: 70B in 16 bit does not fit one H100 even with the KV elsewhere
      expect(yield* message(resolveConfig({ model: "meta-llama/Llama-3.1-70B-Instruct", hardware: "H100", pimConfig: f }))).toMatch(/with --pim-config the GPU still holds the weights/)
    }))
})

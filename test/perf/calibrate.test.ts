import { zeroNetwork } from "../../src/network/NetworkService.js"
/** Done-when 3: a calibration fitted on one model's profile transfers to other models on that GPU. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadHardware, loadModel } from "../../src/config/catalog.js"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import type { Hardware } from "../../src/domain/Hardware.js"
import type { ModelShape } from "../../src/domain/Model.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { calibrate } from "../../src/perf/calibrate.js"
import { datasheetOpParams, makeOpCosts, makeOpRoofline, type OpParams } from "../../src/perf/opModel.js"
import { loadProfile } from "../../src/perf/profile/load.js"
import { bundleCsvs, bundleMeta } from "../../src/perf/setupPerf.js"

const zeroNet = zeroNetwork
const profiles = path.resolve(import.meta.dirname, "..", "..", "..", "shared", "reference", "llmservingsim-profiles")

/** Step times are physically consistent across models for a calibration `p` on `hw`. */
const checkTransfer = (p: OpParams, hw: Hardware, llama: ModelShape, qwen: ModelShape, opt: ModelShape) => {
  const step = (m: ModelShape, prefill: ReadonlyArray<readonly [number, number]>, dec: ReadonlyArray<number>) =>
    makeOpRoofline("t", m, hw, defaultEngineConfig(m.maxPositions, 2), p, zeroNet).stepTimeNs(batchShapeOf(prefill, dec))
  // weight/FLOP-bound steps: ordered by the work each model does (Qwen3-8B 8.2B > Llama 8.0B > OPT 6.7B)
  for (const [pre, dec] of [[[], [128]], [[], new Array(8).fill(256)], [[[2048, 0]], []], [[[512, 0]], new Array(16).fill(128)]] as const) {
    const q = step(qwen, pre, dec)
    const l = step(llama, pre, dec)
    const o = step(opt, pre, dec)
    expect(q).toBeGreaterThan(l)
    expect(l).toBeGreaterThan(o)
    // and by no more than their weight/FLOP ratio allows (8.2 / 6.7 = 1.22, plus LM-head differences)
    expect(q / o).toBeLessThan(1.6)
  }
  // KV-bound decode: OPT's 32 KV heads read 4x Llama's KV, so it is the slowest at long context
  expect(step(opt, [], new Array(64).fill(8192))).toBeGreaterThan(step(llama, [], new Array(64).fill(8192)))
  // every model: more work, more time
  for (const m of [llama, qwen, opt]) {
    let prev = 0
    for (const n of [1, 8, 32, 128, 256]) {
      const t = step(m, [], new Array(n).fill(1024))
      expect(t).toBeGreaterThan(prev)
      prev = t
    }
    expect(step(m, [[2048, 0]], [])).toBeGreaterThan(step(m, [[512, 0]], []))
  }
}

describe("calibration", () => {
  it.effect("recovers the parameters of a profile written by the roofline, and transfers to Qwen3-8B and OPT-6.7B", () =>
    Effect.gen(function*() {
      const llama = (yield* loadModel("meta-llama/Llama-3.1-8B")).shape
      const qwen = (yield* loadModel("Qwen/Qwen3-8B")).shape
      const opt = (yield* loadModel("facebook/opt-6.7b")).shape
      const hw = yield* loadHardware("A100")
      const e = defaultEngineConfig(llama.maxPositions, 2)
      const truth: OpParams = { ...datasheetOpParams, gemmComputeEff: 0.75, gemmMemoryEff: 0.85, attnComputeEff: 0.55, attnMemoryEff: 0.8, elementwiseMemoryEff: 0.7, kernelOverheadNs: 3000, smoothing: 100 }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cal-"))
      const csv = bundleCsvs(makeOpCosts(llama, hw, e, truth))
      fs.mkdirSync(path.join(dir, "tp1"))
      fs.writeFileSync(path.join(dir, "meta.yaml"), bundleMeta(llama, hw, e, "bf16", "synthetic", truth))
      fs.writeFileSync(path.join(dir, "tp1", "dense.csv"), csv.dense)
      fs.writeFileSync(path.join(dir, "tp1", "per_sequence.csv"), csv.perSequence)
      fs.writeFileSync(path.join(dir, "tp1", "attention.csv"), csv.attention)
      const prof = yield* loadProfile(dir, { model: llama, hardware: hw, tp: 1 })
      const r = calibrate(prof, llama, hw, e)
      for (const [op, s] of Object.entries(r.fit)) expect(s.mean_abs_err_pct, op).toBeLessThan(5)
      expect(r.params.gemmComputeEff).toBeGreaterThan(0.65)
      expect(r.params.gemmComputeEff).toBeLessThan(0.85)
      checkTransfer(r.params, hw, llama, qwen, opt)
      fs.rmSync(dir, { recursive: true })
    }), 60_000)

  describe.skipIf(!fs.existsSync(profiles))("on the measured RTX 4090 profile (../shared/reference)", () => {
    it.effect("fits GEMMs within 6% and transfers to Qwen3-8B and OPT-6.7B consistently", () =>
      Effect.gen(function*() {
        const llama = (yield* loadModel("meta-llama/Llama-3.1-8B")).shape
        const qwen = (yield* loadModel("Qwen/Qwen3-8B")).shape
        const opt = (yield* loadModel("facebook/opt-6.7b")).shape
        const hw = yield* loadHardware("RTX4090")
        const e = defaultEngineConfig(llama.maxPositions, 2)
        const prof = yield* loadProfile(profiles, { model: llama, hardware: hw, tp: 1 })
        const r = calibrate(prof, llama, hw, e)
        for (const op of ["qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"]) expect(r.fit[op]!.mean_abs_err_pct, op).toBeLessThan(7)
        expect(r.fit["attention"]!.mean_abs_err_pct).toBeLessThan(25)
        checkTransfer(r.params, hw, llama, qwen, opt)
      }), 60_000)
  })
})

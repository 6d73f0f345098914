/**
 * calibrate refuses a profile without points of a kernel family and explains fitted efficiencies
 * above 100% of a datasheet peak (fixture test/fixtures/perf/calibrate-no-gemm: a bundle whose
 * dense.csv has only element-wise kernels, no GEMM and no attention table).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadHardware, loadModel } from "../../src/config/catalog.js"
import { checkFamilies, efficiencyNotes } from "../../src/perf/calibrate.js"
import { datasheetOpParams } from "../../src/perf/opModel.js"
import { loadProfile } from "../../src/perf/profile/load.js"
import { runCapture } from "../cli/capture.js"

const NO_GEMM = "test/fixtures/perf/calibrate-no-gemm"
const profiles = path.resolve(import.meta.dirname, "..", "..", "..", "shared", "reference", "llmservingsim-profiles")

describe("calibrate checks", () => {
  it.effect("a profile without GEMM or attention points is refused, naming the missing families", () =>
    Effect.gen(function*() {
      const model = (yield* loadModel("meta-llama/Llama-3.1-8B")).shape
      const hardware = yield* loadHardware("RTX4090")
      const prof = yield* loadProfile(NO_GEMM, { model, hardware, tp: 1 })
      const e = yield* Effect.flip(checkFamilies(prof))
      expect(e._tag).toBe("FitRejected")
      expect(e.message).toContain("no GEMM kernel points (qkv_proj, o_proj, gate_up_proj, down_proj, lm_head)")
      expect(e.message).toContain("no attention kernel points")
      expect(e.message).not.toContain("element-wise kernel points")
      const r = yield* runCapture("calibrate", "--profile", NO_GEMM, "--hardware", "RTX4090", "--model", "meta-llama/Llama-3.1-8B")
      expect(r.code).toBe(1)
      expect(r.stderr.trim().split("\n")).toHaveLength(1)
      expect(r.stderr).toContain("error: cannot calibrate from")
    }))

  it.effect("efficiencies above 100% of a datasheet peak get one note each; others none", () =>
    Effect.gen(function*() {
      const hw = yield* loadHardware("RTX4090")
      expect(efficiencyNotes({ ...datasheetOpParams, gemmComputeEff: 0.9, elementwiseMemoryEff: 1 }, hw)).toEqual([])
      const notes = efficiencyNotes({ ...datasheetOpParams, gemmComputeEff: 1.2, elementwiseMemoryEff: 1.322 }, hw)
      expect(notes).toHaveLength(2)
      expect(notes[0]).toMatch(/^GEMM 120% of datasheet [\d.]+ TFLOP\/s: .*; kept$/)
      expect(notes[1]).toBe(`element-wise 132% of datasheet ${hw.memoryBandwidthGBs} GB/s: small tensors served from L2; kept`)
    }))

  it.effect.skipIf(!fs.existsSync(profiles))("on the measured RTX 4090 profile: the element-wise efficiency above 100% is kept and noted", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("calibrate", "--profile", profiles, "--hardware", "RTX4090", "--model", "meta-llama/Llama-3.1-8B")
      expect(r.code, r.stderr).toBe(0)
      const notes = r.stdout.split("\n").filter((l) => l.includes("note:"))
      expect(notes).toHaveLength(1)
      expect(notes[0]).toMatch(/note: element-wise 13\d% of datasheet 1008 GB\/s: small tensors served from L2; kept/)
    }), 60_000)
})

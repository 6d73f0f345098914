/**
 * Calibration files (perf/calibration.ts): version 1 files still load; a malformed file is refused
 * naming the file and the field; on the GPU it was fitted on a calibration prices steps with its
 * GPU part, on another GPU it keeps the stack part (per-step overhead, front end) and re-derives the
 * GPU part from the datasheet roofline; explicit flags win over the file.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { resolveConfig } from "../../src/config/resolve.js"
import { defaultRooflineParams } from "../../src/domain/PerfParams.js"
import { DEFAULT_FRONT_END } from "../../src/frontend/FrontEnd.js"
import { zeroNetwork } from "../../src/network/NetworkService.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { applyCalibration, type CalibrationFile, readCalibration, writeCalibration } from "../../src/perf/calibration.js"
import { makeOpRoofline } from "../../src/perf/opModel.js"
import { makeRoofline } from "../../src/perf/roofline.js"
import { makePerfModel } from "../../src/perf/spec.js"

const V1 = path.join(import.meta.dirname, "..", "fixtures", "perf", "calibration-v1-rtx4090.json")

/** A version 2 calibration fitted on the RTX 4090 with a stack part of 250 us per step and a front end. */
const v2: CalibrationFile = {
  format: "llmservingsim-ts/calibration",
  version: 2,
  hardware: "RTX4090",
  fitted_on: { model: "meta-llama/Llama-3.1-8B", format: "llmservingsim-bench", run: "run/", workload: "w.jsonl" },
  gpu: { gemmComputeEff: 0.9, gemmMemoryEff: 0.95, attnComputeEff: 0.6, attnMemoryEff: 0.9, elementwiseMemoryEff: 1.3, kernelOverheadNs: 2000, smoothing: 3 },
  stack: { step_overhead_ns: 250_000, front_end: { ingress_us: 800, tokenize_us_per_token: 2.5, egress_us: 40 } }
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "calfile-"))
const writeJson = (dir: string, name: string, v: unknown) => {
  const f = path.join(dir, name)
  fs.writeFileSync(f, typeof v === "string" ? v : JSON.stringify(v))
  return f
}

describe("calibration files", () => {
  it.effect("a version 1 file (calibrate --profile before the stack part) still loads: params are the GPU part, params.stepOverheadNs the stack part", () =>
    Effect.gen(function*() {
      const raw = JSON.parse(fs.readFileSync(V1, "utf8")) as { version: number; params: Record<string, number> }
      expect(raw.version).toBe(1)
      const c = yield* readCalibration(V1)
      expect(c.version).toBe(2)
      expect(c.hardware).toBe("RTX4090")
      expect(c.fitted_on.profile).toContain("RTX4090")
      expect(c.gpu.gemmComputeEff).toBe(raw.params["gemmComputeEff"])
      expect(c.gpu.attnMixedMemoryEff).toBe(raw.params["attnMixedMemoryEff"])
      expect("stepOverheadNs" in c.gpu).toBe(false)
      expect(c.stack).toEqual({ step_overhead_ns: raw.params["stepOverheadNs"] })
      expect(Object.keys(c.fit ?? {})).toContain("attention")
    }))

  it.effect("a version 2 file round-trips", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const f = path.join(dir, "c.json")
      yield* writeCalibration(f, v2)
      expect(yield* readCalibration(f)).toEqual(v2)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("a malformed file is refused with a message naming the file and the field", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const cases: ReadonlyArray<readonly [string, unknown, string]> = [
        ["not-json.json", "{ nope", "expected valid JSON"],
        ["array.json", [1, 2], "expected a JSON object"],
        ["format.json", { ...v2, format: "something-else" }, "field 'format'"],
        ["version.json", { ...v2, version: 3 }, "field 'version': expected 1 or 2 (got 3)"],
        ["no-gpu.json", { ...v2, gpu: undefined }, "field 'gpu': expected an object"],
        ["no-stack.json", { ...v2, stack: "fast" }, "field 'stack': expected an object"],
        ["bad-eff.json", { ...v2, gpu: { ...v2.gpu, gemmComputeEff: -0.5 } }, "field 'gpu.gemmComputeEff'"],
        ["missing-eff.json", { ...v2, gpu: { ...v2.gpu, attnComputeEff: undefined } }, "field 'gpu.attnComputeEff'"],
        ["bad-step.json", { ...v2, stack: { step_overhead_ns: "1ms" } }, "field 'stack.step_overhead_ns'"],
        ["bad-front.json", { ...v2, stack: { step_overhead_ns: 0, front_end: { ingress_us: 1, tokenize_us_per_token: -1, egress_us: 0 } } }, "field 'stack.front_end.tokenize_us_per_token'"],
        ["v1-bad.json", { ...JSON.parse(fs.readFileSync(V1, "utf8")), params: { ...JSON.parse(fs.readFileSync(V1, "utf8")).params, smoothing: 0.5 } }, "field 'params.smoothing'"]
      ]
      for (const [name, content, expected] of cases) {
        const f = writeJson(dir, name, content)
        const e = yield* Effect.flip(readCalibration(f))
        expect(e._tag, name).toBe("InputError")
        expect(e.message, name).toContain(f)
        expect(e.message, name).toContain(expected)
      }
      // a key given twice (JSON.parse would keep the last) and Infinity (1e999) name the field
      const good = fs.readFileSync(V1, "utf8")
      fs.writeFileSync(path.join(dir, "twice.json"), good.replace(/\{/, '{"format": "x", '))
      expect((yield* Effect.flip(readCalibration(path.join(dir, "twice.json")))).message).toContain("field 'format': expected each key once")
      fs.writeFileSync(path.join(dir, "inf.json"), good.replace(/"smoothing":\s*[0-9.e+-]+/, '"smoothing": 1e999'))
      expect((yield* Effect.flip(readCalibration(path.join(dir, "inf.json")))).message).toContain("smoothing': expected a decimal number (got 1e999")
      // the expectation is worded once ("expected a positive number (got -1)"), not "expected Expected ..."
      expect((yield* Effect.flip(readCalibration(path.join(dir, "bad-eff.json")))).message).not.toContain("expected Expected")
      const missing = yield* Effect.flip(readCalibration(path.join(dir, "absent.json")))
      expect(missing._tag).toBe("FileError")
      expect(missing.message).toContain("absent.json")
      // through --perf-model: the same message, before any simulation
      const e = yield* Effect.flip(resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", perfModel: `calibrated:${path.join(dir, "bad-eff.json")}` }))
      expect(e.message).toContain("bad-eff.json: field 'gpu.gemmComputeEff'")
      fs.rmSync(dir, { recursive: true })
    }))
})

describe("a calibration applied on its own GPU and on another", () => {
  it("keeps the stack part everywhere and the GPU part on its own GPU only (applyCalibration)", () => {
    const same = applyCalibration(v2, "RTX4090", defaultRooflineParams)
    expect(same.gpuPart).toBe("fitted")
    if (same.gpuPart !== "fitted") throw new Error("unreachable")
    expect(same.params).toEqual({ ...v2.gpu, stepOverheadNs: 250_000 })
    const other = applyCalibration(v2, "RTXPRO6000", { ...defaultRooflineParams, computeEfficiency: 0.6 })
    expect(other.gpuPart).toBe("datasheet")
    if (other.gpuPart !== "datasheet") throw new Error("unreachable")
    // the datasheet roofline (with the flags it was resolved from) plus the stack part's step overhead
    expect(other.roofline).toEqual({ ...defaultRooflineParams, computeEfficiency: 0.6, stepOverheadNs: 250_000 })
    expect(other.name).toContain("GPU part from its datasheet roofline, stack part from RTX4090")
    // an explicit --step-overhead-us wins on both
    const flagged = applyCalibration(v2, "RTX4090", defaultRooflineParams, 7_000)
    expect(flagged.gpuPart === "fitted" && flagged.params.stepOverheadNs).toBe(7_000)
    const flaggedOther = applyCalibration(v2, "H100", defaultRooflineParams, 7_000)
    expect(flaggedOther.gpuPart === "datasheet" && flaggedOther.roofline.stepOverheadNs).toBe(7_000)
  })

  it.effect("prices steps with the GPU part on the RTX 4090, and on the RTX PRO 6000 as the datasheet roofline plus the stack part", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const f = path.join(dir, "c.json")
      yield* writeCalibration(f, v2)
      const batches = [batchShapeOf([], [512]), batchShapeOf([[2048, 0]], []), batchShapeOf([[256, 1024]], new Array(32).fill(2000))]
      const own = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", perfModel: `calibrated:${f}` })
      const ownPerf = makePerfModel(own.perfModel!.spec, own, zeroNetwork, own.perfModel!.stepOverheadNs)
      const ownRef = makeOpRoofline("x", own.model, own.hardware, own.engine, { ...v2.gpu, stepOverheadNs: 250_000 }, zeroNetwork)
      for (const b of batches) expect(ownPerf.stepTimeNs(b)).toBe(ownRef.stepTimeNs(b))
      expect(ownPerf.name).toBe("calibrated(RTX4090, from meta-llama/Llama-3.1-8B)")

      const other = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTXPRO6000", perfModel: `calibrated:${f}` })
      const otherPerf = makePerfModel(other.perfModel!.spec, other, zeroNetwork, other.perfModel!.stepOverheadNs)
      const datasheet = makeRoofline(other.model, other.hardware, other.engine, { ...other.roofline, stepOverheadNs: 0 }, zeroNetwork)
      for (const b of batches) expect(otherPerf.stepTimeNs(b)).toBe(datasheet.stepTimeNs(b) + 250_000)
      expect(otherPerf.name).toContain("calibrated(RTXPRO6000: GPU part from its datasheet roofline")
      // --step-overhead-us still wins
      const flagged = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTXPRO6000", perfModel: `calibrated:${f}`, stepOverheadUs: 10 })
      const flaggedPerf = makePerfModel(flagged.perfModel!.spec, flagged, zeroNetwork, flagged.perfModel!.stepOverheadNs)
      for (const b of batches) expect(flaggedPerf.stepTimeNs(b)).toBe(datasheet.stepTimeNs(b) + 10_000)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("the stack part's front end sets the --frontend-* values on any GPU, each unless its flag is given; a file without one leaves the defaults", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const f = path.join(dir, "c.json")
      yield* writeCalibration(f, v2)
      for (const hardware of ["RTX4090", "RTXPRO6000"]) {
        const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware, perfModel: `calibrated:${f}` })
        expect(cfg.frontEnd, hardware).toEqual({ ingressUs: 800, tokenizeUsPerToken: 2.5, egressUs: 40 })
      }
      const flagged = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", perfModel: `calibrated:${f}`, frontendIngressUs: 5, frontendEgressUs: 0 })
      expect(flagged.frontEnd).toEqual({ ingressUs: 5, tokenizeUsPerToken: 2.5, egressUs: 0 })
      const withoutFrontEnd = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", perfModel: `calibrated:${V1}` })
      expect(withoutFrontEnd.frontEnd).toEqual(DEFAULT_FRONT_END)
      const roofline = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090" })
      expect(roofline.frontEnd).toEqual(DEFAULT_FRONT_END)
      fs.rmSync(dir, { recursive: true })
    }))
})

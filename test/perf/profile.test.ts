import { zeroNetwork } from "../../src/network/NetworkService.js"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { attnArgsOf, datasheetOpParams, makeAttnArgs } from "../../src/perf/opModel.js"
import { makeProfilePerf, profileCosts } from "../../src/perf/profilePerf.js"
import { lookup4D, makeGrid4D } from "../../src/perf/profile/grid.js"
import { lookup1D, makeTable1D } from "../../src/perf/profile/interp.js"
import { loadProfile } from "../../src/perf/profile/load.js"
import { parsePerfModelSpec } from "../../src/perf/spec.js"
import { testHardware, testModel } from "../helpers.js"

const fx = (p: string) => path.join(import.meta.dirname, "..", "fixtures", "perf", p)
const zeroNet = zeroNetwork
const engine = defaultEngineConfig(1 << 20, 2)
const target = { model: testModel, hardware: testHardware, tp: 1 }

describe("interpolation", () => {
  const t = makeTable1D([[1, 10], [2, 12], [4, 16], [8, 24]])
  it("is exact on keys and linear between them", () => {
    expect(lookup1D(t, 4)).toBe(16)
    expect(lookup1D(t, 3)).toBe(14)
    expect(lookup1D(t, 6)).toBe(20)
  })
  it("clamps below the grid and extends along the upper-half secant above it", () => {
    expect(lookup1D(t, 0)).toBe(10)
    // secant from x=4 (16) to x=8 (24): slope 2
    expect(lookup1D(t, 16)).toBe(40)
    expect(lookup1D(t, 1e6)).toBeGreaterThan(0)
  })
  it("interpolates a 4-D attention grid linearly on every axis", () => {
    const rows: Array<[number, number, number, number, number]> = []
    for (const pc of [0, 16, 32]) for (const kp of pc === 0 ? [0] : [0, 16, 32]) for (const nd of [0, 1, 2]) for (const kd of nd === 0 ? [0] : [16, 32]) {
      if (pc + nd > 0) rows.push([pc, kp, nd, kd, pc + kp + 10 * nd * kd])
    }
    const g = makeGrid4D(rows)
    expect(lookup4D(g, 16, 16, 1, 16)).toBe(16 + 16 + 160)
    expect(lookup4D(g, 24, 24, 0, 0)).toBe(48)
    expect(lookup4D(g, 16, 0, 1, 24)).toBeCloseTo(16 + 240, 9)
    expect(lookup4D(g, 64, 0, 0, 0)).toBe(64) // extrapolated along the top two chunk values
  })
})

describe("profile readers", () => {
  it.effect("reads a 2.0 bundle and prices a step from its tables", () =>
    Effect.gen(function*() {
      const prof = yield* loadProfile(fx("bundle"), target)
      expect(prof.format).toBe("llmservingsim2")
      const { fallbacks } = profileCosts(prof, testModel, testHardware, engine, datasheetOpParams)
      expect(fallbacks).toEqual([])
      const perf = makeProfilePerf(prof, testModel, testHardware, engine, zeroNet, datasheetOpParams, 0)
      // 16 decodes of context 64: T = S = 16; every kernel is 2 us + slope x T (us)
      const T = 16
      const layer = 2 * (2 + 0.001 * T) + (2 + 0.01 * T) + (2 + 0.002 * T) + (2 + 0.008 * T) + (2 + 0.03 * T) + (2 + 0.003 * T) + (2 + 0.015 * T)
      const attn = 3 + 0.0001 * 16 * 64
      const step = (2 + 0.001 * T) * 2 + (10 + 0.05 * 16) + (10 + 0.01 * 16)
      const want = (testModel.layers * (layer + attn) + step) * 1000
      expect(perf.stepTimeNs(batchShapeOf([], new Array(16).fill(64)))).toBe(Math.round(want))
    }))

  it.effect("extrapolates beyond the measured tokens instead of failing", () =>
    Effect.gen(function*() {
      const prof = yield* loadProfile(fx("bundle"), target)
      const perf = makeProfilePerf(prof, testModel, testHardware, engine, zeroNet, datasheetOpParams, 0)
      const a = perf.stepTimeNs(batchShapeOf([[1024, 0]], []))
      const b = perf.stepTimeNs(batchShapeOf([[4096, 0]], []))
      const c = perf.stepTimeNs(batchShapeOf([[8192, 8192]], []))
      expect(b).toBeGreaterThan(a)
      expect(c).toBeGreaterThan(b)
      expect(Number.isFinite(c)).toBe(true)
    }))

  it.effect("reads the v1 layout (q/k/v and gate/up summed; decode rows for attention)", () =>
    Effect.gen(function*() {
      const prof = yield* loadProfile(fx("v1.csv"), target)
      expect(prof.format).toBe("llmservingsim-v1")
      expect(lookup1D(prof.layer.qkv_proj!, 10)).toBe(3 * 2000 + (6 + 2 + 2) * 10)
      expect(lookup1D(prof.layer.gate_up_proj!, 10)).toBe(2 * 2000 + 30 * 10)
      expect(lookup1D(prof.layer.layernorm!, 10)).toBe(2000 + 10)
      const at = prof.attention!
      expect(at.hasDecode).toBe(true)
      // one batched decode kernel: D(1) + n x (D(kd) - D(1))
      expect(at.lookup(attnArgsOf(makeAttnArgs(), 0, 0, 4, 100))).toBe(2003 + 4 * (2300 - 2003))
      // the sampler is not in v1 tables: it comes from the roofline
      expect(profileCosts(prof, testModel, testHardware, engine, datasheetOpParams).fallbacks).toEqual(["sampler"])
    }))

  it.effect("reads Vidur mlp.csv (ms) at the configured TP degree; LM head and attention fall back", () =>
    Effect.gen(function*() {
      const prof = yield* loadProfile(fx("vidur"), { ...target, tp: 2 })
      expect(prof.format).toBe("vidur")
      expect(prof.tp).toBe(2)
      expect(lookup1D(prof.layer.qkv_proj!, 8)).toBeCloseTo((0.002 + 0.00001 * 3 * 8) / 2 * 1e6, 6)
      const fb = profileCosts(prof, testModel, testHardware, { ...engine, tensorParallelSize: 2 }, datasheetOpParams).fallbacks
      expect(fb).toContain("lm_head")
      expect(fb).toContain("attention")
    }))
})

describe("user errors name the file, line and field", () => {
  it.effect("a malformed CSV row", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadProfile(fx("bad-row.csv"), target))
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain("bad-row.csv:4")
      expect(e.message).toContain("latency(ns)")
    }))
  it.effect("a missing profile folder", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadProfile(fx("no-such-dir"), target))
      expect(e._tag).toBe("FileError")
    }))
  it.effect("a folder with no profile for the GPU", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(loadProfile(path.join(import.meta.dirname, "..", "fixtures", "traces"), target))
      expect(e.message).toContain("no profile of test/tiny on TESTGPU")
    }))
  it.effect("an unknown --perf-model spec", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(parsePerfModelSpec("tables:foo"))
      expect(e.message).toContain("--perf-model")
      const e2 = yield* Effect.flip(resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", perfModel: "profile:" }))
      expect(e2._tag).toBe("InvalidOption")
    }))
  it.effect("a profile of a differently shaped model", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolveConfig({ model: "Qwen/Qwen3-8B", hardware: "H100", perfModel: `profile:${fx("bundle")}` }))
      expect(e._tag).toBe("InvalidOption")
      expect(e.message).toContain("calibrated:FILE")
    }))
})

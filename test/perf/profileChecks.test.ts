import { zeroNetwork } from "../../src/network/NetworkService.js"
/**
 * Malformed measured profiles fail with one InputError naming the file, line and field
 * (fixtures: test/fixtures/perf/malformed, copies of the bundle / v1 fixtures with one fault each);
 * layers a format defines but we do not model are read, listed and not priced.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { datasheetOpParams } from "../../src/perf/opModel.js"
import { makeProfilePerf } from "../../src/perf/profilePerf.js"
import { loadProfile } from "../../src/perf/profile/load.js"
import { testHardware, testModel } from "../helpers.js"
import { runCapture } from "../cli/capture.js"

const fx = (p: string) => path.join(import.meta.dirname, "..", "fixtures", "perf", "malformed", p)
const rel = (p: string) => path.join("test", "fixtures", "perf", "malformed", p)
const target = { model: testModel, hardware: testHardware, tp: 1 }
const fail = (p: string) => Effect.flip(loadProfile(fx(p), target))

describe("malformed profiles", () => {
  it.effect("a dense.csv with only a header is an InputError, not a silent roofline", () =>
    Effect.gen(function*() {
      const e = yield* fail("header-only")
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain(`${path.join(fx("header-only"), "tp1", "dense.csv")}:2:`)
      expect(e.message).toContain("expected at least one data row")
    }))

  it.effect("an unknown layer name is an InputError naming file, line, field and the known names", () =>
    Effect.gen(function*() {
      const e = yield* fail("bogus-layer")
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain("dense.csv:6: field 'layer': expected a known layer name: layernorm, qkv_proj")
      expect(e.message).toContain("(got \"bogus_layer\")")
      const v = yield* fail("v1-typo.csv")
      expect(v.message).toContain("v1-typo.csv:45: field 'layer_name': expected a known layer name: embedding")
      expect(v.message).toContain("\"rotary\"")
    }))

  it.effect("a fractional token count or a v1 input of 0 is an InputError saying what was expected", () =>
    Effect.gen(function*() {
      const e = yield* fail("fractional-tokens")
      expect(e.message).toContain("dense.csv:4: field 'tokens': expected an integer token count >= 1 (got \"1.5\")")
      const v = yield* fail("v1-input0.csv")
      expect(v.message).toContain("v1-input0.csv:3: field 'input': expected an integer count of new tokens >= 1 (got \"0\")")
    }))

  it.effect("layers the format defines but we do not model are read, listed and not priced", () =>
    Effect.gen(function*() {
      const p = yield* loadProfile(fx("extra-layer"), target)
      expect(p.ignored).toEqual(["qk_norm"])
      const perf = makeProfilePerf(p, testModel, testHardware, defaultEngineConfig(1 << 20, 2), zeroNetwork, datasheetOpParams, 0)
      expect(perf.name).toContain("not modelled, not priced: qk_norm")
      const g = yield* loadProfile(fx("v1-gpt-names.csv"), target)
      expect([...g.ignored!].sort()).toEqual(["ln_f", "mlp/gelu"])
    }))

  it.effect("CLI: one error line, exit 1, no stack trace", () =>
    Effect.gen(function*() {
      for (const [dir, want] of [["header-only", "expected at least one data row"], ["bogus-layer", "field 'layer'"], ["fractional-tokens", "field 'tokens'"], ["v1-input0.csv", "field 'input'"]] as const) {
        const r = yield* runCapture("simulate", "--perf-model", `profile:${rel(dir)}`, "--hardware", "RTX4090", "--model", "meta-llama/Llama-3.1-8B", "--num-requests", "5")
        expect(r.code, dir).toBe(1)
        const lines = r.stderr.trim().split("\n")
        expect(lines, dir).toHaveLength(1)
        expect(lines[0]!.startsWith("error: "), dir).toBe(true)
        expect(lines[0], dir).toContain(want)
        expect(r.stderr).not.toContain("    at ")
      }
    }))
})

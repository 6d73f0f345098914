import { zeroNetwork } from "../../src/network/NetworkService.js"
/** Done-when 4: setup-perf writes the 33 seed tables, and a table read back through the profile layer reproduces the roofline that wrote it. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { SEED_HARDWARE, SEED_MODELS } from "../../src/cli/setupPerfCommand.js"
import { loadHardware, loadModel } from "../../src/config/catalog.js"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { runCli } from "../../src/cli/run.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { datasheetOpParams, makeOpCosts, makeOpRoofline } from "../../src/perf/opModel.js"
import { makeProfilePerf } from "../../src/perf/profilePerf.js"
import { loadProfile } from "../../src/perf/profile/load.js"
import { bundleCsvs, bundleMeta, V1_HEADER, v1Rows } from "../../src/perf/setupPerf.js"
import { NodeContext } from "@effect/platform-node"

const zeroNet = zeroNetwork

describe("setup-perf", () => {
  it.effect("writes the seed's 11 GPUs x 3 models, deterministically", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "setup-perf-"))
      const code = yield* runCli(["node", "llmservingsim", "setup-perf", "--output-dir", dir, "--format", "bundle"]).pipe(Effect.provide(NodeContext.layer))
      expect(code).toBe(0)
      let n = 0
      for (const hw of SEED_HARDWARE) for (const m of SEED_MODELS) {
        const variants = fs.readdirSync(path.join(dir, "perf", hw, ...m.split("/")))
        expect(variants.length).toBe(1)
        expect(fs.existsSync(path.join(dir, "perf", hw, ...m.split("/"), variants[0]!, "tp1", "attention.csv"))).toBe(true)
        n++
      }
      expect(n).toBe(33)
      fs.rmSync(dir, { recursive: true })
    }), 60_000)

  it.effect("a bundle read back through the profile layer gives the roofline's step times", () =>
    Effect.gen(function*() {
      const m = (yield* loadModel("meta-llama/Llama-3.1-8B-Instruct")).shape
      const hw = yield* loadHardware("H100")
      const e = defaultEngineConfig(m.maxPositions, 2)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bundle-"))
      const csv = bundleCsvs(makeOpCosts(m, hw, e, datasheetOpParams))
      fs.mkdirSync(path.join(dir, "tp1"))
      fs.writeFileSync(path.join(dir, "meta.yaml"), bundleMeta(m, hw, e, "bf16", "datasheet", datasheetOpParams))
      fs.writeFileSync(path.join(dir, "tp1", "dense.csv"), csv.dense)
      fs.writeFileSync(path.join(dir, "tp1", "per_sequence.csv"), csv.perSequence)
      fs.writeFileSync(path.join(dir, "tp1", "attention.csv"), csv.attention)
      const prof = yield* loadProfile(dir, { model: m, hardware: hw, tp: 1 })
      const fromTable = makeProfilePerf(prof, m, hw, e, zeroNet, datasheetOpParams, datasheetOpParams.stepOverheadNs)
      const roof = makeOpRoofline("roof", m, hw, e, datasheetOpParams, zeroNet)
      // batches on the table grids (attention keys: chunk, cached prefix, decodes, decode context)
      const batches = [
        batchShapeOf([[2048, 0]], []),
        batchShapeOf([[512, 1024]], new Array(16).fill(4096)),
        batchShapeOf([], new Array(64).fill(1024)),
        batchShapeOf([], new Array(256).fill(16384)),
        batchShapeOf([[16, 0]], [128]),
        batchShapeOf([], [32])
      ]
      for (const b of batches) {
        const want = roof.stepTimeNs(b)
        const got = fromTable.stepTimeNs(b)
        expect(Math.abs(got - want) / want).toBeLessThan(1e-5)
      }
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("the v1 CSV read back gives the roofline's step time for prefill-only steps", () =>
    Effect.gen(function*() {
      const m = (yield* loadModel("meta-llama/Llama-3.1-8B-Instruct")).shape
      const hw = yield* loadHardware("A100")
      const e = defaultEngineConfig(m.maxPositions, 2)
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "v1-")), "A100.csv")
      fs.writeFileSync(file, V1_HEADER + v1Rows(makeOpCosts(m, hw, e, datasheetOpParams), m, hw.name))
      const prof = yield* loadProfile(file, { model: m, hardware: hw, tp: 1 })
      expect(prof.format).toBe("llmservingsim-v1")
      const fromTable = makeProfilePerf(prof, m, hw, e, zeroNet, datasheetOpParams, 0)
      const roof = makeOpRoofline("roof", m, hw, e, { ...datasheetOpParams, stepOverheadNs: 0 }, zeroNet)
      for (const c of [1, 100, 777, 2048]) {
        const b = batchShapeOf([[c, 0]], [])
        // v1 stores integer ns per layer: within a few ns per kernel
        expect(Math.abs(fromTable.stepTimeNs(b) - roof.stepTimeNs(b))).toBeLessThan(m.layers * 20 + 20)
      }
      const d = batchShapeOf([], new Array(32).fill(1000))
      expect(Math.abs(fromTable.stepTimeNs(d) - roof.stepTimeNs(d)) / roof.stepTimeNs(d)).toBeLessThan(0.01)
      fs.rmSync(path.dirname(file), { recursive: true })
    }))
})

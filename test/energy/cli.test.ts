/** `simulate --energy` and `--pim-config` on the command line: the summary sections and the refusals. */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { runCapture } from "../cli/capture.js"

const small = ["--num-requests", "20", "--input-len", "64", "--output-len", "16"]

describe("simulate --energy / --pim-config", () => {
  it.effect("--energy adds the energy section; without it there is none", () =>
    Effect.gen(function*() {
      const on = yield* runCapture("simulate", ...small, "--energy", "--json")
      expect(on.code).toBe(0)
      const e = JSON.parse(on.stdout).energy
      expect(e.gpus).toBe(1)
      expect(e.total_j).toBeCloseTo(e.idle_j + e.active_j, 6)
      expect(e.per_output_token_j).toBeCloseTo(e.total_j / (20 * 16), 9)
      const off = yield* runCapture("simulate", ...small, "--json")
      expect(JSON.parse(off.stdout).energy).toBeUndefined()
    }))

  it.effect("--energy on hardware without idleW and with --pim-config is refused", () =>
    Effect.gen(function*() {
      // a hardware file without idleW (a copy of the bundled H100's)
      const { idleW: _, powerSource: __, ...noIdle } = JSON.parse(fs.readFileSync("resources/hardware/H100.json", "utf8"))
      const hwFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hw-noidle-")), "gpu.json")
      fs.writeFileSync(hwFile, JSON.stringify({ ...noIdle, name: "NOIDLE" }))
      const a = yield* runCapture("simulate", ...small, "--energy", "--hardware", hwFile)
      expect(a.code).toBe(1)
      expect(a.stderr).toMatch(/--energy: hardware NOIDLE has no idleW/)
      const b = yield* runCapture("simulate", ...small, "--energy", "--pim-config", "resources/pim/hbm-pim-h100.json")
      expect(b.code).toBe(1)
      expect(b.stderr).toMatch(/--energy: the power of PIM devices/)
    }))

  it.effect("--pim-config runs, names the PIM in perf_model and config, and a bad file is an error naming file and field", () =>
    Effect.gen(function*() {
      const ok = yield* runCapture("simulate", ...small, "--pim-config", "resources/pim/hbm-pim-h100-interleave.json", "--json")
      expect(ok.code).toBe(0)
      const s = JSON.parse(ok.stdout)
      expect(s.config.perf_model).toMatch(/\+pim\(.*interleaved\)/)
      expect(s.config.pim.channels).toBe(80)
      const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pim-cli-")), "bad.json")
      fs.writeFileSync(f, JSON.stringify({ name: "x" }))
      const bad = yield* runCapture("simulate", ...small, "--pim-config", f)
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain(`${f}: field 'channels'`)
      expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/)
    }))
})

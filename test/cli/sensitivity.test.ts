/**
 * `simulate --sensitivity [PCT]` on the command line: the console block, summary.json's
 * `sensitivity` object (also with --json and --quiet), the main run's files unchanged by the scaled
 * runs, the bare flag's default, and the bad values refused naming the flag.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { normalizeSensitivityFlag } from "../../src/cli/sensitivity.js"
import { runCapture } from "./capture.js"

const RUN_KEYS = ["scale", "mean_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p99_tpot_ms", "mean_e2el_ms", "p99_e2el_ms", "output_throughput", "request_throughput"]
const base = ["simulate", "--num-requests", "300"]

describe("simulate --sensitivity", () => {
  it.effect("--output-dir --quiet: summary.json gets `sensitivity`; requests.csv and timeseries.csv are the main run's, byte for byte", () =>
    Effect.gen(function*() {
      const plain = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sens-"))
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sens-"))
      expect((yield* runCapture(...base, "--output-dir", plain, "--quiet")).code).toBe(0)
      const r = yield* runCapture(...base, "--sensitivity", "--output-dir", dir, "--quiet")
      expect(r.code).toBe(0)
      expect(r.stdout).toBe("")
      const s = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      const p = JSON.parse(fs.readFileSync(path.join(plain, "summary.json"), "utf8"))
      expect(Object.keys(s.sensitivity)).toEqual(["pct", "offered_request_rate", "runs", "near_saturation", "reason"])
      expect(s.sensitivity.pct).toBe(10)
      expect(s.sensitivity.runs.map((x: { scale: number }) => x.scale)).toEqual([0.9, 1, 1.1])
      for (const run of s.sensitivity.runs) expect(Object.keys(run)).toEqual(RUN_KEYS)
      expect(typeof s.sensitivity.near_saturation).toBe("boolean")
      expect(s.sensitivity.near_saturation).toBe(false) // 10 req/s on an H100: far from saturation
      expect(s.sensitivity.reason).toMatch(/^not within 10% of saturation: at step time x1\.10/)
      // the nominal row is the main run's
      expect(s.sensitivity.runs[1].mean_ttft_ms).toBe(s.mean_ttft_ms)
      expect(s.sensitivity.runs[1].request_throughput).toBe(s.request_throughput)
      // the slower run is slower
      expect(s.sensitivity.runs[2].mean_e2el_ms).toBeGreaterThan(s.mean_e2el_ms)
      const { sensitivity: _, ...rest } = s
      expect(rest).toEqual(p)
      for (const f of ["requests.csv", "timeseries.csv"]) expect(fs.readFileSync(path.join(dir, f))).toEqual(fs.readFileSync(path.join(plain, f)))
    }))

  it.effect("the console block: every metric for x1.00, x0.90 and x1.10 with its change, then the verdict", () =>
    Effect.gen(function*() {
      const r = yield* runCapture(...base, "--sensitivity")
      expect(r.code).toBe(0)
      const block = r.stdout.slice(r.stdout.indexOf(" Sensitivity: step time -10% / +10% "))
      const lines = block.split("\n")
      expect(lines[1]).toMatch(/^step time\s+x1\.00\s+x0\.90\s+x1\.10$/)
      for (const m of ["Mean TTFT (ms)", "P99 TTFT (ms)", "Mean TPOT (ms)", "P99 TPOT (ms)", "Mean E2EL (ms)", "P99 E2EL (ms)", "Output throughput (tok/s)", "Request throughput (req/s)"]) {
        expect(block).toMatch(new RegExp(`\\n${m.replace(/[()/]/g, "\\$&")}\\s+\\d+\\.\\d\\d\\s+\\d+\\.\\d\\d \\([-+]\\d+\\.\\d\\d, [-+]\\d+\\.\\d%\\)\\s+\\d+\\.\\d\\d \\([-+]\\d+\\.\\d\\d, [-+]\\d+\\.\\d%\\)\\n`))
      }
      expect(block).toMatch(/\nVerdict: not within 10% of saturation: /)
    }))

  it.effect("--json prints summary.json with `sensitivity`; --sensitivity 20 runs x0.8 and x1.2; a bare flag before another flag means 10", () =>
    Effect.gen(function*() {
      const j = yield* runCapture(...base, "--sensitivity", "20", "--json")
      expect(j.code).toBe(0)
      const s = JSON.parse(j.stdout)
      expect(s.sensitivity.pct).toBe(20)
      expect(s.sensitivity.runs.map((x: { scale: number }) => x.scale)).toEqual([0.8, 1, 1.2])
      const bare = yield* runCapture("simulate", "--sensitivity", "--num-requests", "300", "--json")
      expect(bare.code).toBe(0)
      expect(JSON.parse(bare.stdout).sensitivity.pct).toBe(10)
      const eq = yield* runCapture(...base, "--sensitivity=5", "--json")
      expect(JSON.parse(eq.stdout).sensitivity.runs.map((x: { scale: number }) => x.scale)).toEqual([0.95, 1, 1.05])
    }))

  it.effect("near capacity (the default workload at 22 req/s on an H100) is flagged", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--request-rate", "22", "--sensitivity", "--json")
      expect(r.code).toBe(0)
      const s = JSON.parse(r.stdout).sensitivity
      expect(s.near_saturation).toBe(true)
      expect(s.reason).toMatch(/^within 10% of saturation: at step time x1\.10 the throughput falls to/)
    }))

  it.effect("bad values: one error line naming --sensitivity, exit 1", () =>
    Effect.gen(function*() {
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["--sensitivity", "0"], "error: --sensitivity: expected a percentage in (0, 50] (got 0)"],
        [["--sensitivity", "60"], "error: --sensitivity: expected a percentage in (0, 50] (got 60)"],
        [["--sensitivity", "-5"], "error: --sensitivity: expected a percentage in (0, 50] (got -5)"],
        [["--sensitivity", "50.5"], "error: --sensitivity: expected a percentage in (0, 50] (got 50.5)"],
        [["--sensitivity", "abc"], "error: --sensitivity: expected a number (got \"abc\")"],
        [["--sensitivity", "5", "--sensitivity", "6"], "error: --sensitivity: given twice; give it once"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture("simulate", "--num-requests", "5", ...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toBe(message)
      }
      const sweep = yield* runCapture("sweep", "--sensitivity", "--grid", "request-rate=1,2")
      expect(sweep.code).toBe(1)
      expect(sweep.stderr).toBe("error: --sensitivity: `sweep` does not take it (it is a flag of `simulate`); see `llmservingsim sweep --help`")
    }))

  it("normalizeSensitivityFlag: a bare flag gets 10; a value (a number, or anything not a flag) stays; other commands untouched", () => {
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity"])).toEqual(["simulate", "--sensitivity=10"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity", "--quiet"])).toEqual(["simulate", "--sensitivity=10", "--quiet"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity", "-q"])).toEqual(["simulate", "--sensitivity=10", "-q"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity", "15"])).toEqual(["simulate", "--sensitivity", "15"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity", "-5"])).toEqual(["simulate", "--sensitivity", "-5"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity", "abc"])).toEqual(["simulate", "--sensitivity", "abc"])
    expect(normalizeSensitivityFlag(["simulate", "--sensitivity=7"])).toEqual(["simulate", "--sensitivity=7"])
    expect(normalizeSensitivityFlag(["sweep", "--sensitivity"])).toEqual(["sweep", "--sensitivity"])
  })
})

/**
 * calibrate --run (perf/runFit.ts, perf/calibrateRun.ts): the optimiser recovers known parameters
 * from a run the simulator itself made with them; the hold-out split is deterministic and
 * disjoint; measured and simulated requests pair; the CLI fits a vllm bench result (the synthetic
 * fixture) and writes a calibration with its stack part. No ../shared needed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { resolveConfig } from "../../src/config/resolve.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { NO_FRONT_END } from "../../src/frontend/FrontEnd.js"
import { replaySimulator } from "../../src/perf/calibrateRun.js"
import { gpuPartOf, readCalibration } from "../../src/perf/calibration.js"
import { datasheetOpParams } from "../../src/perf/opModel.js"
import { fitRun, holdoutSplit, pairRequests, type RunParams } from "../../src/perf/runFit.js"
import type { MeasuredRequests } from "../../src/validate/measured.js"
import type { SimRequestValues } from "../../src/validate/simSamples.js"
import { Rng } from "../../src/workload/Rng.js"
import { runCapture } from "../cli/capture.js"

/**
 * 80 requests: 20 alone (one at a time, short contexts: a step is mostly weights + per-step
 * overhead), then 60 at once with long prompts (large batches, KV reads as large as the weights):
 * what tells memory efficiency from per-step overhead.
 */
const handMadeWorkload = (): Array<Arrival> => {
  const rng = new Rng(7)
  const out: Array<Arrival> = []
  let t = 0
  for (let i = 0; i < 20; i++) {
    t += 10e9
    out.push({ arrivalNs: t, promptTokens: rng.int(64, 512), outputTokens: rng.int(50, 150) })
  }
  t += 10e9
  for (let i = 0; i < 60; i++) {
    t += rng.exponential(0.02e9)
    out.push({ arrivalNs: Math.round(t), promptTokens: rng.int(2000, 4000), outputTokens: rng.int(100, 300) })
  }
  return out
}

/** The simulated requests as a measured run (sent at their arrival times). */
const asMeasured = (arrivals: ReadonlyArray<Arrival>, v: SimRequestValues): MeasuredRequests => ({
  inputTokens: arrivals.map((a) => a.promptTokens),
  outputTokens: arrivals.map((a) => a.outputTokens),
  sendS: arrivals.map((a) => a.arrivalNs / 1e9),
  ttftMs: v.ttftMs,
  tpotMs: v.tpotMs,
  e2elMs: v.e2elMs
})

describe("calibrate --run: the fit", () => {
  it.effect("recovers the GEMM compute efficiency, memory efficiency and per-step overhead of a run the simulator made with them", () =>
    Effect.gen(function*() {
      const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B", hardware: "RTX4090", maxNumSeqs: 64, enablePrefixCaching: false })
      const arrivals = handMadeWorkload()
      const sim = replaySimulator(cfg, arrivals, false)
      const start: RunParams = { gpu: gpuPartOf(datasheetOpParams), stepOverheadNs: 0, frontEnd: NO_FRONT_END }
      const truth: RunParams = {
        ...start,
        gpu: { ...start.gpu, gemmComputeEff: 0.56, gemmMemoryEff: 0.92, attnMemoryEff: 0.92, elementwiseMemoryEff: 0.92 },
        stepOverheadNs: 2_000_000
      }
      const measuredRun = yield* sim(truth)
      expect(measuredRun.finished).toBe(arrivals.length)
      const measured = asMeasured(arrivals, measuredRun)
      const pairs = pairRequests(measured, arrivals)
      if (typeof pairs === "string") throw new Error(pairs)
      const split = holdoutSplit(arrivals.length, 0.5, 3)
      let simulations = 0
      const r = yield* fitRun({ measured, pairs, simulate: (p) => Effect.sync(() => simulations++).pipe(Effect.zipRight(sim(p))) }, {
        start, params: ["compute", "memory", "step-overhead"], fit: split.fit, heldOut: split.heldOut, maxEvaluations: 300
      })
      expect(r.evaluations).toBe(simulations)
      expect(r.objective).toBe("requests")
      expect(r.evaluations).toBeLessThanOrEqual(302)
      expect(r.startLoss).toBeGreaterThan(1e-3)
      expect(r.loss).toBeLessThan(r.startLoss / 100)
      expect(Math.abs(r.params.gpu.gemmComputeEff / 0.56 - 1)).toBeLessThan(0.02)
      expect(Math.abs(r.params.gpu.gemmMemoryEff / 0.92 - 1)).toBeLessThan(0.02)
      expect(r.params.gpu.attnMemoryEff).toBe(r.params.gpu.gemmMemoryEff) // one memory scale for every memory-bound kernel
      expect(Math.abs(r.params.stepOverheadNs / 2_000_000 - 1)).toBeLessThan(0.05)
      // unfitted parameters stay where they started
      expect(r.params.gpu.attnComputeEff).toBe(start.gpu.attnComputeEff)
      expect(r.params.gpu.kernelOverheadNs).toBe(start.gpu.kernelOverheadNs)
      // the held-out requests, never scored, are reproduced as well as the fit ones
      for (const k of ["ttft", "tpot", "e2el"] as const) {
        for (const st of ["mean", "p50", "p90", "p99"] as const) {
          expect(Math.abs(r.error.fit.pct[k][st]), `fit ${k} ${st}`).toBeLessThan(1)
          expect(Math.abs(r.error.heldOut!.pct[k][st]), `held-out ${k} ${st}`).toBeLessThan(1)
          expect(Math.abs(r.startError.heldOut!.pct[k][st]), `start ${k} ${st}`).toBeGreaterThan(0)
        }
      }
    }), 60_000)

  it("splits the requests into disjoint fit and held-out halves, the same for the same seed", () => {
    const a = holdoutSplit(301, 0.5, 0)
    const b = holdoutSplit(301, 0.5, 0)
    expect(a).toEqual(b)
    expect(a.heldOut.length).toBe(151) // round(150.5)
    expect(a.fit.length).toBe(150)
    const all = new Set([...a.fit, ...a.heldOut])
    expect(all.size).toBe(301) // disjoint and covering
    expect([...all].every((i) => Number.isInteger(i) && i >= 0 && i < 301)).toBe(true)
    expect([...a.fit]).toEqual([...a.fit].sort((x, y) => x - y))
    // another seed, another split; not the first half
    const c = holdoutSplit(301, 0.5, 1)
    expect(c.heldOut).not.toEqual(a.heldOut)
    expect(a.heldOut).not.toEqual(Array.from({ length: 151 }, (_, i) => i))
    expect(holdoutSplit(10, 0, 0)).toEqual({ fit: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], heldOut: [] })
    expect(() => holdoutSplit(10, 1, 0)).toThrow(RangeError)
    expect(() => holdoutSplit(1, 0.4, 0)).toThrow(RangeError)
  })

  it("pairs measured requests with the replayed ones by send order and lengths", () => {
    const arrivals = [{ promptTokens: 10, outputTokens: 5 }, { promptTokens: 20, outputTokens: 5 }, { promptTokens: 10, outputTokens: 5 }]
    // measured in another file order: sent at 2, 0, 1 s
    const m: MeasuredRequests = {
      inputTokens: [10, 10, 20], outputTokens: [5, 5, 5], sendS: [2, 0, 1],
      ttftMs: new Float64Array(3), tpotMs: new Float64Array(3), e2elMs: new Float64Array(3)
    }
    expect([...pairRequests(m, arrivals) as Int32Array]).toEqual([2, 0, 1])
    expect(pairRequests({ ...m, inputTokens: [10, 10, 30] }, arrivals)).toContain("no measured request of those lengths")
    expect(pairRequests(m, arrivals.slice(1))).toContain("2 replayed requests for 3 measured")
  })
})

describe("calibrate --run on a vllm bench result (synthetic fixture)", () => {
  const fixture = path.join(import.meta.dirname, "..", "fixtures", "vllm-bench", "synthetic-llama-3.1-8b-rtx4090.json")

  it.effect("fits, prints the fit and held-out tables and writes a calibration with a GPU part and a stack part with the front end", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calrun-"))
      const out = path.join(dir, "cal.json")
      const r = yield* runCapture("calibrate", "--run", fixture, "--hardware", "RTX4090", "--holdout", "0.3", "--max-evals", "40", "-o", out)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("hold-out: 5 requests fit, 2 held out (--holdout 0.3, --holdout-seed 0)")
      expect(r.stdout).toMatch(/fitted: compute, attention, memory, step-overhead, frontend-ingress, frontend-tokenize; \d+ evaluations/)
      expect(r.stdout).toContain("fit (in-sample)")
      expect(r.stdout).toContain("held-out (out-of-sample)")
      expect(r.stdout).toContain("held-out (out-of-sample) error: largest |error|")
      const c = yield* readCalibration(out)
      expect(c.version).toBe(2)
      expect(c.hardware).toBe("RTX4090")
      expect(c.fitted_on.run).toBe(fixture)
      expect(c.stack.front_end).toBeDefined()
      expect(c.run_fit?.["holdout"]).toBe(0.3)
      fs.rmSync(dir, { recursive: true })
    }), 60_000)

  it.effect("refuses flags that do not apply, naming them", () =>
    Effect.gen(function*() {
      for (const [args, msg] of [
        [["--run", fixture, "--profile", "x"], "error: --run: give --profile (a kernel profile) or --run (a serving run), not both"],
        [["--run", fixture, "--hardware", "RTX4090", "--holdout", "1"], "error: --holdout: expected a fraction in [0, 1)"],
        [["--run", fixture, "--hardware", "RTX4090", "--fit", "compute,speed"], "error: --fit: unknown parameter \"speed\""],
        [["--run", fixture, "--hardware", "RTX4090", "--transfer-hardware", "RTXPRO6000"], "error: --transfer-profile: the transfer check needs both"],
        [["--profile", "test/fixtures/perf/bundle", "--hardware", "RTX4090", "--model", "meta-llama/Llama-3.1-8B", "--holdout", "0.5"], "error: --holdout: applies to calibrate --run"],
        [["--hardware", "RTX4090"], "error: --profile: required"]
      ] as const) {
        const r = yield* runCapture("calibrate", ...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toContain(msg)
      }
    }), 60_000)
})

const ref = path.resolve(import.meta.dirname, "..", "..", "..", "shared", "reference")
const bench = path.join(ref, "llmservingsim-bench", "RTX4090", "Llama-3.1-8B")
const workload = path.join(ref, "traces", "llmservingsim", "current", "sharegpt-llama-3.1-8b-300-sps10.jsonl")

describe.skipIf(!fs.existsSync(bench))("calibrate --run on the RTX 4090 vLLM run (../shared/reference)", () => {
  it.effect("prints the held-out error, and the calibration carried to the RTX PRO 6000 is no worse than the datasheet there", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "calrun-ref-"))
      const out = path.join(dir, "rtx4090-run.json")
      const r = yield* runCapture("calibrate", "--run", bench, "--workload", workload, "--holdout", "0.5",
        "--transfer-hardware", "RTXPRO6000", "--transfer-profile", path.join(ref, "llmservingsim-profiles"), "-o", out)
      expect(r.code, r.stderr).toBe(0)
      console.log(r.stdout) // the fit, held-out and transfer tables of the measured RTX 4090 run
      expect(r.stdout).toContain("hold-out: 150 requests fit, 150 held out")
      for (const m of ["TTFT  fit (in-sample)", "TPOT  fit (in-sample)", "E2E   fit (in-sample)"]) expect(r.stdout).toContain(m)
      expect(r.stdout.match(/held-out \(out-of-sample\)\s+150/g)?.length).toBe(3)
      const worst = Number(/held-out \(out-of-sample\) error: largest \|error\| ([\d.]+)%/.exec(r.stdout)?.[1])
      expect(worst).toBeLessThan(3)
      expect(r.stdout).toContain("is no worse than the datasheet roofline on TPOT and E2E")
      const c = yield* readCalibration(out)
      const t = c.run_fit?.["transfer_check"] as { noWorse: boolean; rows: ReadonlyArray<{ tpotE2eMeanAbsPct: number }> }
      expect(t.noWorse).toBe(true)
      expect(t.rows[0]!.tpotE2eMeanAbsPct).toBeLessThanOrEqual(t.rows[1]!.tpotE2eMeanAbsPct)
      // the GPU part carried as-is (what calibrated: did before) was the worst of them
      expect(t.rows[3]!.tpotE2eMeanAbsPct).toBeGreaterThan(t.rows[1]!.tpotE2eMeanAbsPct)
      // the calibration replays the whole run (both halves) on the RTX 4090 within 3%
      const v = yield* runCapture("validate", "--run", bench, "--workload", workload, "--perf-model", `calibrated:${out}`, "--tolerance", "ttft=3,tpot=5,e2el=3")
      expect(v.code, v.stdout + v.stderr).toBe(0)
      fs.rmSync(dir, { recursive: true })
    }), 120_000)
})

import { describe, expect, it } from "@effect/vitest"
import { NodeContext } from "@effect/platform-node"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "../../src/cli/run.js"
import { readBenchRun, runSettings } from "../../src/validate/bench.js"
import { boundFor, parseTolerance } from "../../src/validate/compare.js"
import { runCapture } from "../cli/capture.js"

const fx = path.join(import.meta.dirname, "..", "fixtures", "bench", "tiny")
const ref = path.resolve(import.meta.dirname, "..", "..", "..", "shared", "reference")
const bench = path.join(ref, "llmservingsim-bench", "RTX4090", "Llama-3.1-8B")

describe("measured runs", () => {
  it.effect("computes TTFT/TPOT/E2E from queued/first/last timestamps and maps engine settings", () =>
    Effect.gen(function*() {
      const run = yield* readBenchRun(fx)
      expect(run.requests).toBe(4)
      expect(run.ttft.mean).toBeCloseTo(250, 6) // 100, 200, 300, 400 ms
      expect(run.tpot.mean).toBeCloseTo(20, 6)
      expect(run.e2e.median).toBeCloseTo(250 + 180, 6)
      const st = yield* runSettings(run)
      expect(st.flags).toMatchObject({ maxNumSeqs: 8, maxNumBatchedTokens: 256, blockSize: 16, enableChunkedPrefill: true, schedulerReserveFullIsl: true, enablePrefixCaching: true })
      expect(st.asyncScheduling).toBe(true)
      expect(st.honoured).toContain("enable_prefix_caching=true")
      expect(st.notHonoured.some((s) => s.startsWith("cudagraph_mode"))).toBe(true)
    }))
  it.effect("a run folder without meta.json is a FileError naming it", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(readBenchRun(path.join(fx, "vllm", "..", "..")))
      expect(e._tag).toBe("FileError")
      expect(e.message).toContain("meta.json")
    }))
  it("parses tolerances per metric family", () => {
    const t = parseTolerance("ttft=5,tpot=3,e2e=3,num_gpu_blocks=2")
    expect(typeof t).not.toBe("string")
    const m = t as Map<string, number>
    expect(boundFor(m, "p99_ttft_ms")).toBe(5)
    expect(boundFor(m, "mean_e2el_ms")).toBe(3)
    expect(boundFor(m, "num_gpu_blocks")).toBe(2)
    expect(boundFor(m, "duration_s")).toBeUndefined()
    // throughput rows: checked only when named (or by the throughput family); itl is a family
    expect(boundFor(m, "request_throughput")).toBeUndefined()
    const t2 = parseTolerance("7,throughput=4,itl=6") as Map<string, number>
    expect(boundFor(t2, "output_throughput")).toBe(4)
    expect(boundFor(t2, "p99_itl_ms")).toBe(6)
    expect(boundFor(t2, "p99_ttft_ms")).toBe(7)
    expect(boundFor(t2, "duration_s")).toBeUndefined()
    for (const bad of ["ttft=0x8", "Infinity", "ttft=1_0"]) expect(typeof parseTolerance(bad), bad).toBe("string")
    expect(typeof parseTolerance("x=abc")).toBe("string")
    // empty values, empty entries, keyless and repeated entries are mistakes, not 0% bounds
    for (const bad of ["tpot=", "tpot=5,,ttft=3", "=5", "tpot=5,tpot=7", "5,7", ""]) expect(typeof parseTolerance(bad), bad).toBe("string")
  })

  describe.skipIf(!fs.existsSync(bench))("the RTX 4090 vLLM run (../shared/reference)", () => {
    it.effect("validate writes validation.json with every metric and reproduces vLLM's 2,588 KV blocks", () =>
      Effect.gen(function*() {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "validate-"))
        const code = yield* runCli(["node", "llmservingsim", "validate", "--run", bench,
          "--workload", path.join(ref, "traces", "llmservingsim", "current", "sharegpt-llama-3.1-8b-300-sps10.jsonl"),
          "--perf-model", `profile:${path.join(ref, "llmservingsim-profiles")}`, "--output-dir", out, "--tolerance", "num_gpu_blocks=0,mean_tpot_ms=5,mean_ttft_ms=8,mean_e2el_ms=8"]).pipe(Effect.provide(NodeContext.layer))
        expect(code).toBe(0)
        const v = JSON.parse(fs.readFileSync(path.join(out, "validation.json"), "utf8")) as Record<string, { measured: number; simulated: number; diff_pct: number }>
        for (const k of ["mean_ttft_ms", "median_ttft_ms", "p90_ttft_ms", "p95_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p99_tpot_ms", "mean_e2el_ms", "num_gpu_blocks"]) expect(v[k], k).toBeDefined()
        expect(v["num_gpu_blocks"]!.simulated).toBe(2588)
        fs.rmSync(out, { recursive: true })
      }), 60_000)

    it.effect("validate prints and writes the field's accuracy report: % error of mean/p50/p90/p99, KS and ±10% TOST", () =>
      Effect.gen(function*() {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "validate-ks-"))
        const r = yield* runCapture("validate", "--run", bench,
          "--workload", path.join(ref, "traces", "llmservingsim", "current", "sharegpt-llama-3.1-8b-300-sps10.jsonl"),
          "--perf-model", `profile:${path.join(ref, "llmservingsim-profiles")}`, "--output-dir", out)
        expect(r.code, r.stderr).toBe(0)
        const table = r.stdout.slice(r.stdout.indexOf("Metric        n meas/sim"), r.stdout.indexOf("Engine settings reproduced"))
        console.log(table) // the accuracy table of the measured RTX 4090 run
        for (const s of ["TTFT             300/300", "TPOT             300/300", "E2E              300/300", "KS D", "TOST p", "±10% equiv."]) expect(table, s).toContain(s)
        const v = JSON.parse(fs.readFileSync(path.join(out, "validation.json"), "utf8")) as {
          accuracy: Record<string, { n_measured: number; diff_pct: Record<string, number>; ks: { d: number; p_value: number }; tost: { p_value: number; equivalent: boolean } }>
        }
        expect(Object.keys(v.accuracy)).toEqual(["ttft", "tpot", "e2el"]) // the bench layout records no per-token times: no ITL
        for (const [k, a] of Object.entries(v.accuracy)) {
          expect(a.n_measured, k).toBe(300)
          // the profile replay is within 1-2% on every statistic: same distribution (KS), equivalent means (TOST)
          for (const d of Object.values(a.diff_pct)) expect(Math.abs(d), k).toBeLessThan(2)
          expect(a.ks.d, k).toBeLessThan(0.1)
          expect(a.ks.p_value, k).toBeGreaterThan(0.5)
          // TPOT and E2E are clearly equivalent; TTFT's spread (sd ~60% of its mean over 300 requests)
          // leaves TOST little power: +0.6% is equivalent at p 0.037, the 90% CI spans -8%..+9%
          if (k !== "ttft") expect(a.tost.p_value, k).toBeLessThan(0.01)
          expect(a.tost.equivalent, k).toBe(true)
        }
        fs.rmSync(out, { recursive: true })
      }), 60_000)
  })
})

/** `llmservingsim sla` on the command line: its errors name the flag; a small search prints the ranked table. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "./capture.js"

const sla = (...args: ReadonlyArray<string>) => runCapture("sla", "--workers", "1", "--num-requests", "50", ...args)

describe("sla CLI", () => {
  it.effect("a bad constraint, a missing one, or a clash with the searched flag is a clear error, exit 1, no stack trace", () =>
    Effect.gen(function*() {
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["--constraint", "p99_latency_ms<=500"], "--constraint: unknown metric 'p99_latency_ms'"],
        [["--constraint", "p99_ttft_ms=500"], "--constraint: bad operator '='"],
        [["--constraint", "p99_ttft_ms<=soon"], "--constraint: 'soon' is not a finite number"],
        [[], "--constraint: give at least one"],
        [["--constraint", "p99_ttft_ms<=500", "--request-rate", "4"], "--request-rate: --search request-rate sets it for each probe"],
        [["--constraint", "p99_ttft_ms<=500", "--grid", "request-rate=1,2"], "--grid: request-rate is what --search request-rate finds"],
        [["--constraint", "p99_ttft_ms<=500", "--search", "max-concurrency", "--max-concurrency", "8"], "--max-concurrency: --search max-concurrency sets it"],
        [["--constraint", "p99_ttft_ms<=500", "--sla-start", "0"], "the start must be a finite number > 0"],
        [["--constraint", "p99_ttft_ms<=500", "--gpu-hour-price", "-1"], "--gpu-hour-price: expected USD per GPU-hour > 0"]
      ]
      for (const [args, text] of cases) {
        const r = yield* sla(...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toContain(text)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    }))

  it.effect("a two-configuration search prints the ranked table and writes both CSVs", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sla-cli-"))
      const out = path.join(dir, "sla.csv")
      const probes = path.join(dir, "probes.csv")
      const r = yield* sla("--constraint", "p99_ttft_ms<=100", "--constraint", "p99_tpot_ms<=50", "--grid", "tensor-parallel-size=1,2",
        "--input-len", "256", "--output-len", "32", "--sla-tolerance", "0.25", "--gpu-hour-price", "2", "--output", out, "--probes-output", probes, "-q")
      expect(r.code, r.stderr).toBe(0)
      const lines = r.stdout.split("\n")
      expect(lines[0]).toMatch(/^rank\s+tensor-parallel-size\s+request-rate\s+per GPU\s+GPUs\s+p99_ttft_ms\s+p99_tpot_ms\s+tok\/s\s+tok\/s\/GPU\s+tok\/s\/user\s+\$\/Mtok\s+pareto/)
      expect(lines[1]).toMatch(/^\s+1\s/)
      expect(lines[2]).toMatch(/^\s+2\s/)
      expect(r.stdout).toMatch(/2 configurations, \d+ probes in [\d.]+ s wall one by one in this process; request-rate within 25%/)
      const csv = fs.readFileSync(out, "utf8").trim().split("\n")
      expect(csv[0]).toBe("rank,config,tensor-parallel-size,outcome,request-rate,request-rate_per_gpu,failed_at_request-rate,probes,num_gpus,p99_ttft_ms,p99_tpot_ms," +
        "output_throughput,output_tokens_per_s_per_gpu,output_tokens_per_s_per_user,cost_per_million_output_tokens,pareto,error")
      expect(csv).toHaveLength(3)
      const probeRows = fs.readFileSync(probes, "utf8").trim().split("\n")
      expect(probeRows[0]).toBe("config,tensor-parallel-size,request-rate,pass,p99_ttft_ms,p99_tpot_ms,output_throughput,num_gpus,output_tokens_per_s_per_gpu,output_tokens_per_s_per_user,why")
      // each configuration's probes: as many as the ranked CSV says, and at least one pass and one fail
      const counts = csv.slice(1).map((l) => Number(l.split(",")[7]))
      expect(probeRows.length - 1).toBe(counts[0]! + counts[1]!)
      expect(probeRows.some((l) => l.includes(",true,"))).toBe(true)
      expect(probeRows.some((l) => l.includes(",false,"))).toBe(true)
      fs.rmSync(dir, { recursive: true, force: true })
    }), 60_000)

  it.effect("a constraint no probe meets: the configuration is reported as failing at the lowest probe (exit 0)", () =>
    Effect.gen(function*() {
      const r = yield* sla("--constraint", "p99_ttft_ms<=0.001", "--input-len", "256", "--output-len", "16", "-q")
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("fails at the lowest probe (request-rate=1)")
      expect(r.stdout).toMatch(/1 configurations, 1 probes/)
    }))
})

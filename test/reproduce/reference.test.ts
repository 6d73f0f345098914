/**
 * `reproduce` on the real published rows in ../shared/reference (skipped when ../shared is absent,
 * as in CI without the reference data): every vLLM row it can express runs, the SGLang rows are
 * listed with the reason, the medians per family are printed, and the RTX 4090 rows replay the
 * measured run exactly as `validate` does (same KV blocks, same trace).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { runCapture } from "../cli/capture.js"

const ref = path.resolve(import.meta.dirname, "..", "..", "..", "shared", "reference")
const file = path.join(ref, "published-serving-benchmarks.csv")

describe.skipIf(!fs.existsSync(file))("reproduce on ../shared/reference/published-serving-benchmarks.csv", () => {
  it.effect("runs every vLLM scenario, compares its rows, prints the medians and lists the SGLang rows", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("reproduce", file)
      expect(r.code, r.stderr).toBe(0)
      console.log(r.stdout) // the table the README quotes
      const j = JSON.parse((yield* runCapture("reproduce", file, "--json")).stdout) as {
        scenarios: Array<{ id: string; label: string; status: string; inSample?: boolean; rows: Array<{ metric: string; errorPct?: number; notRun?: string }> }>
        medians: Record<string, { rows: number; medianAbsErrorPct: number | null }>
      }
      const vllm = j.scenarios.filter((s) => s.label.startsWith("vLLM"))
      expect(vllm.length).toBeGreaterThanOrEqual(7)
      for (const s of vllm) {
        expect(s.status, s.id).toBe("ran")
        for (const row of s.rows) expect(row.errorPct, `${s.id} ${row.metric}: ${row.notRun}`).toBeDefined()
      }
      const sglang = j.scenarios.filter((s) => s.label.startsWith("SGLang"))
      expect(sglang.length).toBeGreaterThan(0)
      for (const s of sglang) expect(s.status).toBe("not-expressible")
      for (const f of ["TTFT", "TPOT", "ITL", "E2E", "throughput"]) {
        expect(j.medians[f]!.rows, f).toBeGreaterThan(0)
        expect(j.medians[f]!.medianAbsErrorPct, f).not.toBeNull()
      }
      // the RTX 4090 rows: the measured run's workload and settings, in-sample
      const rtx = vllm.find((s) => s.label.includes("RTX 4090"))!
      expect(rtx.inSample).toBe(true)
      expect(r.stdout).toContain("Median |error| per metric family")
      expect(r.stdout).toContain("out of sample")
      expect(r.stdout).toContain("Rows not run:")
      expect(r.stdout).toContain("sharegpt-llama-3.1-8b-300-sps10.jsonl (exact)")
    }), 120_000)
})

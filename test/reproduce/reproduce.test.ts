/**
 * `reproduce`: the field parsers (model, GPU, precision, parallelism, load, engine version and its
 * defaults, metric names), the grouping into scenarios, the plans, and the command on the
 * synthetic fixtures in test/fixtures/reproduce/ (made-up rows: see its README).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "../cli/capture.js"
import {
  burstHint, mapGpuName, mapModelName, mapPrecision, parseEngineVersion, parseLoad, parseParallelism, planScenario, traceNameOf, vllmDefaults
} from "../../src/reproduce/mapping.js"
import { errorPct, mapMetric, median } from "../../src/reproduce/metrics.js"
import { groupScenarios, readPublished } from "../../src/reproduce/published.js"
import { type LengthPool, resampledArrivals } from "../../src/reproduce/workload.js"

const fx = path.join(import.meta.dirname, "..", "fixtures", "reproduce")
const synthetic = path.join(fx, "synthetic.csv")
const noDirs = { tracesDir: path.join(fx, "none"), benchDir: path.join(fx, "none"), seed: 0 }

import { launchCommandFor, readLaunchCommands } from "../../src/reproduce/launchCommands.js"

describe("published rows: reading and grouping", () => {
  it.effect("reads the rows with their line numbers and groups them by engine, version, model, GPU, TP, dataset, load and count", () =>
    Effect.gen(function*() {
      const rows = yield* readPublished(synthetic)
      expect(rows.length).toBe(6)
      expect(rows[0]!.line).toBe(2)
      expect(rows[0]!.value).toBe(30)
      const scenarios = groupScenarios(rows)
      expect(scenarios.map((s) => [s.id, s.rows.map((r) => r.line)])).toEqual([["S1", [2, 3, 4, 5]], ["S2", [6]], ["S3", [7]]])
    }))

  it.effect("a malformed value is an InputError naming file:line and the field", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(readPublished(path.join(fx, "malformed.csv")))
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain("malformed.csv:3:")
      expect(e.message).toContain("field 'value'")
      expect(e.message).toContain("\"n/a\"")
    }))

  it.effect("a missing column, an empty required field and a bad num_requests name their line and field", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reproduce-"))
      const head = fs.readFileSync(synthetic, "utf8").split("\n")[0]!
      const row = fs.readFileSync(synthetic, "utf8").split("\n")[1]!
      const write = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text)
        return path.join(dir, name)
      }
      const noUnit = yield* Effect.flip(readPublished(write("a.csv", head.replace(",unit", ",units") + "\n" + row + "\n")))
      expect(noUnit.message).toMatch(/a\.csv:1: field 'unit':/)
      const empty = yield* Effect.flip(readPublished(write("b.csv", head + "\n" + row.replace(",H100 80GB,", ",,") + "\n")))
      expect(empty.message).toMatch(/b\.csv:2: field 'gpu':/)
      const badN = yield* Effect.flip(readPublished(write("c.csv", head + "\n" + row.replace(",40,", ",4.5,") + "\n")))
      expect(badN.message).toMatch(/c\.csv:2: field 'num_requests': expected a positive integer/)
      const twice = yield* Effect.flip(readPublished(write("d.csv", head + "\n" + row + "\n" + row + "\n")))
      expect(twice.message).toMatch(/d\.csv:3: field 'metric': expected each metric once per scenario \(line 2 gives/)
      // the same metric for another load is another scenario
      expect((yield* readPublished(write("e.csv", head + "\n" + row + "\n" + row.replace(",Poisson ", ",Poisson 1") + "\n"))).length).toBe(2)
      fs.rmSync(dir, { recursive: true })
    }))
})

describe("mapping published fields to simulate flags", () => {
  it("model names, precisions, parallelism, loads, traces", () => {
    const known = ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-70B-Instruct"]
    expect(mapModelName("Llama-3.1-8B-Instruct", known)).toBe("meta-llama/Llama-3.1-8B-Instruct")
    expect(mapModelName("meta-llama/Llama-3.1-8B", known)).toBe("meta-llama/Llama-3.1-8B")
    expect(mapModelName("Meta-Llama-3.1-70B-Instruct", known)).toBe("meta-llama/Llama-3.1-70B-Instruct")
    expect(mapModelName("Mistral-7B", known)).toBeUndefined()
    expect(mapPrecision("bf16")).toBe("bfloat16")
    expect(mapPrecision("bfloat16")).toBe("bfloat16")
    expect(mapPrecision("fp16")).toBe("float16")
    expect(mapPrecision("int4-awq")).toHaveProperty("error")
    expect(parseParallelism("4")).toEqual({ tp: 4, dp: 1, pp: 1 })
    expect(parseParallelism("TP1 DP1")).toEqual({ tp: 1, dp: 1, pp: 1 })
    expect(parseParallelism("TP2 PP2")).toEqual({ tp: 2, dp: 1, pp: 2 })
    expect(parseParallelism("four")).toHaveProperty("error")
    expect(parseLoad("Poisson 4 req/s")).toEqual({ requestRate: 4, burstiness: 1, approximate: false })
    expect(parseLoad("rate inf")).toEqual({ requestRate: Infinity, burstiness: 1, approximate: false })
    expect(parseLoad("all at once (rate inf)")).toEqual({ requestRate: Infinity, burstiness: 1, approximate: false })
    expect(parseLoad("Poisson ~10 req/s for ~29 s")).toEqual({ requestRate: 10, burstiness: 1, approximate: true })
    expect(parseLoad("max concurrency 8")).toHaveProperty("error")
    expect(parseLoad("Poisson -4 req/s")).toEqual({ error: "load 'Poisson -4 req/s': expected a rate > 0 ('Poisson R req/s') or 'rate inf'" })
    expect(traceNameOf("ShareGPT-derived sharegpt-llama-3.1-8b-300-sps10.jsonl")).toBe("sharegpt-llama-3.1-8b-300-sps10.jsonl")
    expect(traceNameOf("ShareGPT (sglang bench_serving)")).toBeUndefined()
  })

  it.effect("GPU names: by alias, or without the memory size, which must match the bundled card", () =>
    Effect.gen(function*() {
      expect(yield* mapGpuName("A100 80GB")).toEqual({ name: "A100" })
      expect(yield* mapGpuName("H100 80GB")).toEqual({ name: "H100" })
      expect(yield* mapGpuName("RTX 4090 24GB")).toEqual({ name: "RTX4090" })
      const v = yield* mapGpuName("A100 40GB")
      expect(v).toHaveProperty("error")
      expect((v as { error: string }).error).toContain("80 GB")
      expect(yield* mapGpuName("TPU v5e")).toHaveProperty("error")
    }))

  it("engine versions: the number and the flags in parentheses; vLLM 0.6.0's V0 defaults; V1's", () => {
    expect(parseEngineVersion("0.6.0 (--num-scheduler-steps 10, max_model_len 4096)")).toEqual({
      version: "0.6.0", flags: [["num-scheduler-steps", "10"], ["max-model-len", "4096"]]
    })
    expect(parseEngineVersion("0.19.0")).toEqual({ version: "0.19.0", flags: [] })
    expect(parseEngineVersion("nightly")).toHaveProperty("error")
    // 0.6.0 with max_model_len 4096 and multi-step: no chunked prefill, budget max(4096, 2048)
    const ms = vllmDefaults("0.6.0", { numSchedulerSteps: 10, maxModelLen: 4096 }, 131072)
    expect(ms).toMatchObject({ flags: { maxNumSeqs: 256, enablePrefixCaching: false, enableChunkedPrefill: false, maxNumBatchedTokens: 4096, numSchedulerSteps: 10, schedulingPolicy: "vllm-v0", stepOverheadUs: 4000 } })
    // a row's own step overhead wins over V0's
    expect(vllmDefaults("0.6.0", { stepOverheadUs: 250 }, 8192)).toMatchObject({ flags: { stepOverheadUs: 250 } })
    // 0.6.0 on a 128K-context model: chunked prefill on by default, budget 512
    expect(vllmDefaults("0.6.0", {}, 131072)).toMatchObject({ flags: { enableChunkedPrefill: true, maxNumBatchedTokens: 512 } })
    // short context: off, budget max(max_model_len, 2048)
    expect(vllmDefaults("0.6.0", {}, 8192)).toMatchObject({ flags: { enableChunkedPrefill: false, maxNumBatchedTokens: 8192 } })
    // multi-step on a long context: vLLM 0.6.0 refuses it
    expect(vllmDefaults("0.6.0", { numSchedulerSteps: 10 }, 131072)).toHaveProperty("error")
    expect(vllmDefaults("0.19.0", {}, 131072)).toMatchObject({ flags: {}, approximations: [] })
    expect(vllmDefaults("0.4.2", {}, 131072)).toHaveProperty("error")
  })

  it("metric names and units to summary keys and families", () => {
    expect(mapMetric("median_ttft", "ms")).toEqual({ key: "median_ttft_ms", family: "TTFT", scale: 1 })
    expect(mapMetric("median_e2e_latency", "ms")).toEqual({ key: "median_e2el_ms", family: "E2E", scale: 1 })
    expect(mapMetric("p99_latency", "s")).toEqual({ key: "p99_e2el_ms", family: "E2E", scale: 1000 })
    expect(mapMetric("mean_itl", "ms")).toEqual({ key: "mean_itl_ms", family: "ITL", scale: 1 })
    expect(mapMetric("output_token_throughput (computed: total output / makespan)", "tok/s")).toEqual({ key: "output_throughput", family: "throughput", scale: 1 })
    expect(mapMetric("request_throughput", "req/s")).toEqual({ key: "request_throughput", family: "throughput", scale: 1 })
    expect(mapMetric("request_throughput", "tok/s")).toHaveProperty("error")
    expect(mapMetric("median_goodput", "req/s")).toHaveProperty("error")
    expect(errorPct(100, 110)).toBeCloseTo(10, 9)
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 2, 3])).toBe(2.5)
  })

  it.effect("plans: the expressible scenario's flags and workload; the others with each missing feature", () =>
    Effect.gen(function*() {
      const scenarios = groupScenarios(yield* readPublished(synthetic))
      const [p1, p2, p3] = yield* Effect.forEach(scenarios, (s) => planScenario(s, noDirs))
      expect(p1!.kind).toBe("run")
      if (p1!.kind === "run") {
        expect(p1!.flags).toMatchObject({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", dtype: "bfloat16", tensorParallelSize: 1 })
        expect(p1!.workload).toEqual({ kind: "fixed", numRequests: 40, requestRate: 2, burstiness: 1, inputLen: 128, outputLen: 64 })
        expect(p1!.frontEnd).toBe(true)
      }
      expect(p2).toMatchObject({ kind: "not-expressible" })
      expect((p2 as { reasons: ReadonlyArray<string> }).reasons.join(" ")).toContain("--max-concurrency")
      const r3 = (p3 as { reasons: ReadonlyArray<string> }).reasons
      expect(r3.some((r) => r.includes("SGLang"))).toBe(true)
      expect(r3.some((r) => r.includes("TPU v5e"))).toBe(true)
    }))

  it.effect("a row whose ITL is many TPOTs without multi-step recorded gets a burst note", () =>
    Effect.gen(function*() {
      const s = groupScenarios(yield* readPublished(synthetic))[0]!
      const rows = [{ ...s.rows[0]!, metric: "median_itl", value: 230 }, { ...s.rows[1]!, metric: "median_tpot", value: 23 }]
      expect(burstHint({ ...s, rows }, 1)).toContain("10.0x")
      expect(burstHint({ ...s, rows }, 10)).toBeUndefined()
      expect(burstHint(s, 1)).toBeUndefined()
    }))

  it.effect("a source's launch command adds its flags; one that contradicts engine_version stops the run", () =>
    Effect.gen(function*() {
      const s = groupScenarios(yield* readPublished(synthetic))[0]!
      const url = "https://example.org/bench/README.md"
      const withUrl = (engineVersion: string) => ({ ...s, engineVersion, rows: s.rows.map((r) => ({ ...r, url })) })
      const launches = [{
        url: "https://example.org/bench/",
        launches: [{ engine: "vLLM", model: "Llama-3.1-8B-Instruct", command: "vllm serve --num-scheduler-steps 8", flags: { "num-scheduler-steps": "8" } }]
      }]
      const p = yield* planScenario(withUrl("0.19.0"), noDirs, launches)
      expect(p.kind).toBe("run")
      if (p.kind === "run") {
        expect(p.flags.numSchedulerSteps).toBe(8)
        expect(p.settings.join(" ")).toContain("from the source's launch command")
      }
      // the same value in engine_version: fine; a different one: not run, naming both
      expect((yield* planScenario(withUrl("0.19.0 (--num-scheduler-steps 8)"), noDirs, launches)).kind).toBe("run")
      const bad = yield* planScenario(withUrl("0.19.0 (--num-scheduler-steps 4)"), noDirs, launches)
      expect(bad.kind).toBe("not-expressible")
      expect((bad as { reasons: ReadonlyArray<string> }).reasons.join(" ")).toContain("--num-scheduler-steps 4")
      // another source's rows are untouched
      const other = yield* planScenario(s, noDirs, launches)
      expect(other.kind === "run" && other.flags.numSchedulerSteps).toBeFalsy()
    }))

  it.effect("the bundled launch commands: SGLang's vLLM 0.6.0 comparison ran every vLLM server multi-step with a 4K context", () =>
    Effect.gen(function*() {
      const sources = yield* readLaunchCommands()
      const url = "https://github.com/sgl-project/sglang/blob/main/benchmark/benchmark_vllm_060/README.md"
      const l = launchCommandFor(sources, url, "vLLM", "Llama-3.1-70B-Instruct")
      expect(l?.flags).toEqual([["num-scheduler-steps", "10"], ["max-model-len", "4096"]])
      expect(l?.command).toContain("--tensor 4")
      expect(launchCommandFor(sources, url, "SGLang", "Llama-3.1-70B-Instruct")).toBeUndefined()
    }))

  it.effect("a launch-command file that does not match the schema names the field", () =>
    Effect.gen(function*() {
      const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "launch-")), "l.json")
      fs.writeFileSync(f, JSON.stringify({ sources: [{ url: "https://x/", launches: [{ engine: "vLLM", model: "m", command: "c", flags: { "max-model-len": 4096 } }] }] }))
      const e = yield* Effect.flip(readLaunchCommands(f))
      expect(e.message).toContain(f)
      expect(e.message).toContain("max-model-len")
    }))

  it("resampled lengths come from the pool, seeded, at the given rate", () => {
    const pool: LengthPool = { files: [], prompt: [10, 20, 30], output: [5, 6, 7], read: 3, meanPrompt: 20, meanOutput: 6 }
    const a = [...resampledArrivals(pool, { numRequests: 200, requestRate: 4, burstiness: 1, seed: 7 })]
    const b = [...resampledArrivals(pool, { numRequests: 200, requestRate: 4, burstiness: 1, seed: 7 })]
    expect(a).toEqual(b)
    for (const x of a) expect(pool.prompt.indexOf(x.promptTokens)).toBe(pool.output.indexOf(x.outputTokens))
    expect(new Set(a.map((x) => x.promptTokens)).size).toBe(3)
    const span = (a[a.length - 1]!.arrivalNs - a[0]!.arrivalNs) / 1e9
    expect(span).toBeGreaterThan(199 / 4 * 0.7)
    expect(span).toBeLessThan(199 / 4 * 1.3)
    const burst = [...resampledArrivals(pool, { numRequests: 5, requestRate: Infinity, burstiness: 1, seed: 7 })]
    expect(burst.every((x) => x.arrivalNs === 0)).toBe(true)
  })
})

describe("llmservingsim reproduce (synthetic fixture)", () => {
  it.effect("prints published vs predicted, the medians per family and each row not run with its reason; --output writes the CSV", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reproduce-cli-"))
      const csv = path.join(dir, "out", "rows.csv")
      const r = yield* runCapture("reproduce", synthetic, "--output", csv)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("6 rows, 3 scenarios); 1 scenarios run, 3 rows compared")
      expect(r.stdout).toMatch(/S1 {2}vLLM 0\.19\.0 Llama-3\.1-8B-Instruct H100 80GB/)
      expect(r.stdout).toMatch(/ {4}2 {2}median_ttft +30\.00 +\d/)
      expect(r.stdout).toContain("Median |error| per metric family")
      expect(r.stdout).toMatch(/TTFT +\d+\.\d% \(1 rows\)/)
      expect(r.stdout).toMatch(/ITL +- \(0 rows\)/)
      expect(r.stdout).toContain("Rows not run:")
      expect(r.stdout).toContain("S2 (line 6: median_ttft)")
      expect(r.stdout).toContain("--max-concurrency")
      expect(r.stdout).toContain("S1 line 5 median_goodput: metric median_goodput")
      const lines = fs.readFileSync(csv, "utf8").trim().split("\n")
      expect(lines[0]).toBe("scenario,line,metric,published,unit,predicted,error_pct,not_run_reason")
      expect(lines.length).toBe(7)
      expect(lines[1]).toMatch(/^S1,2,median_ttft,30,ms,[\d.]+,-?[\d.]+,$/)
      expect(lines[5]).toMatch(/^S2,6,median_ttft,30,ms,,,.*concurrent clients/)
      fs.rmSync(dir, { recursive: true })
    }), 60_000)

  it.effect("--json prints the report with the medians", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("reproduce", synthetic, "--json")
      expect(r.code, r.stderr).toBe(0)
      const j = JSON.parse(r.stdout) as { scenarios: Array<{ id: string; status: string; rows: Array<{ errorPct?: number }> }>; medians: Record<string, { rows: number }> }
      expect(j.scenarios.map((s) => s.status)).toEqual(["ran", "not-expressible", "not-expressible"])
      expect(j.scenarios[0]!.rows.filter((x) => x.errorPct !== undefined).length).toBe(3)
      expect(j.medians["TTFT"]!.rows).toBe(1)
      expect(j.medians["throughput"]!.rows).toBe(1)
    }), 60_000)

  it.effect("a bad --perf-model fails before any run; a file with no row the simulator can run exits 1", () =>
    Effect.gen(function*() {
      const bad = yield* runCapture("reproduce", synthetic, "--perf-model", "bogus")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("--perf-model: expected roofline")
      expect(bad.stdout).toBe("")
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "repro-none-"))
      const file = path.join(dir, "sglang-only.csv")
      const lines = fs.readFileSync(synthetic, "utf8").trim().split("\n")
      fs.writeFileSync(file, [lines[0], lines[1]!.replace(",vLLM,0.19.0,", ",SGLang,0.3.0,")].join("\n") + "\n")
      const none = yield* runCapture("reproduce", file)
      expect(none.code).toBe(1)
      expect(none.stdout).toContain("0 rows compared")
      expect(none.stderr).toContain("expected at least one row the simulator can run")
    }), 60_000)

  it.effect("a malformed file fails with file:line:field", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("reproduce", path.join(fx, "malformed.csv"))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/malformed\.csv:3: field 'value': expected a number >= 0 \(got "n\/a"\)/)
    }))
})

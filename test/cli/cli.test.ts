import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { normalizeOnOffFlags } from "../../src/cli/options.js"
import { checkOnOffConflicts } from "../../src/cli/flagValues.js"
import { runCapture } from "./capture.js"

describe("llmservingsim CLI", () => {
  it.effect("the default workload runs with no flags and prints the report", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--num-requests", "50")
      expect(r.code).toBe(0)
      expect(r.stdout).toContain("Successful requests:                    50")
      expect(r.stdout).toContain("Mean TTFT (ms):")
    }))

  it.effect("--output-dir writes summary.json with vLLM bench keys, requests.csv and timeseries.csv; steps.csv only with --step-log", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-"))
      const r = yield* runCapture("simulate", "--num-requests", "30", "--output-dir", dir, "--quiet")
      expect(r.code).toBe(0)
      expect(r.stdout).toBe("")
      const s = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      for (const k of ["completed", "total_input_tokens", "total_output_tokens", "duration", "request_throughput", "output_throughput", "total_token_throughput", "mean_ttft_ms", "median_ttft_ms", "std_ttft_ms", "p90_ttft_ms", "p95_ttft_ms", "p99_ttft_ms", "mean_tpot_ms", "p99_itl_ms", "p99_e2el_ms", "num_preemptions", "rejected", "kv_cache_blocks", "seed"]) {
        expect(s).toHaveProperty(k)
      }
      expect(s.completed).toBe(30)
      const rows = fs.readFileSync(path.join(dir, "requests.csv"), "utf8").trim().split("\n")
      expect(rows[0]).toBe("id,instance,pool,status,arrival_ms,queued_ms,scheduled_ms,first_token_ms,finish_ms,input_tokens,output_tokens,ttft_ms,tpot_ms,e2e_ms,frontend_ms,queue_ms,prefill_ms,preemptions,cached_tokens,prefill_instance,prefill_done_ms,kv_transfer_start_ms,kv_transfer_end_ms,client_queue_ms,reason")
      expect(rows.length).toBe(31)
      expect(fs.readdirSync(dir).sort()).toEqual(["requests.csv", "summary.json", "timeseries.csv"])
      const series = fs.readFileSync(path.join(dir, "timeseries.csv"), "utf8").trim().split("\n")
      expect(series[0]).toBe("t,instance,pool,steps,busy_pct,prompt_throughput,gen_throughput,running,waiting,kv_cache_pct,prompt_tokens,generation_tokens,prefix_cache_queries,prefix_cache_hits,preemptions,requests_finished")
      const col = (name: string) => series[0]!.split(",").indexOf(name)
      const total = (name: string) => series.slice(1).reduce((a, l) => a + Number(l.split(",")[col(name)]), 0)
      expect(series.length - 1).toBe(Math.ceil(s.duration))
      expect(total("steps")).toBe(s.num_steps)
      expect(total("generation_tokens")).toBe(s.total_output_tokens)
      expect(total("requests_finished")).toBe(30)
      const logged = path.join(dir, "logged")
      const r2 = yield* runCapture("simulate", "--num-requests", "30", "--output-dir", logged, "--step-log", "--timeseries-interval-s", "0.25")
      expect(r2.code).toBe(0)
      expect(r2.stdout).toContain(`results written to ${logged}/ (summary.json, requests.csv, timeseries.csv, steps.csv)`)
      const steps = fs.readFileSync(path.join(logged, "steps.csv"), "utf8").trim().split("\n")
      expect(steps[0]).toBe("instance,pool,start_ms,duration_ms,prefill_seqs,prefill_tokens,decode_seqs,running,waiting,kv_blocks_used,kv_blocks_total,preempted")
      expect(steps.length - 1).toBe(s.num_steps)
      expect(fs.readFileSync(path.join(logged, "timeseries.csv"), "utf8").trim().split("\n").length - 1).toBe(Math.ceil(s.duration / 0.25))
      expect(fs.readFileSync(path.join(logged, "requests.csv"), "utf8")).toBe(fs.readFileSync(path.join(dir, "requests.csv"), "utf8"))
    }))

  it.effect("the output flags: refused values and flags without --output-dir, one clear line each", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-"))
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["simulate", "--output-dir", dir, "--output-format", "xlsx"], "error: --output-format: expected one of csv, parquet (got xlsx)"],
        [["simulate", "--output-dir", dir, "--output-format", "CSV"], "error: --output-format: expected one of csv, parquet (got CSV)"],
        [["simulate", "--output-dir", dir, "--timeseries-interval-s", "0"], "error: --timeseries-interval-s: expected a number of seconds >= 0.001 and <= 1000000 (got 0)"],
        [["simulate", "--output-dir", dir, "--timeseries-interval-s", "-2"], "error: --timeseries-interval-s: expected a number of seconds >= 0.001"],
        [["simulate", "--output-dir", dir, "--timeseries-interval-s", "1e-9"], "error: --timeseries-interval-s: expected a number of seconds >= 0.001"],
        [["simulate", "--step-log"], "error: --step-log: applies to the files written with --output-dir DIR; give --output-dir"],
        [["simulate", "--output-format", "parquet"], "error: --output-format: applies to the files written with --output-dir DIR; give --output-dir"],
        [["simulate", "--timeseries-interval-s", "5"], "error: --timeseries-interval-s: applies to the files written with --output-dir DIR; give --output-dir"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture(...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr.startsWith(message), `${args.join(" ")} -> ${r.stderr}`).toBe(true)
        expect(r.stderr.split("\n").length).toBe(1)
      }
      expect(fs.readdirSync(dir)).toEqual([])
    }))

  it.effect("same inputs and seed give byte-identical outputs", () =>
    Effect.gen(function*() {
      const a = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-"))
      const b = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-"))
      const args = ["simulate", "--num-requests", "200", "--length-dist", "lognormal", "--request-rate", "30", "--seed", "5", "--quiet"]
      yield* runCapture(...args, "--output-dir", a)
      yield* runCapture(...args, "--output-dir", b)
      for (const f of ["summary.json", "requests.csv", "timeseries.csv"]) {
        expect(fs.readFileSync(path.join(a, f))).toEqual(fs.readFileSync(path.join(b, f)))
      }
    }))

  it.effect("bad input: one clear error line and exit status 1, no stack trace", () =>
    Effect.gen(function*() {
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["simulate", "--model", "nope"], "error: unknown model 'nope'; known models:"],
        [["simulate", "--hardware", "Z80"], "error: unknown hardware 'Z80'; known hardware: A10,"],
        [["simulate", "--trace", "no/such/file.csv"], "error: no/such/file.csv: no such file"],
        [["simulate", "--trace", "test/fixtures/traces/azure-bad-field.csv"], "error: test/fixtures/traces/azure-bad-field.csv:3: field 'ContextTokens': expected an integer >= 1"],
        [["simulate", "--request-rate", "-1"], "error: --request-rate: expected a number > 0 or inf (got -1)"],
        // a policy with a chunking flag it would not honour
        [["simulate", "--scheduling-policy", "sarathi", "--no-enable-chunked-prefill"], "error: --no-enable-chunked-prefill: sarathi always chunks prompts"],
        [["simulate", "--scheduling-policy", "orca", "--enable-chunked-prefill"], "error: --enable-chunked-prefill: orca computes each prompt whole"],
        // arrivals beyond the simulated clock's range (was an engine stall reported as an internal error)
        [["simulate", "--num-requests", "10", "--request-rate", "1e-15"], "error: --request-rate: 10 requests at 1e-15 req/s would span beyond the simulated clock's range"],
        [["simulate", "--trace", "test/fixtures/traces/azure.csv", "--rate-scale", "1e-12"], "error: test/fixtures/traces/azure.csv:3: field 'arrival time': expected arrivals within 26 days of the first"],
        [["simulate", "--model", "meta-llama/Llama-3.1-70B-Instruct", "--hardware", "RTX4090"], "error: no memory left for the KV cache on RTX4090"],
        [["simulate", "--gpu-memory-utilization", "0"], "error: --gpu-memory-utilization: expected a number in (0, 1]"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture(...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr.startsWith(message), `${args.join(" ")} -> ${r.stderr}`).toBe(true)
        expect(r.stderr.split("\n").length).toBe(1)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
      const flag = yield* runCapture("simulate", "--no-such-flag")
      expect(flag.code).toBe(1)
    }))

  it.effect("models and hardware list the catalogue", () =>
    Effect.gen(function*() {
      expect((yield* runCapture("models")).stdout).toContain("Qwen/Qwen3-30B-A3B")
      expect((yield* runCapture("hardware")).stdout).toContain("MI300X")
    }))
})

describe("on/off engine flags", () => {
  it("accept --NAME false / --NAME=no as --no-NAME, and the last of several wins", () => {
    expect(normalizeOnOffFlags(["simulate", "--enable-prefix-caching", "false", "--num-requests", "5"])).toEqual(["simulate", "--no-enable-prefix-caching", "--num-requests", "5"])
    expect(normalizeOnOffFlags(["--enable-chunked-prefill=no", "--scheduler-reserve-full-isl", "TRUE"])).toEqual(["--no-enable-chunked-prefill", "--scheduler-reserve-full-isl"])
    expect(normalizeOnOffFlags(["--no-enable-prefix-caching", "--seed", "1", "--enable-prefix-caching"])).toEqual(["--seed", "1", "--enable-prefix-caching"])
    expect(checkOnOffConflicts(["--no-enable-prefix-caching", "--seed", "1", "--enable-prefix-caching"])?.message).toContain("--enable-prefix-caching: given both on and off")
    expect(checkOnOffConflicts(["--enable-chunked-prefill", "true", "--enable-chunked-prefill=0"])?.message).toContain("--enable-chunked-prefill")
    expect(checkOnOffConflicts(["--enable-prefix-caching", "--enable-prefix-caching=yes"])).toBeUndefined()
    expect(normalizeOnOffFlags(["--enable-prefix-caching", "--trace", "x"])).toEqual(["--enable-prefix-caching", "--trace", "x"])
    expect(normalizeOnOffFlags(["--enable-prefix-caching=maybe"])).toEqual(["--enable-prefix-caching=maybe"])
  })
})

describe("flag-parsing errors", () => {
  it.effect("print one `error:` line and exit 1, like the simulator's own errors", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--bogus-flag")
      expect(r.code).toBe(1)
      expect(r.stderr).toBe("error: Received unknown argument: '--bogus-flag'")
    }))
})

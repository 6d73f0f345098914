/**
 * `simulate --max-concurrency` and vLLM bench's `random` dataset flags from the command line:
 * summary.json's client-queue keys against requests.csv, refused values and combinations, the
 * random-* flags' mapping onto the generator, and the closed loop in sweep and in a disaggregated
 * cluster.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DEFAULT_GENERATOR } from "../../src/workload/Workload.js"
import { generateArrivals } from "../../src/workload/generator.js"
import { runCapture } from "./capture.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-closed-"))
const json = (s: string) => JSON.parse(s) as Record<string, unknown>
/** A requests.csv time ("12.000345" ms) as integer ns, exactly; undefined when empty. */
const ns = (ms: string): number | undefined => {
  if (ms === "") return undefined
  const [whole, frac] = ms.split(".")
  return Number(whole) * 1e6 + Number(frac)
}
const readRows = (dir: string) => {
  const [header, ...lines] = fs.readFileSync(path.join(dir, "requests.csv"), "utf8").trim().split("\n")
  const cols = header!.split(",")
  return lines.map((l) => {
    const c = l.split(",")
    return Object.fromEntries(cols.map((k, i) => [k, c[i]!])) as Record<string, string>
  })
}
const mean = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0) / xs.length

describe("simulate --max-concurrency", () => {
  it.effect("summary.json's client_queue_time is send - arrival of requests.csv's rows; TTFT and E2E count from the send", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const r = yield* runCapture("simulate", "--num-requests", "50", "--request-rate", "40", "--max-concurrency", "3", "--input-len", "200",
        "--output-len", "20", "--output-dir", dir, "--quiet")
      expect(r.code).toBe(0)
      const s = json(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      const rows = readRows(dir)
      expect(rows.length).toBe(50)
      // the scheduled arrivals are the generator's; arrival_ms is the send, client_queue_ms the wait
      const due = [...generateArrivals({ ...DEFAULT_GENERATOR, numRequests: 50, requestRate: 40, inputLen: 200, outputLen: 20, seed: 0 })]
      for (const row of rows) {
        const send = ns(row.arrival_ms!)!
        const queue = ns(row.client_queue_ms!)!
        expect(send - queue).toBe(due[Number(row.id)]!.arrivalNs)
        expect(queue).toBeGreaterThanOrEqual(0)
        expect(ns(row.ttft_ms!)).toBe(ns(row.first_token_ms!)! - send)
        expect(ns(row.e2e_ms!)).toBe(ns(row.finish_ms!)! - send)
      }
      const queueMs = rows.map((x) => Number(x.client_queue_ms))
      expect(queueMs.filter((q) => q > 0).length).toBeGreaterThan(25) // 40 req/s into 3 slots of ~150 ms each
      expect(s.max_concurrency).toBe(3)
      expect(s.max_concurrent_requests).toBe(3)
      expect(s.mean_client_queue_time_ms as number).toBeCloseTo(mean(queueMs), 6)
      expect(s.mean_e2el_including_client_queue_ms as number).toBeCloseTo(mean(rows.map((x) => Number(x.e2e_ms) + Number(x.client_queue_ms))), 6)
      for (const k of ["mean", "median", "std", "p90", "p95", "p99"]) {
        expect(typeof s[`${k}_client_queue_time_ms`], k).toBe("number")
        expect(typeof s[`${k}_e2el_including_client_queue_ms`], k).toBe("number")
      }
      expect((s.config as { workload: { client: unknown } }).workload.client).toEqual({ max_concurrency: 3, client_think_time_ms: 0 })
    }))

  it.effect("without --max-concurrency: no client keys and an empty client_queue_ms column; with rate inf no queue-inclusive E2E", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const r = yield* runCapture("simulate", "--num-requests", "10", "--output-dir", dir, "--quiet")
      expect(r.code).toBe(0)
      const s = json(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      expect(Object.keys(s).filter((k) => k.includes("client_queue") || k === "max_concurrency")).toEqual([])
      expect(readRows(dir).every((x) => x.client_queue_ms === "")).toBe(true)
      const inf = json((yield* runCapture("simulate", "--num-requests", "10", "--request-rate", "inf", "--max-concurrency", "2", "--json")).stdout)
      expect(typeof inf.mean_client_queue_time_ms).toBe("number")
      expect(Object.keys(inf).filter((k) => k.includes("e2el_including"))).toEqual([])
    }))

  it.effect("bad values and refused combinations: one error line naming the flag, exit 1", () =>
    Effect.gen(function*() {
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["--max-concurrency", "0"], "error: --max-concurrency: expected a positive integer (got 0)"],
        [["--max-concurrency", "-3"], "error: --max-concurrency: expected a positive integer (got -3)"],
        [["--max-concurrency", "2.5"], "error: --max-concurrency: expected an integer (got \"2.5\")"],
        [["--max-concurrency", "many"], "error: --max-concurrency: expected an integer (got \"many\")"],
        [["--client-think-time-ms", "10"], "error: --client-think-time-ms: applies to a closed-loop client; give --max-concurrency N too"],
        [["--max-concurrency", "2", "--client-think-time-ms", "-1"], "error: --client-think-time-ms: expected a number of ms >= 0 (got -1)"],
        [["--max-concurrency", "2", "--client-think-time-ms", "soon"], "error: --client-think-time-ms: expected a number (got \"soon\")"],
        [["--random-prefix-len", "-1"], "error: --random-prefix-len: expected an integer >= 0 (got -1)"],
        [["--random-prefix-len", "1.5"], "error: --random-prefix-len: expected an integer (got \"1.5\")"],
        [["--random-input-len", "0"], "error: --random-input-len: expected a positive integer (got 0)"],
        [["--random-output-len", "-2"], "error: --random-output-len: expected a positive integer (got -2)"],
        [["--random-range-ratio", "1"], "error: --random-range-ratio: expected a number in [0, 1) (got 1)"],
        [["--random-input-len", "100", "--input-len", "200"], "error: --random-input-len: sets the prompt length (vLLM bench's name for --input-len), as --input-len does; give one of --random-input-len and --input-len"],
        [["--random-output-len", "100", "--output-len", "200"], "give one of --random-output-len and --output-len"],
        [["--random-range-ratio", "0.2", "--length-dist", "uniform"], "give one of --random-range-ratio and --length-dist"],
        [["--random-range-ratio", "0.2", "--range-ratio", "0.2"], "give one of --random-range-ratio and --range-ratio"],
        [["--trace", "test/fixtures/traces/azure.csv", "--random-prefix-len", "8"], "error: --random-prefix-len: applies to generated workloads, not to --trace"],
        [["--max-concurrency", "1", "--max-concurrency", "2"], "error: --max-concurrency: given twice"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture("simulate", "--num-requests", "3", ...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toContain(message)
        expect(r.stderr.trim().split("\n").length, args.join(" ")).toBe(1)
      }
      // sweep takes the same flags: a bad grid value fails its row, not the sweep's start
      const sw = yield* runCapture("sweep", "--num-requests", "3", "--workers", "1", "--grid", "max-concurrency=0,2")
      expect(sw.code).toBe(1)
      expect(sw.stdout + sw.stderr).toContain("1 of 2 configurations failed")
    }))

  it.effect("sweep over --max-concurrency and a disaggregated cluster under a closed loop", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const out = path.join(dir, "sweep.csv")
      const sw = yield* runCapture("sweep", "--num-requests", "40", "--request-rate", "inf", "--input-len", "256", "--output-len", "32", "--workers", "1",
        "--grid", "max-concurrency=1,8", "--output", out, "--quiet")
      expect(sw.code).toBe(0)
      const [head, one, eight] = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => l.split(","))
      const col = head!.indexOf("request_throughput")
      expect(Number(eight![col])).toBeGreaterThan(3 * Number(one![col]))
      const pd = json((yield* runCapture("simulate", "--cluster-config", "resources/clusters/2p2d-llama3.1-8b-h100.yaml", "--num-requests", "40",
        "--request-rate", "inf", "--max-concurrency", "4", "--json")).stdout)
      expect(pd.completed).toBe(40)
      expect(pd.max_concurrent_requests).toBe(4)
      expect(pd.mean_client_queue_time_ms as number).toBeGreaterThan(0)
    }))
})

describe("vLLM bench's random dataset flags", () => {
  it.effect("--random-input-len/--random-output-len/--random-range-ratio are the generator's uniform lengths", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const a = yield* runCapture("simulate", "--num-requests", "200", "--random-input-len", "300", "--random-output-len", "40", "--random-range-ratio", "0.25", "--output-dir", dir, "--json")
      const b = yield* runCapture("simulate", "--num-requests", "200", "--input-len", "300", "--output-len", "40", "--length-dist", "uniform", "--range-ratio", "0.25", "--json")
      expect(a.code).toBe(0)
      expect(json(a.stdout)).toEqual(json(b.stdout))
      const rows = readRows(dir)
      const input = rows.map((x) => Number(x.input_tokens))
      const output = rows.map((x) => Number(x.output_tokens))
      // vLLM: integers uniform in [floor(len x (1 - r)), ceil(len x (1 + r))]
      expect(Math.min(...input)).toBeGreaterThanOrEqual(225)
      expect(Math.max(...input)).toBeLessThanOrEqual(375)
      expect(Math.min(...output)).toBeGreaterThanOrEqual(30)
      expect(Math.max(...output)).toBeLessThanOrEqual(50)
      expect(new Set(input).size).toBeGreaterThan(50)
      const zero = yield* runCapture("simulate", "--num-requests", "20", "--random-range-ratio", "0", "--json")
      const fixed = yield* runCapture("simulate", "--num-requests", "20", "--json")
      expect(json(zero.stdout).mean_e2el_ms).toBe(json(fixed.stdout).mean_e2el_ms)
    }))

  it.effect("--random-prefix-len P: every prompt starts with the same P tokens, which hit the prefix cache", () =>
    Effect.gen(function*() {
      // 1 req/s: each request finishes before the next, whose 256 prefix tokens (16 full blocks of 16) are cached
      const r = yield* runCapture("simulate", "--num-requests", "20", "--request-rate", "1", "--random-prefix-len", "256", "--input-len", "100",
        "--output-len", "10", "--enable-prefix-caching", "--json")
      expect(r.code).toBe(0)
      const s = json(r.stdout)
      expect(s.total_input_tokens).toBe(20 * 356)
      expect(s.prefix_cache_hits).toBe(19 * 256)
      const off = json((yield* runCapture("simulate", "--num-requests", "20", "--request-rate", "1", "--input-len", "356", "--output-len", "10",
        "--enable-prefix-caching", "--json")).stdout)
      expect(off.prefix_cache_hits).toBe(0)
      expect(s.mean_ttft_ms as number).toBeLessThan(off.mean_ttft_ms as number)
    }))
})

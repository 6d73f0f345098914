import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { benchResultWorkload, readVllmBenchResult } from "../../src/validate/vllmBenchResult.js"
import { runCapture } from "../cli/capture.js"

const fixture = path.join(import.meta.dirname, "..", "fixtures", "vllm-bench", "synthetic-llama-3.1-8b-rtx4090.json")
const original = JSON.parse(fs.readFileSync(fixture, "utf8")) as Record<string, unknown>

/** A variant of the fixture in a temporary file (`edit` changes the parsed object; `raw` the text). */
const variant = (edit: (o: Record<string, unknown>) => void, raw: (s: string) => string = (s) => s): string => {
  const o = structuredClone(original)
  edit(o)
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "vllm-bench-")), "result.json")
  fs.writeFileSync(file, raw(JSON.stringify(o)))
  return file
}

describe("a vllm bench serve --save-detailed result as the measured run", () => {
  it.effect("reads the per-request arrays with vLLM's metric definitions and drops the failed request", () =>
    Effect.gen(function*() {
      const r = yield* readVllmBenchResult(fixture)
      expect(r.numRequests).toBe(8)
      expect(r.failed).toBe(1)
      expect(r.requests).toBe(7)
      expect(r.samples.ttft[0]).toBeCloseTo(78.713, 9)
      // TPOT = (latency - ttft) / (output - 1): request 0 has 64 tokens; the 1-token request has none
      const lat0 = (original["latencies"] as Array<number>)[0]!
      expect(r.samples.tpot[0]).toBeCloseTo((lat0 - 0.078713) / 63 * 1e3, 9)
      expect(r.samples.tpot.length).toBe(6)
      expect(r.samples.itl!.length).toBe(63 + 127 + 31 + 99 + 0 + 79 + 49)
      expect(r.totalInput).toBe(original["total_input_tokens"])
      expect(r.totalOutput).toBe(original["total_output_tokens"])
      expect(r.durationS).toBe(original["duration"])
      const w = yield* benchResultWorkload(r, 0)
      // replayed at the measured send times, relative to the first
      expect(w.arrivals.map((a) => a.arrivalNs)).toEqual([0, 310, 430, 870, 920, 1190, 1790].map((ms) => ms * 1e6))
      expect(w.arrivals[5]).toMatchObject({ promptTokens: 2000, outputTokens: 80 })
      expect(w.notHonoured.some((x) => x.includes("1 failed request"))).toBe(true)
    }))

  it.effect("without start_times the arrivals are drawn as vLLM bench draws them (rescaled to num_prompts / rate)", () =>
    Effect.gen(function*() {
      const r = yield* readVllmBenchResult(variant((o) => { delete o["start_times"] }))
      const w = yield* benchResultWorkload(r, 3)
      // 8 delays drawn, the 8th (a failed request, dropped) lands at exactly 8 / 4 = 2 s
      expect(w.arrivals.length).toBe(7)
      const times = w.arrivals.map((a) => a.arrivalNs)
      expect([...times].sort((a, b) => a - b)).toEqual(times)
      expect(times[6]!).toBeLessThan(2e9)
      expect(w.notHonoured.some((x) => x.startsWith("arrival times: no start_times"))).toBe(true)
      // the same seed, the same arrivals
      expect((yield* benchResultWorkload(r, 3)).arrivals).toEqual(w.arrivals)
      // request_rate "inf" sends everything at t = 0; bare Infinity (Python's json) is read
      const inf = yield* readVllmBenchResult(variant((o) => { delete o["start_times"]; o["request_rate"] = "inf" }, (s) => s.replace('"burstiness":1', '"burstiness":Infinity')))
      expect(inf.burstiness).toBe(Infinity)
      expect((yield* benchResultWorkload(inf, 0)).arrivals.every((a) => a.arrivalNs === 0)).toBe(true)
    }))

  it.effect("max_concurrency: refused when the client held requests back and there are no send times; replayed (and said) with them", () =>
    Effect.gen(function*() {
      const held = yield* readVllmBenchResult(variant((o) => {
        delete o["start_times"]
        o["max_concurrency"] = 2
        o["queue_times"] = (o["queue_times"] as Array<number>).map((q, i) => (i > 3 ? 0.35 : q))
      }))
      const e = yield* Effect.flip(benchResultWorkload(held, 0))
      expect(e.message).toContain("max_concurrency=2")
      expect(e.message).toContain("cannot reproduce")
      // the limit never bound (queue times ~10 us): open-loop arrivals reproduce it
      const idle = yield* readVllmBenchResult(variant((o) => { delete o["start_times"]; o["max_concurrency"] = 16 }))
      expect((yield* benchResultWorkload(idle, 0)).honoured.some((x) => x.startsWith("max_concurrency=16: never held"))).toBe(true)
      // with start_times: the measured sends are replayed and the output says the loop is not simulated
      const timed = yield* readVllmBenchResult(variant((o) => { o["max_concurrency"] = 2 }))
      expect((yield* benchResultWorkload(timed, 0)).notHonoured.some((x) => x.startsWith("max_concurrency=2: the closed loop of 2 clients is not simulated"))).toBe(true)
    }))

  it.effect("a result saved without --save-detailed is refused with what is missing", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(readVllmBenchResult(variant((o) => { for (const k of ["input_lens", "output_lens", "ttfts", "itls"]) delete o[k] })))
      expect(e.message).toContain("--save-detailed")
      const missing = yield* Effect.flip(readVllmBenchResult(path.join(os.tmpdir(), "no-such-result.json")))
      expect(missing.message).toContain("no such file")
    }))

  it.effect("validate end to end: TTFT/TPOT/ITL/E2E rows, KS and TOST in the table and in validation.json", () =>
    Effect.gen(function*() {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "validate-vb-"))
      const r1 = yield* runCapture("validate", "--run", fixture, "--hardware", "RTX4090", "--max-num-seqs", "64", "--output-dir", out, "--tolerance", "num_gpu_blocks=5")
      const code = r1.code
      const text = r1.stderr
      // KV capacity is not recorded in a bench result: naming it in --tolerance is refused
      expect(code).toBe(1)
      expect(text).toContain("records no KV block count")
      const r2 = yield* runCapture("validate", "--run", fixture, "--hardware", "RTX4090", "--max-num-seqs", "64", "--output-dir", out, "--tolerance", "itl=1000,throughput=1000")
      const t2 = r2.stdout + r2.stderr
      expect(r2.code, t2).toBe(0)
      for (const s of ["(vllm bench serve result)", "mean_itl_ms", "request_throughput", "KS D", "TOST p", "±10% equiv.", "ITL", "max_num_seqs=64 (by flag)", "1 failed request", "measured at the client"]) expect(t2, s).toContain(s)
      const v = JSON.parse(fs.readFileSync(path.join(out, "validation.json"), "utf8")) as Record<string, any>
      expect(v["run_format"]).toBe("vllm-bench-serve")
      expect(v["requests"]).toMatchObject({ measured: 7, simulated: 7, rejected: 0 })
      expect(Object.keys(v["accuracy"])).toEqual(["ttft", "tpot", "itl", "e2el"])
      const itl = v["accuracy"]["itl"]
      expect(itl.n_measured).toBe(448)
      expect(itl.n_simulated).toBe(448)
      expect(itl.ks.d).toBeGreaterThanOrEqual(0)
      expect(itl.ks.d).toBeLessThanOrEqual(1)
      expect(typeof itl.tost.equivalent).toBe("boolean")
      expect(itl.tost.margin_pct).toBe(10)
      const meanItl = (original["itls"] as Array<Array<number>>).flat().reduce((a, b) => a + b, 0) / 448 * 1e3
      expect(v["mean_itl_ms"].measured).toBeCloseTo(meanItl, 9)
      expect(itl.diff_pct.mean).toBeCloseTo(v["mean_itl_ms"].diff_pct, 9)
      expect(v["num_gpu_blocks"]).toBeUndefined()
      fs.rmSync(out, { recursive: true })
    }), 60_000)

  it.effect("a bench-layout folder still needs --workload; --hardware is needed for a bench result", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("validate", "--run", fixture)
      expect(r.code).toBe(1)
      expect(r.stderr).toContain("records no GPU; give --hardware")
      const tiny = path.join(import.meta.dirname, "..", "fixtures", "bench", "tiny")
      const t = yield* runCapture("validate", "--run", tiny)
      expect(t.code).toBe(1)
      expect(t.stderr).toContain("--workload: required")
    }))
})

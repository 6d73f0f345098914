/**
 * A `vllm bench serve --save-result --save-detailed` result JSON as a measured run, and the
 * workload that replays it. Keys as vLLM's benchmarks/serve.py writes them (`benchmark()`'s result
 * dict merged into `main_async`'s result_json):
 *   top level: model_id, num_prompts, request_rate (a number or "inf"), burstiness,
 *     max_concurrency (null or N), ramp_up_strategy / ramp_up_start_rps / ramp_up_end_rps,
 *     duration (s), completed, failed, total_input_tokens, total_output_tokens, ...
 *   per request (only with --save-detailed), all in seconds, failed requests included:
 *     input_lens, output_lens (0 for a failed request), ttfts, itls (a list of gaps per request),
 *     latencies (the E2E latency; `e2els` accepted too), start_times (the send time,
 *     perf_counter s; newer vLLM), queue_times (client-side wait for --max-concurrency), errors ("" = ok).
 * Metrics as vLLM computes them: TTFT = ttft; TPOT = (latency - ttft) / (output_len - 1) for
 * output_len > 1; ITL = every element of itls; E2E = latency; all measured at the client from the
 * moment the request was sent. Python's json writes Infinity/NaN bare; they are read as such.
 *
 * The workload (`benchResultWorkload`): each successful request's input_lens[i] / output_lens[i]
 * (the measured output length, EOS or not), arriving
 *   - at its measured send time (start_times[i] - the first), when the file has start_times;
 *   - else as vLLM's get_request() draws them: gamma gaps with shape `burstiness` and mean
 *     1 / request_rate (constant gaps for burstiness inf; all at t = 0 for rate inf; per-request
 *     rates for a linear/exponential ramp-up), the cumulative delays rescaled so the last is
 *     num_prompts / request_rate (no ramp-up), drawn from this simulator's seeded generator (not
 *     numpy's stream, so the arrivals match the run's in distribution only).
 * `max_concurrency` (a closed loop of N clients) is not simulated (simulate has no
 * --max-concurrency yet): with start_times the measured sends (which carry the client-side
 * queueing) are replayed and validate says so; without them it is refused unless the run's
 * queue_times show the limit never held a request back.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError, InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { Rng } from "../workload/Rng.js"
import type { MeasuredRun } from "./measured.js"
import { jsonSyntaxError } from "../domain/jsonSyntax.js"

export interface VllmBenchResult extends MeasuredRun {
  readonly format: "vllm-bench-serve"
  readonly modelId: string | undefined
  /** Requests in the file (completed + failed). */
  readonly numRequests: number
  readonly failed: number
  /** Requests/s; Infinity for "inf". */
  readonly requestRate: number
  readonly burstiness: number
  readonly maxConcurrency: number | undefined
  readonly rampUp: { readonly strategy: "linear" | "exponential"; readonly startRps: number; readonly endRps: number } | undefined
  /** Per request in the file's order (failed included). */
  readonly ok: ReadonlyArray<boolean>
  readonly inputLens: ReadonlyArray<number>
  readonly outputLens: ReadonlyArray<number>
  readonly startTimes: ReadonlyArray<number> | undefined
  readonly queueTimes: ReadonlyArray<number> | undefined
}

/** Python's json.dump writes Infinity, -Infinity and NaN bare; JSON.parse reads 1e999 as Infinity. */
const pythonJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch (first) {
    const fixed = text
      .replace(/([:[,]\s*)(-?)Infinity(?=\s*[,\]}])/g, (_, pre: string, sign: string) => `${pre}${sign}1e999`)
      .replace(/([:[,]\s*)NaN(?=\s*[,\]}])/g, (_, pre: string) => `${pre}null`)
    try {
      return JSON.parse(fixed)
    } catch {
      throw first
    }
  }
}

/** Does this file look like a vllm bench result (a JSON object, not the bench layout's meta.json)? */
export const isVllmBenchResultPath = (p: string): boolean =>
  p.toLowerCase().endsWith(".json") && path.basename(p) !== "meta.json" && !(fs.existsSync(p) && fs.statSync(p).isDirectory())

export const readVllmBenchResult = (file: string): Effect.Effect<VllmBenchResult, FileError | InputError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: (e) => new FileError({ path: file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (expected a `vllm bench serve --save-result --save-detailed` result JSON)" : (e as Error).message }) })
    const j = yield* Effect.try({ try: () => pythonJson(text), catch: (e) => new InputError({ path: file, expected: "valid JSON (a `vllm bench serve --save-result --save-detailed` result)", got: jsonSyntaxError(text, e) }) })
    if (typeof j !== "object" || j === null || Array.isArray(j)) return yield* new InputError({ path: file, expected: "a JSON object (a `vllm bench serve --save-result --save-detailed` result)" })
    const o = j as Record<string, unknown>
    const latKey = Array.isArray(o["latencies"]) ? "latencies" : "e2els"
    const required = ["input_lens", "output_lens", "ttfts", "itls", latKey]
    const missing = required.filter((k) => !Array.isArray(o[k]))
    if (missing.length > 0) {
      return yield* new InputError({
        path: file,
        field: missing[0]!,
        expected: "the per-request arrays of `vllm bench serve --save-result --save-detailed` (input_lens, output_lens, ttfts, itls, latencies); this result was saved without --save-detailed or is not a vllm bench result"
      })
    }
    const arr = (k: string) => o[k] as ReadonlyArray<unknown>
    const n = arr("input_lens").length
    for (const k of [...required, "start_times", "queue_times", "errors"]) {
      if (Array.isArray(o[k]) && arr(k).length !== n) return yield* new InputError({ path: file, field: k, expected: `${n} entries (as input_lens)`, got: String(arr(k).length) })
    }
    if (n === 0) return yield* new InputError({ path: file, field: "input_lens", expected: "at least one request" })
    const num = (k: string, i: number, min = 0): number | InputError => {
      const x = arr(k)[i]
      return typeof x === "number" && Number.isFinite(x) && x >= min ? x : new InputError({ path: file, field: `${k}[${i}]`, expected: `a number >= ${min}`, got: JSON.stringify(x) })
    }
    const errors = Array.isArray(o["errors"]) ? arr("errors") : undefined
    const ok: Array<boolean> = []
    const inputLens: Array<number> = []
    const outputLens: Array<number> = []
    const ttft: Array<number> = []
    const tpot: Array<number> = []
    const e2el: Array<number> = []
    const itl: Array<number> = []
    let tin = 0
    let tout = 0
    for (let i = 0; i < n; i++) {
      const vals = [num("input_lens", i), num("output_lens", i), num("ttfts", i), num(latKey, i)]
      const bad = vals.find((x): x is InputError => typeof x !== "number")
      if (bad !== undefined) return yield* bad
      const [inp, out, t, lat] = vals as [number, number, number, number]
      if (!Number.isInteger(inp) || !Number.isInteger(out)) return yield* new InputError({ path: file, field: `input_lens[${i}]/output_lens[${i}]`, expected: "integers", got: `${inp}/${out}` })
      const err = errors?.[i]
      const good = (typeof err !== "string" || err === "") && out > 0 && inp > 0
      ok.push(good)
      inputLens.push(inp)
      outputLens.push(out)
      if (!good) continue
      ttft.push(t * 1e3)
      e2el.push(lat * 1e3)
      if (out > 1) tpot.push((lat - t) / (out - 1) * 1e3)
      const gaps = arr("itls")[i]
      if (!Array.isArray(gaps)) return yield* new InputError({ path: file, field: `itls[${i}]`, expected: "a list of inter-token gaps (s)", got: JSON.stringify(gaps) })
      for (const g of gaps as ReadonlyArray<unknown>) {
        if (!(typeof g === "number" && Number.isFinite(g) && g >= 0)) return yield* new InputError({ path: file, field: `itls[${i}]`, expected: "numbers >= 0", got: JSON.stringify(g) })
        itl.push(g * 1e3)
      }
      tin += inp
      tout += out
    }
    const completed = ttft.length
    if (completed === 0) return yield* new InputError({ path: file, field: "errors", expected: "at least one successful request" })
    const optNums = (k: string): Array<number> | undefined | InputError => {
      if (!Array.isArray(o[k])) return undefined
      const xs: Array<number> = []
      for (let i = 0; i < n; i++) {
        const x = arr(k)[i]
        if (!ok[i]) {
          xs.push(NaN)
          continue
        }
        if (!(typeof x === "number" && Number.isFinite(x))) return new InputError({ path: file, field: `${k}[${i}]`, expected: "a number", got: JSON.stringify(x) })
        xs.push(x)
      }
      return xs
    }
    const startTimes = optNums("start_times")
    if (startTimes instanceof InputError) return yield* startTimes
    const queueTimes = optNums("queue_times")
    if (queueTimes instanceof InputError) return yield* queueTimes
    const rr = o["request_rate"]
    const requestRate = rr === undefined || rr === null || rr === "inf" || rr === Infinity ? Infinity : typeof rr === "number" && rr > 0 ? rr : NaN
    if (Number.isNaN(requestRate)) return yield* new InputError({ path: file, field: "request_rate", expected: 'a number > 0 or "inf"', got: JSON.stringify(rr) })
    const b = o["burstiness"]
    const burstiness = b === undefined || b === null ? 1 : typeof b === "number" && b > 0 ? b : NaN
    if (Number.isNaN(burstiness)) return yield* new InputError({ path: file, field: "burstiness", expected: "a number > 0", got: JSON.stringify(b) })
    const mc = o["max_concurrency"]
    if (!(mc === undefined || mc === null || (typeof mc === "number" && Number.isInteger(mc) && mc > 0))) return yield* new InputError({ path: file, field: "max_concurrency", expected: "null or a positive integer", got: JSON.stringify(mc) })
    const strategy = o["ramp_up_strategy"]
    let rampUp: VllmBenchResult["rampUp"]
    if (strategy === "linear" || strategy === "exponential") {
      const s = o["ramp_up_start_rps"]
      const e = o["ramp_up_end_rps"]
      if (typeof s !== "number" || typeof e !== "number") return yield* new InputError({ path: file, field: "ramp_up_start_rps", expected: "numbers for ramp_up_start_rps and ramp_up_end_rps", got: `${JSON.stringify(s)}, ${JSON.stringify(e)}` })
      rampUp = { strategy, startRps: s, endRps: e }
    } else if (strategy !== undefined && strategy !== null) {
      return yield* new InputError({ path: file, field: "ramp_up_strategy", expected: '"linear", "exponential" or null', got: JSON.stringify(strategy) })
    }
    const dur = o["duration"]
    let durationS: number
    if (typeof dur === "number" && dur > 0) durationS = dur
    else if (startTimes !== undefined) {
      let lo = Infinity
      let hi = -Infinity
      for (let i = 0; i < n; i++) {
        if (!ok[i]) continue
        lo = Math.min(lo, startTimes[i]!)
        hi = Math.max(hi, startTimes[i]! + (arr(latKey)[i] as number))
      }
      durationS = hi - lo
    } else return yield* new InputError({ path: file, field: "duration", expected: "the benchmark duration in s" })
    // the completed requests one by one, in file order (sent at start_times, else in file order)
    const okIdx = ok.flatMap((g, i) => (g ? [i] : []))
    const perRequest = {
      inputTokens: okIdx.map((i) => inputLens[i]!),
      outputTokens: okIdx.map((i) => outputLens[i]!),
      sendS: okIdx.map((i) => startTimes?.[i] ?? i),
      ttftMs: Float64Array.from(ttft),
      tpotMs: Float64Array.from(okIdx, (i, j) => (outputLens[i]! > 1 ? (e2el[j]! - ttft[j]!) / (outputLens[i]! - 1) : NaN)),
      e2elMs: Float64Array.from(e2el)
    }
    return {
      format: "vllm-bench-serve",
      perRequest,
      source: file,
      requests: completed,
      samples: { ttft: Float64Array.from(ttft), tpot: Float64Array.from(tpot), e2el: Float64Array.from(e2el), itl: Float64Array.from(itl) },
      durationS,
      totalInput: tin,
      totalOutput: tout,
      modelId: typeof o["model_id"] === "string" ? o["model_id"] : undefined,
      numRequests: n,
      failed: n - completed,
      requestRate,
      burstiness,
      maxConcurrency: typeof mc === "number" ? mc : undefined,
      rampUp,
      ok,
      inputLens,
      outputLens,
      startTimes,
      queueTimes
    }
  })

/** vLLM's _get_current_request_rate. */
const rateAt = (r: VllmBenchResult, i: number): number => {
  if (r.rampUp === undefined) return r.requestRate
  const progress = i / Math.max(r.numRequests - 1, 1)
  const { strategy, startRps, endRps } = r.rampUp
  return strategy === "linear" ? startRps + (endRps - startRps) * progress : startRps * (endRps / startRps) ** progress
}

export interface ReplayWorkload {
  readonly arrivals: ReadonlyArray<Arrival>
  readonly description: string
  readonly spec: Record<string, unknown>
  /** "setting=value: how it is reproduced" */
  readonly honoured: ReadonlyArray<string>
  /** "setting=value: why not (or only in part)" */
  readonly notHonoured: ReadonlyArray<string>
}

const fmt = (x: number) => (Number.isFinite(x) ? String(x) : "inf")

/**
 * The replay of `r` (see the module comment). Fails with InvalidOption (--run) for what cannot be
 * reproduced: a client-side concurrency limit that held requests back, with no send times to replay.
 */
export const benchResultWorkload = (r: VllmBenchResult, seed: number): Effect.Effect<ReplayWorkload, InvalidOption> =>
  Effect.gen(function*() {
    const honoured: Array<string> = [`input_lens/output_lens: the ${r.requests} successful requests' prompt and measured output lengths`]
    const not: Array<string> = []
    if (r.failed > 0) not.push(`${r.failed} failed request(s) (errors[] or no output) left out of the replay and of the comparison`)
    const maxQueueS = r.queueTimes === undefined ? undefined : r.queueTimes.reduce((m, x, i) => (r.ok[i] ? Math.max(m, x) : m), 0)
    const meanQueueMs = r.queueTimes === undefined ? undefined : 1e3 * r.queueTimes.reduce((s, x, i) => (r.ok[i] ? s + x : s), 0) / r.requests
    let times: Array<number>
    let how: string
    if (r.startTimes !== undefined) {
      let t0 = Infinity
      for (let i = 0; i < r.numRequests; i++) if (r.ok[i] && r.startTimes[i]! < t0) t0 = r.startTimes[i]!
      times = r.startTimes.map((t) => (t - t0) * 1e9)
      how = "at the measured send times (start_times)"
      honoured.push("arrivals: each request at its measured send time (start_times - the first)")
      if (r.maxConcurrency !== undefined) {
        not.push(`max_concurrency=${r.maxConcurrency}: the closed loop of ${r.maxConcurrency} clients is not simulated (simulate has no --max-concurrency yet); ` +
          `requests arrive at their measured send times, which carry the real client-side queueing${meanQueueMs === undefined ? "" : ` (mean ${meanQueueMs.toFixed(1)} ms)`}, ` +
          "so a simulated server faster or slower than the real one does not move later sends as the real clients would")
      }
    } else {
      if (r.maxConcurrency !== undefined) {
        if (maxQueueS === undefined || maxQueueS > 1e-3) {
          return yield* new InvalidOption({
            option: "--run",
            reason: `${r.source}: max_concurrency=${r.maxConcurrency} with ${maxQueueS === undefined ? "no queue_times recorded" : `client-side queueing up to ${(maxQueueS * 1e3).toFixed(1)} ms`}: ` +
              `a closed loop of ${r.maxConcurrency} clients, which simulate cannot reproduce yet (no --max-concurrency), and the file has no start_times to replay the measured sends; ` +
              "an open-loop replay would be a different experiment, so validate refuses it"
          })
        }
        honoured.push(`max_concurrency=${r.maxConcurrency}: never held a request back (client queue time <= ${(maxQueueS * 1e3).toFixed(2)} ms), so open-loop arrivals reproduce it`)
      }
      const rng = new Rng(seed)
      const delays: Array<number> = []
      let acc = 0
      for (let i = 0; i < r.numRequests; i++) {
        const rate = rateAt(r, i)
        if (!(rate > 0)) return yield* new InvalidOption({ option: "--run", reason: `${r.source}: request ${i} has request rate ${rate} (ramp-up from ${r.rampUp?.startRps}): vLLM refuses a rate <= 0 too` })
        const gapS = !Number.isFinite(rate) ? 0 : !Number.isFinite(r.burstiness) ? 1 / rate : r.burstiness === 1 ? rng.exponential(1 / rate) : rng.gamma(r.burstiness, 1 / (rate * r.burstiness))
        acc += gapS
        delays.push(acc)
      }
      if (r.rampUp === undefined && acc > 0) {
        const k = r.numRequests / r.requestRate / acc
        for (let i = 0; i < delays.length; i++) delays[i]! *= k
      }
      times = delays.map((s) => s * 1e9)
      if (r.rampUp !== undefined) {
        how = `${r.rampUp.strategy} ramp-up ${r.rampUp.startRps} -> ${r.rampUp.endRps} req/s, burstiness ${fmt(r.burstiness)}`
      } else how = Number.isFinite(r.requestRate) ? `${r.requestRate} req/s, burstiness ${fmt(r.burstiness)}` : "all at t=0 (request_rate inf)"
      if (Number.isFinite(r.requestRate) || r.rampUp !== undefined) {
        const gaps = Number.isFinite(r.burstiness) ? (r.burstiness === 1 ? "exponential gaps" : "gamma gaps") : "constant gaps"
        honoured.push(`arrivals: ${how}, drawn as vLLM bench draws them (${gaps}${r.rampUp === undefined ? ", the total rescaled to num_prompts / rate" : ""})`)
        not.push(`arrival times: no start_times in the file, so they are re-drawn with this simulator's seeded generator (seed ${seed}), not numpy's stream: ` +
          "the same process, but the per-request times differ from the run's")
      } else honoured.push("request_rate=inf: every request at t=0")
    }
    const idx = Array.from({ length: r.numRequests }, (_, i) => i).filter((i) => r.ok[i]).sort((a, b) => times[a]! - times[b]! || a - b)
    const arrivals = idx.map((i): Arrival => ({ arrivalNs: Math.round(times[i]!), promptTokens: r.inputLens[i]!, outputTokens: r.outputLens[i]! }))
    return {
      arrivals,
      description: `${r.requests} requests from ${r.source} (${how})`,
      spec: { vllm_bench_result: r.source, arrivals: how, num_requests: r.requests, request_rate: fmt(r.requestRate), burstiness: fmt(r.burstiness), max_concurrency: r.maxConcurrency ?? null },
      honoured,
      notHonoured: not
    }
  })

/**
 * The `test-api` load client: drives any OpenAI-compatible endpoint (ours or a real vLLM) with a
 * workload, streams every response and measures what `vllm bench serve` measures, with its
 * definitions (openai-wire.md section 4): TTFT = first chunk with a token - send time; ITL = each
 * gap between token chunks; TPOT = (latency - TTFT) / (output tokens - 1); E2E = last token - send;
 * output tokens from the usage chunk (else the number of token chunks); a request fails on a
 * non-200 status, an `error` chunk or no token at all.
 *
 * Arrivals are sent at `arrival / timeScale` wall seconds after the start, limited to
 * `maxConcurrency` requests in flight (vLLM's semaphore, first in first out; a slot is released when
 * the response ends, and with `thinkTimeMs` after an exponential think time as well, the offline
 * closed-loop client's option). With a limit, each request's client queue time (its send minus the
 * moment it was due and created, vLLM's `client_queue_time`) is measured too. With `timeScale` > 1 (a
 * simulated server running faster than real time) every measured duration is multiplied by
 * `timeScale`, so the figures are in simulated time and compare directly with the offline simulation.
 *
 * Prompts: completions send the prompt as token ids (exactly `promptTokens` of them, see
 * `promptIds`: the trace's own when it has them, else unique per request) with `max_tokens` =
 * output tokens and `ignore_eos`; chat sends a user message of `promptTokens` one-token words,
 * different for every request, and `max_completion_tokens`. Times come from
 * `process.hrtime` (real time; this is a client of a real server).
 */
import * as http from "node:http"
import * as https from "node:https"
import type { Arrival } from "../engine/Engine.js"
import { type Distribution, distributionOf, Samples } from "../metrics/stats.js"
import { Rng } from "../workload/Rng.js"

export interface LoadOptions {
  /** Base URL without /v1, e.g. http://127.0.0.1:8000. */
  readonly baseUrl: string
  readonly model: string
  readonly endpoint: "completions" | "chat"
  /** At most this many requests in flight (Infinity = unlimited). */
  readonly maxConcurrency: number
  /** With a limit: mean of the exponential think time after a response before its slot is reused, simulated ms (default 0). */
  readonly thinkTimeMs?: number
  /** Seed of the think-time draws (default 0). */
  readonly seed?: number
  /** Every request is due at t = 0 (--request-rate inf): no `e2el_including_client_queue` stats, as vLLM bench. */
  readonly allAtOnce?: boolean
  /** Arrival times divided by it, measured durations multiplied by it. */
  readonly timeScale: number
  readonly apiKey?: string | undefined
  /** Per-request timeout, ms of wall time. */
  readonly timeoutMs?: number
  /**
   * LoRA adapter names (id 1..n at index 0..n-1): a request whose arrival carries `lora` > 0 is sent
   * with that adapter's name as `model`, as `vllm bench serve --lora-modules` sends it.
   */
  readonly loraAdapters?: ReadonlyArray<string> | undefined
}

export interface RequestResult {
  readonly ok: boolean
  readonly error?: string
  readonly promptTokens: number
  readonly outputTokens: number
  /** Simulated-time ms (wall x timeScale). */
  readonly ttftMs: number
  readonly e2eMs: number
  readonly itlMs: ReadonlyArray<number>
  /** Wall ns (process.hrtime) the request was sent / finished. */
  readonly startNs: number
  readonly endNs: number
  /** With a concurrency limit: send minus the time it was due and created, simulated ms. */
  readonly clientQueueMs?: number
}

export interface LoadResult {
  readonly requests: ReadonlyArray<RequestResult>
  /** Received minus scheduled wall time of each token chunk, ms (only when the server sends due_mono_ns). */
  readonly chunkLagMs: Samples
  /** Server arrival minus client send time of each request, wall ms (only with arrival_mono_ns). */
  readonly ingestMs: Samples
  readonly durationS: number
  readonly maxConcurrency: number
  /** The client's limit (null: unlimited) and whether every request was due at t = 0. */
  readonly limit: number | null
  readonly allAtOnce: boolean
}

const EMPTY_CHOICES = /"choices":\s*\[\s*\]/
const TOKEN_CHOICES = /"choices":\s*\[\s*\{/
const ROLE_CHUNK = /"role":\s*"assistant"/
const EMPTY_CONTENT = /"content":\s*(""|null)\s*[,}]/

/** One keep-alive agent without a socket limit (every concurrent stream has its own connection). */
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
const tlsAgent = new https.Agent({ keepAlive: true, maxSockets: Infinity })

const now = () => Number(process.hrtime.bigint())

const mix = (a: number, b: number): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)
  h ^= h >>> 15
  return Math.imul(h, 0x27d4eb2f) >>> 0
}

/**
 * Prompt token ids of request `index`: derived from the trace's own token ids when it carries them
 * (equal ids stay equal, so shared prefixes hit the server's prefix cache as in the offline
 * simulation), from Mooncake's block hash ids (equal blocks, equal ids), from a session's positions
 * (shared system prompts stay shared), else drawn per request
 * (unique prompts, as `vllm bench serve`'s random dataset). All ids are in [100, 900), valid for any
 * vocabulary; two different 16-token blocks map to the same ids with probability 800^-16.
 */
export const promptIds = (a: Arrival, index: number): Array<number> => {
  const n = a.promptTokens
  const out = new Array<number>(n)
  const c = a.content
  for (let i = 0; i < n; i++) {
    if (c !== undefined && c.kind === "tokens" && i < c.ids.length) out[i] = 100 + (mix(c.ids[i]!, -1) % 800)
    else if (c !== undefined && c.kind === "hash-blocks" && Math.floor(i / c.blockTokens) < c.ids.length) {
      out[i] = 100 + (mix(c.ids[Math.floor(i / c.blockTokens)]!, i % c.blockTokens) % 800)
    } else if (c !== undefined && c.kind === "session") {
      out[i] = 100 + (mix(i < c.sharedTokens ? ~c.group : c.session + 1_000_003, i) % 800)
    } else out[i] = 100 + (mix(index + 1_000_003, i) % 800)
  }
  return out
}

const WORDS = ["hello", "world", "serving", "tokens", "simulator", "latency", "batch", "model"]

/** A chat message of `n` one-token words, different for every request `index`. */
const promptWords = (n: number, index: number): string => {
  const out: Array<string> = []
  for (let i = 0; i < n; i++) out.push(WORDS[mix(index, i) % WORDS.length]!)
  return out.join(" ")
}

/** Send one request and stream its answer. */
export const runOne = async (o: LoadOptions, a: Arrival, lag: Samples | undefined, ingest?: Samples, index = 0): Promise<RequestResult> => {
  const chat = o.endpoint === "chat"
  const model = a.lora !== undefined && a.lora > 0 && o.loraAdapters !== undefined ? o.loraAdapters[a.lora - 1]! : o.model
  const body = chat
    ? { model, messages: [{ role: "user", content: promptWords(a.promptTokens, index) }], max_completion_tokens: a.outputTokens, ignore_eos: true, stream: true, stream_options: { include_usage: true } }
    : { model, prompt: promptIds(a, index), max_tokens: a.outputTokens, ignore_eos: true, stream: true, stream_options: { include_usage: true } }
  const headers: Record<string, string> = { "content-type": "application/json" }
  if (o.apiKey !== undefined) headers["authorization"] = `Bearer ${o.apiKey}`
  const ts = o.timeScale
  const start = now()
  let first = -1
  let last = -1
  const itl: Array<number> = []
  let tokens = 0
  let usageOut = -1
  let usagePrompt = -1
  const fail = (error: string): RequestResult => ({ ok: false, error, promptTokens: a.promptTokens, outputTokens: 0, ttftMs: 0, e2eMs: 0, itlMs: [], startNs: start, endNs: now() })
  return new Promise<RequestResult>((resolve) => {
    let buf = ""
    let error: string | undefined
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      if (error !== undefined) return resolve(fail(error))
      if (first < 0) return resolve(fail("Never received a valid chunk to calculate TTFT."))
      resolve({
        ok: true,
        promptTokens: usagePrompt >= 0 ? usagePrompt : a.promptTokens,
        outputTokens: usageOut >= 0 ? usageOut : tokens,
        ttftMs: ((first - start) / 1e6) * ts,
        e2eMs: ((last - start) / 1e6) * ts,
        itlMs: itl,
        startNs: start,
        endNs: last
      })
    }
    /** One `data:` payload; true at [DONE]. */
    const onData = (data: string, t: number): boolean => {
      if (data === "[DONE]") return true
      // Token chunks are recognised without parsing them (the client must keep up with
      // thousands of chunks per second); usage and error chunks are parsed.
      if (data.startsWith('{"error"') || EMPTY_CHOICES.test(data)) {
        const c = JSON.parse(data) as { usage?: { prompt_tokens: number; completion_tokens: number }; error?: { message: string } }
        if (c.error !== undefined) error = c.error.message
        else if (c.usage !== undefined) {
          usageOut = c.usage.completion_tokens
          usagePrompt = c.usage.prompt_tokens
        }
        return false
      }
      if (chat && ROLE_CHUNK.test(data) && EMPTY_CONTENT.test(data)) return false // the role chunk is not a token
      if (!TOKEN_CHOICES.test(data)) {
        const c = JSON.parse(data) as { error?: { message: string } }
        if (c.error !== undefined) error = c.error.message
        return false
      }
      tokens++
      if (first < 0) {
        first = t
        const k = data.indexOf('"arrival_mono_ns":')
        if (k >= 0 && ingest !== undefined) ingest.push((parseInt(data.slice(k + 18), 10) - start) / 1e6)
      } else itl.push(((t - last) / 1e6) * ts)
      last = t
      if (lag !== undefined) {
        const k = data.indexOf('"due_mono_ns":')
        if (k >= 0) lag.push((t - parseInt(data.slice(k + 14), 10)) / 1e6)
      }
      return false
    }
    const url = new URL(`${o.baseUrl}/v1/${chat ? "chat/completions" : "completions"}`)
    const payload = JSON.stringify(body)
    const tls = url.protocol === "https:"
    const request = tls ? https.request : http.request
    const req = request(url, { method: "POST", headers: { ...headers, "content-length": Buffer.byteLength(payload) }, agent: tls ? tlsAgent : agent }, (res) => {
      if (res.statusCode !== 200) {
        let text = ""
        res.setEncoding("utf8")
        res.on("data", (c: string) => (text += c))
        res.on("end", () => {
          error = `HTTP ${res.statusCode}: ${text.slice(0, 200)}`
          finish()
        })
        return
      }
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        const t = now()
        buf += chunk
        let i: number
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim()
          buf = buf.slice(i + 1)
          if (!line.startsWith("data:")) continue
          if (onData(line.slice(5).trim(), t)) {
            finish()
            return
          }
        }
      })
      res.on("end", finish)
      res.on("error", (e) => {
        error ??= e.message
        finish()
      })
    })
    req.on("error", (e) => {
      error ??= e.message
      finish()
    })
    if (o.timeoutMs !== undefined) req.setTimeout(o.timeoutMs, () => req.destroy(new Error("timeout")))
    req.end(payload)
  })
}

/** Send every arrival on schedule (wall = arrival / timeScale) and collect the results. */
export const runLoad = async (o: LoadOptions, arrivals: ReadonlyArray<Arrival>, onDone?: (n: number) => void): Promise<LoadResult> => {
  const lag = new Samples()
  const ingest = new Samples()
  const results: Array<RequestResult> = new Array(arrivals.length)
  const t0 = now()
  let inFlight = 0
  let maxInFlight = 0
  let finished = 0
  const waiters: Array<() => void> = []
  const limited = Number.isFinite(o.maxConcurrency)
  const think = limited && (o.thinkTimeMs ?? 0) > 0 ? new Rng(((o.seed ?? 0) ^ 0x2c1b3c6d) >>> 0) : undefined
  const acquire = async () => {
    while (inFlight >= o.maxConcurrency) await new Promise<void>((r) => waiters.push(r))
    inFlight++
    if (inFlight > maxInFlight) maxInFlight = inFlight
  }
  const release = () => {
    inFlight--
    waiters.shift()?.()
  }
  const tasks: Array<Promise<void>> = []
  // a burst of sends (many arrivals due at once) gives the event loop back every ~2 ms, so the
  // responses already streaming are read when they arrive, not after the whole burst was sent
  let lastYield = now()
  for (let i = 0; i < arrivals.length; i++) {
    const a = arrivals[i]!
    const due = t0 + a.arrivalNs / o.timeScale
    const wait = (due - now()) / 1e6
    if (wait > 1) {
      await new Promise((r) => setTimeout(r, wait))
      lastYield = now()
    } else if (now() - lastYield > 2e6) {
      await new Promise((r) => setImmediate(r))
      lastYield = now()
    }
    // when it was due and created (vLLM: the task is made at its arrival, then waits on the
    // semaphore); this loop reaches a request late only because it waited for the previous one's slot
    const created = wait > 1 ? now() : Math.min(now(), due)
    await acquire()
    tasks.push(runOne(o, a, lag, ingest, i).then((r) => {
      results[i] = limited ? { ...r, clientQueueMs: ((r.startNs - created) / 1e6) * o.timeScale } : r
      if (think === undefined) release()
      else setTimeout(release, think.exponential(o.thinkTimeMs!) / o.timeScale)
      onDone?.(++finished)
    }))
  }
  await Promise.all(tasks)
  let end = t0
  for (const r of results) if (r.ok && r.endNs > end) end = r.endNs
  return {
    requests: results, chunkLagMs: lag, ingestMs: ingest, durationS: ((end - t0) / 1e9) * o.timeScale, maxConcurrency: maxInFlight,
    limit: limited ? o.maxConcurrency : null, allAtOnce: o.allAtOnce === true
  }
}

/** The results as `summary.json` keys of `vllm bench serve` (and of `simulate`). */
export const loadSummary = (r: LoadResult, config: Record<string, unknown>): Record<string, unknown> => {
  const ttft = new Samples()
  const tpot = new Samples()
  const e2el = new Samples()
  const itl = new Samples()
  const queue = new Samples()
  const e2elQueue = new Samples()
  let completed = 0
  let input = 0
  let output = 0
  const errors: Array<string> = []
  for (const q of r.requests) {
    if (!q.ok) {
      if (errors.length < 20) errors.push(q.error ?? "failed")
      continue
    }
    completed++
    input += q.promptTokens
    output += q.outputTokens
    ttft.push(q.ttftMs)
    e2el.push(q.e2eMs)
    if (q.outputTokens > 1) tpot.push((q.e2eMs - q.ttftMs) / (q.outputTokens - 1))
    for (const x of q.itlMs) itl.push(x)
    if (q.clientQueueMs !== undefined) {
      queue.push(q.clientQueueMs)
      e2elQueue.push(q.e2eMs + q.clientQueueMs)
    }
  }
  const d = r.durationS
  const per = (x: number) => (d > 0 ? x / d : 0)
  const keys = (name: string, x: Distribution) => ({
    [`mean_${name}_ms`]: x.mean, [`median_${name}_ms`]: x.median, [`std_${name}_ms`]: x.std,
    [`p90_${name}_ms`]: x.p90, [`p95_${name}_ms`]: x.p95, [`p99_${name}_ms`]: x.p99
  })
  const lag = distributionOf(r.chunkLagMs)
  return {
    completed,
    failed: r.requests.length - completed,
    total_input_tokens: input,
    total_output_tokens: output,
    duration: d,
    request_throughput: per(completed),
    output_throughput: per(output),
    total_token_throughput: per(input + output),
    ...keys("ttft", distributionOf(ttft)),
    ...keys("tpot", distributionOf(tpot)),
    ...keys("itl", distributionOf(itl)),
    ...keys("e2el", distributionOf(e2el)),
    ...(r.limit === null ? {} : {
      max_concurrency: r.limit,
      ...keys("client_queue_time", distributionOf(queue)),
      ...(r.allAtOnce ? {} : keys("e2el_including_client_queue", distributionOf(e2elQueue)))
    }),
    max_concurrent_requests: r.maxConcurrency,
    ...(r.ingestMs.length > 0 ? { request_ingest_wall_ms: { samples: r.ingestMs.length, ...distributionOf(r.ingestMs) } } : {}),
    ...(r.chunkLagMs.length > 0 ? { chunk_lag_wall_ms: { samples: r.chunkLagMs.length, mean: lag.mean, median: lag.median, p90: lag.p90, p99: lag.p99 } } : {}),
    errors,
    config
  }
}

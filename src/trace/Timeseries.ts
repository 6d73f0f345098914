/**
 * `timeseries.csv`: the run in fixed buckets of simulated time (default 1 s), one row per bucket
 * per instance (replica), in the spirit of vLLM's logged stats and the measured runs' 1 s
 * timeseries (`t, prompt_throughput, gen_throughput, running, waiting, kv_cache_pct`), plus vLLM's
 * counters per bucket. Bucket k covers [k·I, (k+1)·I); `t` is its end in seconds, as in the
 * measured files. Computed from step events and one look per request at its finish: no per-token
 * work. What each column holds (tokens, requests):
 *
 * - `steps`: engine steps that ended in the bucket; `busy_pct`: % of the bucket a step was running
 *   (under pipeline parallelism the mean over the replica's virtual engines).
 * - `prompt_tokens`: prompt tokens computed by the steps that ended in the bucket (prefill chunks,
 *   prefix-cache hits excluded, recomputation after a preemption included); `prompt_throughput`
 *   = that / the interval in s.
 * - `generation_tokens`: output tokens produced in the bucket: the decode tokens of the steps that
 *   ended in it, plus each request's first token at its step end (counted when the request
 *   finishes, so the whole series is written at the end of the run), plus the token a preempted
 *   request gets again when its recomputation completes, counted at the preemption; `gen_throughput`
 *   = that / the interval. It matches the summary's output tokens except for a prompt (or a
 *   recomputation) whose last chunk is a single token in a step, which the scheduler prices as a
 *   decode: that token can count twice.
 * - `running`, `waiting`, `kv_cache_pct`: time-weighted means over the bucket of what each step saw
 *   after scheduling (idle time counts as 0; KV use is blocks held over the instance's blocks).
 * - `prefix_cache_queries`, `prefix_cache_hits`: vLLM's counters (tokens looked up and found at
 *   first admissions), taken from the KV cache's counters at each step start.
 * - `preemptions`: requests preempted by steps that started in the bucket; `requests_finished`:
 *   requests whose last token came in the bucket.
 *
 * A fast-forwarded run of k steady decode steps reported as one step event (StepInfo.steps = k,
 * `durationNs` their total) is spread as k equal steps over its span: each bucket gets the step
 * ends, decode tokens and busy time that fall in it. (Today's engine reports each fast-forwarded
 * step on its own; both give the same series up to step-end placement.)
 *
 * Memory: 11 numbers per bucket per instance (88 bytes), for the whole simulated span.
 */
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { EngineObserver, StepInfo } from "../engine/EngineObserver.js"
import type { PrefixCacheStats } from "../memory/KvCache.js"
import { csvQuote } from "./format.js"

/** What the time series reads from an instance (an engine Instance fits). */
export interface TimeseriesSource {
  readonly id: number
  readonly virtualEngine: number
  readonly poolName: string
  readonly scheduler: { readonly kv: { readonly numBlocks: number; readonly stats: PrefixCacheStats } }
}

/** The columns of timeseries.csv / timeseries.parquet, in order. */
export const TIMESERIES_COLUMNS = [
  "t", "instance", "pool", "steps", "busy_pct", "prompt_throughput", "gen_throughput", "running", "waiting", "kv_cache_pct",
  "prompt_tokens", "generation_tokens", "prefix_cache_queries", "prefix_cache_hits", "preemptions", "requests_finished"
] as const

/** The header line of timeseries.csv. */
export const TIMESERIES_HEADER = TIMESERIES_COLUMNS.join(",") + "\n"

const STEPS = 0
const BUSY = 1
const PROMPT = 2
const GEN = 3
const RUNNING = 4
const WAITING = 5
const KV = 6
const QUERIES = 7
const HITS = 8
const PREEMPT = 9
const FINISHED = 10
const NC = 11

/** The finished series as columns, one entry per row (rows by bucket, then instance). */
export interface TimeseriesTable {
  readonly rows: number
  readonly intervalNs: number
  readonly t: Float64Array
  readonly instance: Int32Array
  readonly pool: ReadonlyArray<string>
  readonly steps: Float64Array
  readonly busyPct: Float64Array
  readonly promptThroughput: Float64Array
  readonly genThroughput: Float64Array
  readonly running: Float64Array
  readonly waiting: Float64Array
  readonly kvCachePct: Float64Array
  readonly promptTokens: Float64Array
  readonly generationTokens: Float64Array
  readonly prefixCacheQueries: Float64Array
  readonly prefixCacheHits: Float64Array
  readonly preemptions: Float64Array
  readonly requestsFinished: Float64Array
}

class Series {
  pool = "default"
  data = new Float64Array(64 * NC)
  /** Buckets touched: 0..used-1. */
  used = 0
  /** KV blocks per virtual engine (seen in steps or given by attach). */
  readonly kvBlocks: Array<number> = []
  readonly sources: Array<TimeseriesSource | undefined> = []
  readonly lastQueries: Array<number> = []
  readonly lastHits: Array<number> = []
  /** End of its latest step, ns. */
  lastEndNs = 0
  /** The bucket of the latest step's end, [lo, hi) ns at offset `o` (the fast path of step()). */
  lo = 0
  hi = -1
  o = 0

  /** The offset of bucket k in `data`, growing it as needed. */
  at(k: number): number {
    const need = (k + 1) * NC
    if (need > this.data.length) {
      let len = this.data.length * 2
      while (len < need) len *= 2
      const next = new Float64Array(len)
      next.set(this.data)
      this.data = next
    }
    if (k >= this.used) this.used = k + 1
    return k * NC
  }

  get virtualEngines(): number {
    return Math.max(1, this.kvBlocks.length)
  }

  get kvTotal(): number {
    let n = 0
    for (const b of this.kvBlocks) n += b ?? 0
    return n
  }
}

/** Fixed-interval time series of a run, fed by engine events (see the module comment). */
export class Timeseries {
  private readonly series: Array<Series | undefined> = []
  readonly observer: EngineObserver

  /** @param intervalNs bucket width, ns (an integer >= 1) */
  constructor(readonly intervalNs: number) {
    if (!Number.isInteger(intervalNs) || intervalNs < 1) throw new Error(`timeseries interval must be an integer >= 1 ns (got ${intervalNs})`)
    this.observer = {
      onStep: (s) => this.step(s),
      onFinish: (r) => this.finish(r),
      onPreempt: (r, tNs) => this.preempt(r, tNs)
    }
  }

  private of(instance: number): Series {
    let s = this.series[instance]
    if (s === undefined) this.series[instance] = s = new Series()
    return s
  }

  /**
   * Give the instances (all of them, so idle ones get rows too) and their KV caches, whose
   * prefix-cache counters feed `prefix_cache_queries` / `prefix_cache_hits`.
   */
  attach(sources: ReadonlyArray<TimeseriesSource>): void {
    for (const src of sources) {
      const s = this.of(src.id)
      s.pool = src.poolName
      s.kvBlocks[src.virtualEngine] = src.scheduler.kv.numBlocks
      s.sources[src.virtualEngine] = src
      s.lastQueries[src.virtualEngine] = src.scheduler.kv.stats.queries
      s.lastHits[src.virtualEngine] = src.scheduler.kv.stats.hits
    }
  }

  /** Take the prefix-cache counters' growth since the last look into bucket `k` of `s`. */
  private takeStats(s: Series, ve: number, k: number): void {
    const src = s.sources[ve]
    if (src === undefined) return
    const st = src.scheduler.kv.stats
    const q = st.queries - s.lastQueries[ve]!
    const h = st.hits - s.lastHits[ve]!
    if (q === 0 && h === 0) return
    s.lastQueries[ve] = st.queries
    s.lastHits[ve] = st.hits
    const o = s.at(k)
    s.data[o + QUERIES] += q
    s.data[o + HITS] += h
  }

  private step(info: StepInfo): void {
    const I = this.intervalNs
    const s = this.series[info.instance] ?? this.of(info.instance)
    if (s.pool !== info.pool) s.pool = info.pool
    const ve = info.virtualEngine
    if (s.kvBlocks[ve] === undefined) s.kvBlocks[ve] = info.kvBlocksTotal
    const start = info.startNs
    const d = info.durationNs
    const end = start + d
    if (end > s.lastEndNs) s.lastEndNs = end
    if ((info.steps === undefined || info.steps === 1) && start >= s.lo && end < s.hi) {
      // the common case: one step inside the bucket of the previous one's end
      const o = s.o
      this.takeStats(s, ve, o / NC)
      const a = s.data
      a[o + PREEMPT] += info.preempted
      a[o + BUSY] += d
      a[o + RUNNING] += info.running * d
      a[o + WAITING] += info.waiting * d
      a[o + KV] += info.kvBlocksUsed * d
      a[o + STEPS] += 1
      a[o + PROMPT] += info.shape.prefillTokens
      a[o + GEN] += info.shape.numDecode
      return
    }
    const kEndBucket = Math.floor(end / I)
    s.o = s.at(kEndBucket)
    s.lo = kEndBucket * I
    s.hi = s.lo + I
    const kFirst = Math.floor(start / I)
    this.takeStats(s, info.virtualEngine, kFirst)
    if (info.preempted > 0) s.data[s.at(kFirst) + PREEMPT] += info.preempted
    // time-weighted gauges and busy time over the buckets the step spans
    if (d > 0) {
      const kLast = Math.floor((end - 1) / I)
      for (let k = kFirst; k <= kLast; k++) {
        const lo = Math.max(start, k * I)
        const hi = Math.min(end, (k + 1) * I)
        const ov = hi - lo
        const o = s.at(k)
        const a = s.data
        a[o + BUSY] += ov
        a[o + RUNNING] += info.running * ov
        a[o + WAITING] += info.waiting * ov
        a[o + KV] += info.kvBlocksUsed * ov
      }
    }
    // step ends with their tokens: one step at `end`, or k equal steps over [start, end)
    const n = info.steps ?? 1
    const prefill = info.shape.prefillTokens
    const decode = info.shape.numDecode
    if (n === 1 || d === 0) {
      const o = s.at(Math.floor(end / I))
      const a = s.data
      a[o + STEPS] += n
      a[o + PROMPT] += prefill * n
      a[o + GEN] += decode * n
      return
    }
    // ends before time t: the j in 1..n with start + d·j/n < t
    const endsBefore = (t: number) => Math.min(n, Math.max(0, Math.ceil(((t - start) * n) / d) - 1))
    const kEnd = Math.floor(end / I)
    for (let k = kFirst; k <= kEnd; k++) {
      const m = endsBefore((k + 1) * I) - endsBefore(k * I)
      if (m === 0) continue
      const o = s.at(k)
      const a = s.data
      a[o + STEPS] += m
      a[o + PROMPT] += prefill * m
      a[o + GEN] += decode * m
    }
  }

  private finish(r: SimRequest): void {
    const I = this.intervalNs
    const s = this.of(r.instance)
    if (r.status === RequestStatus.Finished && r.numOutput >= r.outputTokens && r.finishNs >= 0) {
      s.data[s.at(Math.floor(r.finishNs / I)) + FINISHED] += 1
    }
    // the first token came from a prefill chunk, not counted as a decode by its step: unless it
    // was a disaggregated request's (a one-token step on the decode instance) or a prompt found
    // cached but for its last token at its only admission (a one-token chunk, priced as a decode)
    if (r.firstTokenNs >= 0 && r.prefillInstance < 0 && !(r.preemptions === 0 && r.cachedPromptTokens === r.promptTokens - 1)) {
      s.data[s.at(Math.floor(r.firstTokenNs / I)) + GEN] += 1
    }
  }

  private preempt(r: SimRequest, tNs: number): void {
    // its recomputation will end in a prefill chunk that gives its next token
    if (r.numOutput > 0) {
      const s = this.of(r.instance)
      s.data[s.at(Math.floor(tNs / this.intervalNs)) + GEN] += 1
    }
  }

  /** The series so far as columns: every instance seen or attached, buckets from 0 to the last event. */
  table(): TimeseriesTable {
    const I = this.intervalNs
    const ids: Array<number> = []
    let buckets = 0
    for (let id = 0; id < this.series.length; id++) {
      const s = this.series[id]
      if (s === undefined) continue
      ids.push(id)
      for (let ve = 0; ve < s.sources.length; ve++) this.takeStats(s, ve, Math.floor(s.lastEndNs / I))
      if (s.used > buckets) buckets = s.used
    }
    const rows = buckets * ids.length
    const f = () => new Float64Array(rows)
    const t = f(), steps = f(), busyPct = f(), promptThroughput = f(), genThroughput = f(), running = f(), waiting = f(), kvCachePct = f()
    const promptTokens = f(), generationTokens = f(), prefixCacheQueries = f(), prefixCacheHits = f(), preemptions = f(), requestsFinished = f()
    const instance = new Int32Array(rows)
    const pool: Array<string> = new Array(rows)
    const seconds = I / 1e9
    let row = 0
    for (let k = 0; k < buckets; k++) {
      for (const id of ids) {
        const s = this.series[id]!
        const a = s.data
        const o = k * NC
        const has = k < s.used
        const v = (c: number) => (has ? a[o + c]! : 0)
        const ves = s.virtualEngines
        const kvTotal = s.kvTotal
        t[row] = ((k + 1) * I) / 1e9
        instance[row] = id
        pool[row] = s.pool
        steps[row] = v(STEPS)
        busyPct[row] = (100 * v(BUSY)) / (I * ves)
        promptTokens[row] = v(PROMPT)
        generationTokens[row] = v(GEN)
        promptThroughput[row] = v(PROMPT) / seconds
        genThroughput[row] = v(GEN) / seconds
        running[row] = v(RUNNING) / I
        waiting[row] = v(WAITING) / I
        kvCachePct[row] = kvTotal > 0 ? (100 * v(KV)) / (kvTotal * I) : 0
        prefixCacheQueries[row] = v(QUERIES)
        prefixCacheHits[row] = v(HITS)
        preemptions[row] = v(PREEMPT)
        requestsFinished[row] = v(FINISHED)
        row++
      }
    }
    return {
      rows, intervalNs: I, t, instance, pool, steps, busyPct, promptThroughput, genThroughput, running, waiting, kvCachePct,
      promptTokens, generationTokens, prefixCacheQueries, prefixCacheHits, preemptions, requestsFinished
    }
  }
}

const f3 = (x: number) => x.toFixed(3)

/** Row `i` of the table as a timeseries.csv line: counts as integers, rates and means with 3 decimals. */
export const timeseriesRow = (tb: TimeseriesTable, i: number): string =>
  `${tb.t[i]},${tb.instance[i]},${csvQuote(tb.pool[i]!)},${tb.steps[i]},${f3(tb.busyPct[i]!)},${f3(tb.promptThroughput[i]!)},${f3(tb.genThroughput[i]!)},` +
  `${f3(tb.running[i]!)},${f3(tb.waiting[i]!)},${f3(tb.kvCachePct[i]!)},${tb.promptTokens[i]},${tb.generationTokens[i]},` +
  `${tb.prefixCacheQueries[i]},${tb.prefixCacheHits[i]},${tb.preemptions[i]},${tb.requestsFinished[i]}\n`

/** The whole table as timeseries.csv text, header included (tests; the files stream it row by row). */
export const timeseriesCsv = (tb: TimeseriesTable): string => {
  const parts: Array<string> = [TIMESERIES_HEADER]
  for (let i = 0; i < tb.rows; i++) parts.push(timeseriesRow(tb, i))
  return parts.join("")
}

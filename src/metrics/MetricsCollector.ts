/**
 * Accumulates per-request metrics while the engine runs (an EngineObserver) and produces the
 * Summary. Definitions (ARCHITECTURE.md, vLLM bench): TTFT = first token - arrival;
 * TPOT = (last token - first token) / (output tokens - 1), only for requests with > 1 output token;
 * ITL = every gap between consecutive tokens of a request (under multi-step scheduling, between
 * consecutive chunks: the tokens of one block arrive together, as one streamed chunk); E2E = last token - arrival. Arrival is
 * the client's send and token times are when the client receives them (the front end's egress
 * after the step end), as `vllm bench serve` measures.
 * With a closed-loop client (--max-concurrency) the arrival is the send time, and two more per
 * finished request, as vLLM bench's --max-concurrency runs report them (vllm/benchmarks/serve.py):
 * client queue time = send - scheduled arrival, and E2E including it.
 * Memory: three doubles per finished request (five with a client) plus a fixed-size ITL histogram.
 */
import type { PrefixCacheStats } from "../memory/KvCache.js"
import { e2eNs, RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import { LogHistogram } from "./LogHistogram.js"
import { distributionOf, type Distribution, Samples } from "./stats.js"
import type { Summary } from "./Summary.js"

const MS = 1e-6

export class MetricsCollector {
  readonly ttft = new Samples()
  readonly tpot = new Samples()
  readonly e2el = new Samples()
  /** Closed loop only: per finished request, client queue time and E2E including it, ms. */
  readonly clientQueue = new Samples()
  readonly e2elIncludingQueue = new Samples()
  readonly itl = new LogHistogram()
  completed = 0
  rejected = 0
  preemptions = 0
  steps = 0
  inputTokens = 0
  outputTokens = 0
  firstArrivalNs = Infinity
  lastFinishNs = -Infinity
  private inFlight = 0
  maxInFlight = 0
  readonly rejections: Array<{ id: number; reason: string }> = []

  readonly observer: EngineObserver = {
    onArrive: (r: SimRequest) => {
      if (r.arrivalNs < this.firstArrivalNs) this.firstArrivalNs = r.arrivalNs
      this.inFlight++
      if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight
    },
    onStep: (s) => {
      this.steps += s.steps ?? 1
    },
    onTokenGap: (gap, n) => {
      this.itl.add(gap, n)
    },
    onFinish: (r) => {
      this.inFlight--
      if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens) return // aborted
      this.completed++
      this.inputTokens += r.promptTokens
      this.outputTokens += r.numOutput
      const seen = r.finishNs + r.egressNs
      if (seen > this.lastFinishNs) this.lastFinishNs = seen
      this.ttft.push(ttftNs(r) * MS)
      this.e2el.push(e2eNs(r) * MS)
      if (r.numOutput > 1) this.tpot.push(((r.lastTokenNs - r.firstTokenNs) * MS) / (r.numOutput - 1))
      if (r.clientQueueNs >= 0) {
        this.clientQueue.push(r.clientQueueNs * MS)
        this.e2elIncludingQueue.push((e2eNs(r) + r.clientQueueNs) * MS)
      }
    },
    onReject: (r, reason) => {
      this.inFlight--
      this.rejected++
      if (this.rejections.length < 100) this.rejections.push({ id: r.id, reason })
    },
    onPreempt: () => {
      this.preemptions++
    }
  }

  /** Duration of the run, s: first arrival to last finish (0 if nothing finished). */
  get durationS(): number {
    return this.completed === 0 ? 0 : (this.lastFinishNs - this.firstArrivalNs) / 1e9
  }

  /**
   * The run's Summary (vLLM bench key names; times in ms). `client`: the run had a closed-loop
   * client, so `max_concurrency` and the `client_queue_time` stats are written, and the
   * `e2el_including_client_queue` stats too unless every request arrived at t = 0 (vLLM bench writes
   * them only when --max-concurrency is given, the latter only for a finite --request-rate).
   */
  summary(extra: {
    kvCacheBlocks: number
    prefixCache: PrefixCacheStats
    seed: number
    config: Record<string, unknown>
    client?: { readonly maxConcurrency: number; readonly allAtOnce: boolean } | undefined
  }): Summary {
    const d = this.durationS
    const per = (x: number) => (d > 0 ? x / d : 0)
    const ttft = distributionOf(this.ttft)
    const tpot = distributionOf(this.tpot)
    const itl = this.itl.distribution(MS)
    const e2el = distributionOf(this.e2el)
    const keys = (name: string, x: Distribution) => ({
      [`mean_${name}_ms`]: x.mean,
      [`median_${name}_ms`]: x.median,
      [`std_${name}_ms`]: x.std,
      [`p90_${name}_ms`]: x.p90,
      [`p95_${name}_ms`]: x.p95,
      [`p99_${name}_ms`]: x.p99
    })
    return {
      completed: this.completed,
      rejected: this.rejected,
      total_input_tokens: this.inputTokens,
      total_output_tokens: this.outputTokens,
      duration: d,
      request_throughput: per(this.completed),
      output_throughput: per(this.outputTokens),
      total_token_throughput: per(this.inputTokens + this.outputTokens),
      ...keys("ttft", ttft),
      ...keys("tpot", tpot),
      ...keys("itl", itl),
      ...keys("e2el", e2el),
      ...(extra.client === undefined ? {} : {
        max_concurrency: extra.client.maxConcurrency,
        ...keys("client_queue_time", distributionOf(this.clientQueue)),
        ...(extra.client.allAtOnce ? {} : keys("e2el_including_client_queue", distributionOf(this.e2elIncludingQueue)))
      }),
      num_preemptions: this.preemptions,
      kv_cache_blocks: extra.kvCacheBlocks,
      prefix_cache_queries: extra.prefixCache.queries,
      prefix_cache_hits: extra.prefixCache.hits,
      prefix_cache_hit_rate: extra.prefixCache.queries === 0 ? 0 : extra.prefixCache.hits / extra.prefixCache.queries,
      prefix_cache_preempted_queries: extra.prefixCache.preemptedQueries,
      prefix_cache_preempted_hits: extra.prefixCache.preemptedHits,
      seed: extra.seed,
      num_steps: this.steps,
      max_concurrent_requests: this.maxInFlight,
      rejections: this.rejections,
      config: extra.config
    } as unknown as Summary
  }
}

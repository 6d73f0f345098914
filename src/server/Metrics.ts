/**
 * Prometheus metrics of the live engine with vLLM's V1 names, labels and histogram buckets, so
 * dashboards, routers and autoscalers that read a vLLM server read this one unchanged. Times are
 * simulated seconds. Bucket edges are vLLM's (vllm/v1/metrics/loggers.py, as listed in
 * llm-d-inference-sim's docs): TTFT 0.001 ... 2560 s, inter-token 0.01 ... 80 s, request latencies
 * 0.3 ... 7680 s. Gauges are read from the engine at scrape time.
 *
 * Every series carries an `engine` label, one per simulated instance (`--num-instances` /
 * `--data-parallel-size` N: engine="0" ... "N-1"), as vLLM V1's Prometheus logger labels each
 * data-parallel engine core's series by its engine index; a router or dashboard that reads a
 * vLLM DP server's per-engine load reads this one's. Speculative-decoding counters stay on engine
 * "0"; the server-wide `llmservingsim:delivery_lag_seconds` has no engine label.
 */
import { Counter, Gauge, Registry } from "prom-client"
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import type { SpecDecodeCounters } from "../engine/SpecDecoder.js"

export const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
export const ITL_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0]
/**
 * Edges of `llmservingsim:delivery_lag_seconds` (simulator extension, not a vLLM metric): how late
 * the engine delivers a step's tokens against its scheduled wall time. Chosen to resolve the 50 ms
 * on-time goal of issue 13 (1 ms ... 10 s); not a measured or published set.
 */
export const DELIVERY_LAG_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
export const LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]

export interface EngineLoad {
  readonly waiting: number
  readonly running: number
  readonly kvUsed: number
  readonly kvTotal: number
  readonly prefixQueries: number
  readonly prefixHits: number
}

/** A zero load (an engine before it has started). */
export const ZERO_LOAD: EngineLoad = { waiting: 0, running: 0, kvUsed: 0, kvTotal: 0, prefixQueries: 0, prefixHits: 0 }

/** What `vllm:lora_requests_info` reads at scrape time. */
export interface LoraMetricsSource {
  readonly maxLoras: number
  /** Adapter names, id 1..n at index 0..n-1. */
  readonly names: ReadonlyArray<string>
  /** Adapter ids of the open requests running and waiting now. */
  readonly activity: () => { readonly running: ReadonlySet<number>; readonly waiting: ReadonlySet<number> }
}

export interface ServerMetrics {
  readonly registry: Registry
  /** Feeds the counters and histograms; pass it to the live engine. */
  readonly observer: EngineObserver
  /** Records one step delivery's lateness (wall seconds) in `llmservingsim:delivery_lag_seconds`. */
  readonly observeDeliveryLag: (seconds: number) => void
  /** Prometheus text exposition. */
  readonly text: () => Promise<string>
  /** Prompt and generation tokens processed so far (vllm:prompt_tokens_total, vllm:generation_tokens_total). */
  readonly totals: () => { readonly prompt: number; readonly generation: number }
  /**
   * Record the finish_reason a request will end with (the route plans it before submitting), for
   * `vllm:request_success_total{finish_reason}`. Either order with the engine's finish works.
   */
  readonly labelFinish: (r: SimRequest, reason: string) => void
}

const S = 1e-9

/**
 * Metrics for `modelName` over `cache.engines` engines; `loads` (one EngineLoad per engine, by
 * instance id) is read at every scrape; `blockSize` and `numGpuBlocks` (per engine) go into
 * `vllm:cache_config_info`. Requests are counted under the engine of their `instance`.
 */
export const makeServerMetrics = (
  modelName: string,
  loads: () => ReadonlyArray<EngineLoad>,
  cache: { blockSize: number; numGpuBlocks: number; enablePrefixCaching: boolean; engines: number },
  /** Speculative decoding's counters, read at scrape time (absent: no vllm:spec_decode_* metrics, as vLLM without a speculative config). */
  spec?: SpecDecodeCounters,
  /** LoRA serving (absent: no vllm:lora_requests_info, as vLLM without --enable-lora). */
  lora?: LoraMetricsSource
): ServerMetrics => {
  const registry = new Registry()
  const E = Math.max(1, cache.engines)
  const engineLabels = Array.from({ length: E }, (_, i) => ({ model_name: modelName, engine: String(i) }))
  const labels = engineLabels[0]!
  const names = ["model_name", "engine"] as const
  const loadOf = (ls: ReadonlyArray<EngineLoad>, i: number) => ls[i] ?? ZERO_LOAD
  const gauge = (name: string, help: string, f: (l: EngineLoad) => number) =>
    new Gauge({
      name, help, labelNames: names, registers: [registry],
      collect() {
        const ls = loads()
        for (let i = 0; i < E; i++) this.set(engineLabels[i]!, f(loadOf(ls, i)))
      }
    })
  gauge("vllm:num_requests_running", "Number of requests in model execution batches.", (l) => l.running)
  gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", (l) => l.waiting)
  gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", (l) => (l.kvTotal === 0 ? 0 : l.kvUsed / l.kvTotal))
  const info = new Gauge({ name: "vllm:cache_config_info", help: "Information of the LLMEngine CacheConfig", labelNames: ["block_size", "num_gpu_blocks", "enable_prefix_caching", "engine"], registers: [registry] })
  for (let i = 0; i < E; i++) {
    info.set({ block_size: String(cache.blockSize), num_gpu_blocks: String(cache.numGpuBlocks), enable_prefix_caching: cache.enablePrefixCaching ? "True" : "False", engine: String(i) }, 1)
  }

  // Counters and histograms are plain numbers in the hot path (the engine fiber calls the observer
  // for every token); prom-client reads the counters at scrape time, the histograms render themselves.
  const perEngine = () => new Float64Array(E)
  const n = { prompt: perEngine(), generation: perEngine(), preemptions: perEngine(), aborted: perEngine(), success: perEngine() }
  const engineOf = (r: SimRequest) => (r.instance >= 0 && r.instance < E ? r.instance : 0)
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0)
  // finish reasons: label per request id until it finishes; counts per engine and reason once it has
  const pendingLabel = new Map<number, string>()
  const finishedUnlabelled = new Set<number>()
  const successBy = Array.from({ length: E }, () => new Map<string, number>())
  const labelledTotal = perEngine()
  const countReason = (reason: string, engine: number) => {
    successBy[engine]!.set(reason, (successBy[engine]!.get(reason) ?? 0) + 1)
    labelledTotal[engine]!++
  }
  const counter = (name: string, help: string, read: (engine: number, ls: ReadonlyArray<EngineLoad>) => number) =>
    new Counter({
      name, help, labelNames: names, registers: [registry],
      collect() {
        this.reset()
        const ls = loads()
        for (let i = 0; i < E; i++) this.inc(engineLabels[i]!, read(i, ls))
      }
    })
  counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", (i) => n.prompt[i]!)
  counter("vllm:generation_tokens_total", "Number of generation tokens processed.", (i) => n.generation[i]!)
  counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", (i) => n.preemptions[i]!)
  counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", (i, ls) => loadOf(ls, i).prefixQueries)
  counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", (i, ls) => loadOf(ls, i).prefixHits)
  counter("vllm:request_abort_total", "Requests aborted by the client (simulator extension).", (i) => n.aborted[i]!)
  new Counter({
    name: "vllm:request_success_total", help: "Count of successfully processed requests.", labelNames: [...names, "finish_reason"], registers: [registry],
    collect() {
      this.reset()
      for (let i = 0; i < E; i++) {
        // requests finished before (or without) a label count as "length", as before
        const by = successBy[i]!
        const length = n.success[i]! - labelledTotal[i]! + (by.get("length") ?? 0)
        if (length > 0 || by.size === 0) this.inc({ ...engineLabels[i]!, finish_reason: "length" }, length)
        for (const [reason, c] of by) if (reason !== "length") this.inc({ ...engineLabels[i]!, finish_reason: reason }, c)
      }
    }
  })

  if (spec !== undefined) {
    // vLLM's names (vllm/v1/spec_decode/metrics.py `SpecDecodingProm`)
    // the instances add to one set of counters, so they are engine "0"'s (summed over the engines)
    const counter0 = (name: string, help: string, read: () => number) =>
      new Counter({
        name, help, labelNames: names, registers: [registry],
        collect() {
          this.reset()
          this.inc(labels, read())
        }
      })
    counter0("vllm:spec_decode_num_drafts_total", "Number of spec decoding drafts.", () => spec.numDrafts)
    counter0("vllm:spec_decode_num_draft_tokens_total", "Number of draft tokens.", () => spec.numDraftTokens)
    counter0("vllm:spec_decode_num_accepted_tokens_total", "Number of accepted tokens.", () => spec.numAcceptedTokens)
    new Counter({
      name: "vllm:spec_decode_num_accepted_tokens_per_pos_total", help: "Accepted tokens per draft position.", labelNames: [...names, "position"], registers: [registry],
      collect() {
        this.reset()
        spec.numAcceptedTokensPerPos.forEach((v, i) => this.inc({ ...labels, position: String(i) }, v))
      }
    })
  }

  if (lora !== undefined) {
    // vLLM's gauge (vllm/v1/metrics/loggers.py): one series per (max_lora, waiting, running) label
    // set, its value the Unix time that set was last seen (set_to_current_time); the adapters are
    // comma-separated names. A router reads the series with the newest value.
    new Gauge({
      name: "vllm:lora_requests_info", help: "Running stats on lora requests.", labelNames: ["max_lora", "waiting_lora_adapters", "running_lora_adapters"], registers: [registry],
      collect() {
        const a = lora.activity()
        const names = (ids: ReadonlySet<number>) => [...ids].sort((x, y) => x - y).map((i) => lora.names[i - 1]).join(",")
        this.set({ max_lora: String(lora.maxLoras), waiting_lora_adapters: names(a.waiting), running_lora_adapters: names(a.running) }, Date.now() / 1000)
      }
    })
  }

  const labelTexts = engineLabels.map((l) => `model_name=${JSON.stringify(modelName)},engine="${l.engine}"`)
  const hists: Array<ReadonlyArray<FastHistogram>> = []
  /** One histogram per engine (index = instance id). */
  const hist = (name: string, help: string, buckets: Array<number>, engines = E) => {
    const h = Array.from({ length: engines }, () => new FastHistogram(name, help, buckets))
    hists.push(h)
    return h
  }
  const ttft = hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", TTFT_BUCKETS)
  const itl = hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS)
  const tpot = hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", ITL_BUCKETS)
  const e2e = hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", LATENCY_BUCKETS)
  const queue = hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", LATENCY_BUCKETS)
  const inference = hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", LATENCY_BUCKETS)
  const prefill = hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", LATENCY_BUCKETS)
  const deliveryLag = hist("llmservingsim:delivery_lag_seconds", "Lateness of the engine's step deliveries against their scheduled wall time, seconds (simulator extension).", DELIVERY_LAG_BUCKETS, 1)[0]!
  const decode = hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", LATENCY_BUCKETS)

  const observer: EngineObserver = {
    onToken: (r: SimRequest, t: number) => {
      const e = engineOf(r)
      n.generation[e]!++
      // tokens of one step reach the client as one chunk: one gap per chunk (spec decode, multi-step)
      if (r.lastTokenNs >= 0) {
        if (t > r.lastTokenNs) itl[e]!.observe((t - r.lastTokenNs) * S)
      }
      else {
        n.prompt[e]! += r.promptTokens
        ttft[e]!.observe((t - r.arrivalNs) * S)
      }
    },
    onFinish: (r: SimRequest) => {
      const e = engineOf(r)
      if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens) {
        // aborted (the scheduler marks aborted requests Finished before they have all their tokens)
        n.aborted[e]!++
        pendingLabel.delete(r.id)
        return
      }
      n.success[e]!++
      const reason = pendingLabel.get(r.id)
      if (reason !== undefined) {
        pendingLabel.delete(r.id)
        countReason(reason, e)
      } else finishedUnlabelled.add(r.id)
      e2e[e]!.observe((r.finishNs - r.arrivalNs) * S)
      if (r.firstScheduledNs >= 0) {
        queue[e]!.observe((r.firstScheduledNs - r.arrivalNs) * S)
        inference[e]!.observe((r.finishNs - r.firstScheduledNs) * S)
        prefill[e]!.observe((r.firstTokenNs - r.firstScheduledNs) * S)
      }
      decode[e]!.observe((r.finishNs - r.firstTokenNs) * S)
      if (r.numOutput > 1) tpot[e]!.observe(((r.lastTokenNs - r.firstTokenNs) * S) / (r.numOutput - 1))
    },
    onPreempt: (r: SimRequest) => {
      n.preemptions[engineOf(r)]!++
    }
  }
  // the delivery lag is the server's (one clock for every engine): its series has no engine label
  const serverLabelText = `model_name=${JSON.stringify(modelName)}`
  const text = async () => (await registry.metrics()) + hists.map((family) => renderFamily(family, family[0] === deliveryLag ? [serverLabelText] : labelTexts)).join("")
  const labelFinish = (r: SimRequest, reason: string) => {
    if (r.status === RequestStatus.Rejected) return
    if (finishedUnlabelled.delete(r.id)) countReason(reason, engineOf(r))
    else pendingLabel.set(r.id, reason)
  }
  return { registry, observer, text, labelFinish, totals: () => ({ prompt: sum(n.prompt), generation: sum(n.generation) }), observeDeliveryLag: (v) => deliveryLag.observe(v) }
}

/** A Prometheus histogram (cumulative `le` buckets, `_sum`, `_count`) updated without allocation. */
export class FastHistogram {
  private readonly counts: Float64Array
  private sum = 0
  private count = 0
  constructor(readonly name: string, readonly help: string, readonly buckets: ReadonlyArray<number>) {
    this.counts = new Float64Array(buckets.length)
  }

  observe(v: number): void {
    this.sum += v
    this.count++
    const b = this.buckets
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++
        return
      }
    }
  }

  /** Text exposition with the given label pairs (`a="x",b="y"`). */
  render(labels: string): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n${this.samples(labels)}\n`
  }

  /** The sample lines alone (buckets, sum, count). */
  samples(labels: string): string {
    let out = ""
    let cum = 0
    for (let i = 0; i < this.buckets.length; i++) {
      cum += this.counts[i]!
      out += `${this.name}_bucket{le="${this.buckets[i]}",${labels}} ${cum}\n`
    }
    out += `${this.name}_bucket{le="+Inf",${labels}} ${this.count}\n${this.name}_sum{${labels}} ${this.sum}\n${this.name}_count{${labels}} ${this.count}\n`
    return out
  }
}

/** One metric family: the header once, then each engine's samples under its labels. */
const renderFamily = (family: ReadonlyArray<FastHistogram>, labelTexts: ReadonlyArray<string>): string => {
  const h = family[0]!
  return `# HELP ${h.name} ${h.help}\n# TYPE ${h.name} histogram\n${family.map((x, i) => x.samples(labelTexts[i]!)).join("")}\n`
}

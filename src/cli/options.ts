/**
 * Command-line options shared by the commands, with vLLM's flag names. Ranges are checked in
 * config/resolve.ts and workload/spec.ts so every mistake names its flag.
 */
import { Options } from "@effect/cli"
import { Option } from "effect"
import { ROUTER_POLICIES, type RouterFlags } from "../cluster/RouterSpec.js"
import type { EngineFlags } from "../config/resolve.js"
import type { WorkloadFlags } from "../workload/Workload.js"
import { DEFAULT_FRONT_END } from "../frontend/FrontEnd.js"

const optInt = (name: string, description: string) =>
  Options.integer(name).pipe(Options.optional, Options.withDescription(description))
const optFloat = (name: string, description: string) =>
  Options.float(name).pipe(Options.optional, Options.withDescription(description))
/** `--name` / `--no-name`; neither gives None (so the default applies). */
/** The on/off engine flags (each also accepts `--no-NAME`). */
export const ON_OFF_FLAGS = ["enable-chunked-prefill", "scheduler-reserve-full-isl", "enable-prefix-caching", "enable-expert-parallel"] as const

/**
 * Normalise the on/off flags before @effect/cli parses them: `--NAME false`, `--NAME=false` (or
 * no/off/0) mean `--no-NAME`, and true/yes/on/1 mean `--NAME`; when a flag is given several
 * times, the last one wins. Other arguments are untouched.
 */
const BOOL = /^(true|false|yes|no|on|off|y|n|1|0)$/i
const TRUE = /^(true|yes|on|y|1)$/i

export const normalizeOnOffFlags = (args: ReadonlyArray<string>): Array<string> => {
  const out: Array<string | undefined> = []
  const last = new Map<string, number>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const name = ON_OFF_FLAGS.find((n) => a === `--${n}` || a === `--no-${n}` || a.startsWith(`--${n}=`))
    if (name === undefined) {
      out.push(a)
      continue
    }
    let on = !a.startsWith("--no-")
    const eq = a.indexOf("=")
    const value = eq >= 0 ? a.slice(eq + 1) : on && BOOL.test(args[i + 1] ?? "") ? args[++i]! : undefined
    if (value !== undefined) {
      if (!BOOL.test(value)) {
        out.push(a) // let the parser report it
        continue
      }
      on = TRUE.test(value)
    }
    const prev = last.get(name)
    if (prev !== undefined) out[prev] = undefined
    last.set(name, out.length)
    out.push(on ? `--${name}` : `--no-${name}`)
  }
  return out.filter((a): a is string => a !== undefined)
}

const onOff = (name: string, description: string) =>
  Options.all([
    Options.boolean(name).pipe(Options.withDescription(description)),
    Options.boolean(`no-${name}`).pipe(Options.withDescription(`Turn off --${name}`))
  ]).pipe(Options.map(([on, off]) => (off ? Option.some(false) : on ? Option.some(true) : Option.none<boolean>())))

const get = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)

/**
 * `--router`, `--router-weights`, `--router-cache-aware`, `--router-staleness-ms` as one checked RouterSpec (a bad value
 * or combination is refused with the InvalidOption's message, naming the flag).
 */
const routerOptions = Options.all({
  policy: Options.text("router").pipe(
    Options.optional,
    Options.withDescription(`How arrivals are spread over instances: ${ROUTER_POLICIES.join(", ")} (default round-robin)`)
  ),
  weights: Options.text("router-weights").pipe(
    Options.optional,
    Options.withDescription("--router weighted: queue=W,kv=W,prefix=W (default 2,2,3 as llm-d; left out = 0)")
  ),
  cacheAware: Options.text("router-cache-aware").pipe(
    Options.optional,
    Options.withDescription("--router cache-aware: cache_threshold=F,balance_abs_threshold=N,... (default SGLang's)")
  ),
  stalenessMs: Options.float("router-staleness-ms").pipe(
    Options.optional,
    Options.withDescription("The router sees load signals sampled every MS of simulated time (default 0 = exact)")
  )
}).pipe(Options.map(({ cacheAware, policy, stalenessMs, weights }): RouterFlags => ({
  policy: Option.getOrUndefined(policy),
  weights: Option.getOrUndefined(weights),
  cacheAware: Option.getOrUndefined(cacheAware),
  stalenessMs: Option.getOrUndefined(stalenessMs)
})))

export const engineOptions = {
  model: Options.text("model").pipe(
    Options.withDefault("meta-llama/Llama-3.1-8B-Instruct"),
    Options.withDescription("Bundled id (see models) or config.json path (default meta-llama/Llama-3.1-8B-Instruct)")
  ),
  hardware: Options.text("hardware").pipe(
    Options.withDefault("H100"),
    Options.withDescription("A bundled GPU (`llmservingsim hardware`) or a hardware JSON path (default H100)")
  ),
  blockSize: optInt("block-size", "KV block size in tokens (default 16)"),
  gpuMemoryUtilization: optFloat("gpu-memory-utilization", "Fraction of GPU memory for weights, activations and KV cache (default 0.9)"),
  numGpuBlocksOverride: optInt("num-gpu-blocks-override", "Use this many KV blocks instead of sizing from memory (default: sized from memory)"),
  maxNumBatchedTokens: optInt("max-num-batched-tokens", "Token budget per engine step (default 2048; 8192 on >= 70 GiB GPUs but A100, as vLLM)"),
  maxNumSeqs: optInt("max-num-seqs", "Maximum running requests (default 256; 1024 on GPUs with >= 70 GiB other than A100, as vLLM)"),
  maxModelLen: optInt("max-model-len", "Longest prompt + output accepted (default: the model's limit, capped to the KV cache)"),
  enableChunkedPrefill: onOff("enable-chunked-prefill", "Chunked prefill (default on; --no-enable-chunked-prefill turns it off)"),
  longPrefillTokenThreshold: optInt("long-prefill-token-threshold", "Cap on one request's prefill tokens per step; 0 = off (default 0)"),
  schedulerReserveFullIsl: onOff("scheduler-reserve-full-isl", "Admit a request only if its whole prompt fits in free KV blocks (default on, as vLLM 0.19)"),
  enablePrefixCaching: onOff("enable-prefix-caching", "Automatic prefix caching: freed KV blocks stay cached by content until evicted (default on, as vLLM V1)"),
  kvCacheDtype: Options.choice("kv-cache-dtype", ["auto", "fp8"]).pipe(Options.optional, Options.withDescription("KV cache element type (default auto = 16 bit)")),
  dtype: Options.choice("dtype", ["auto", "bfloat16", "float16", "fp8"]).pipe(Options.optional, Options.withDescription("Weight and compute type (default auto = the checkpoint's)")),
  tensorParallelSize: optInt("tensor-parallel-size", "GPUs per instance, tensor parallel (default 1)"),
  pipelineParallelSize: optInt("pipeline-parallel-size", "Pipeline stages per instance, each of TP GPUs, a micro-batch in flight per stage (default 1)"),
  kvOffloadingSize: optFloat("kv-offloading-size", "vLLM CPU KV offloading: GiB of host memory (all TP ranks) keeping copies of computed blocks; a GPU prefix-cache miss found there is loaded over the host link, not recomputed (default off)"),
  kvOffloadingBackend: Options.text("kv-offloading-backend").pipe(Options.optional, Options.withDescription("With --kv-offloading-size: native (vLLM's own; the only one modelled) (default native)")),
  preemptionMode: Options.text("preemption-mode").pipe(Options.optional, Options.withDescription("vLLM V0: on KV shortage recompute a victim later, or swap its KV to host memory and back (default recompute)")),
  swapSpace: optFloat("swap-space", "With --preemption-mode swap: GiB of host swap space per GPU (default 4, as vLLM V0)"),
  numSchedulerSteps: optInt("num-scheduler-steps", "vLLM 0.6 multi-step: N decode passes per scheduler call, tokens in bursts of N; no chunked prefill (default 1 = off)"),
  speculativeConfig: Options.text("speculative-config").pipe(Options.optional, Options.withDescription(
    `Speculative decoding, vLLM's JSON: {"method": "ngram"|"eagle"|"eagle3", "num_speculative_tokens": k, "acceptance_rates": [p0..p(k-1)]} (acceptance_rates optional for eagle3 with k <= 7; default off)`
  )),
  enableLora: onOff("enable-lora", "Serve LoRA adapters (--lora-modules) on the base model: GPU slots, adapter loads, LoRA kernels (default off)"),
  maxLoras: optInt("max-loras", "With --enable-lora: adapters one batch may use, and GPU slots (default 1)"),
  maxLoraRank: optInt("max-lora-rank", "With --enable-lora: rank every slot is sized and computed at, one of 1, 8, 16, 32, 64, 128, 256, 320, 512 (default 16)"),
  maxCpuLoras: optInt("max-cpu-loras", "With --enable-lora: adapters cached in host memory, LRU, >= --max-loras (default --max-loras)"),
  loraModules: Options.text("lora-modules").pipe(Options.optional, Options.withDescription("With --enable-lora: the adapters, NAME or NAME=PATH (rank from PATH/adapter_config.json), space or comma separated; simulate's requests pick one at random unless the trace's lora field names one (default none; required with --enable-lora)")),
  loraStorageGbps: optFloat("lora-storage-gbps", "With --enable-lora: GB/s an adapter not in host memory is read from storage at (default 7.88: PCIe 4.0 x4 NVMe ceiling)"),
  schedulingPolicy: Options.text("scheduling-policy").pipe(
    Options.optional,
    Options.withDescription("Batching policy: fcfs (vLLM V1, default), priority (vLLM: lower value first), orca, static, sarathi, sjf, vllm-v0")
  ),
  priorityLevels: optInt("priority-levels", "With --scheduling-policy priority: each request's priority drawn from 0..N-1, seeded (default: the trace's priority field, else 0)"),
  numInstances: optInt("num-instances", "Identical instances behind the router (default 1); alias of --data-parallel-size"),
  dataParallelSize: optInt("data-parallel-size", "Data-parallel replicas behind the router, vLLM's name for --num-instances (default 1)"),
  enableExpertParallel: onOff("enable-expert-parallel", "MoE: whole experts over DP x TP GPUs, all-to-all dispatch/combine per MoE layer (default off)"),
  expertLoadImbalance: optFloat("expert-load-imbalance", "MoE with EP: busiest rank's tokens / the mean (default: uniform top-k routing)"),
  router: routerOptions,
  seed: optInt("seed", "Seed of every random draw (default 0)"),
  computeEfficiency: optFloat("compute-efficiency", "Roofline: fraction of peak TFLOP/s reached by GEMMs (default 0.7)"),
  attentionComputeEfficiency: optFloat("attention-efficiency", "Roofline: fraction of peak TFLOP/s reached by prefill attention (default 0.5)"),
  memoryEfficiency: optFloat("memory-efficiency", "Roofline: fraction of peak memory bandwidth reached (default 0.8)"),
  kernelOverheadUs: optFloat("kernel-overhead-us", "Roofline: fixed time per kernel, us (default 1.5)"),
  stepOverheadUs: optFloat("step-overhead-us", "Roofline: fixed time per engine step, us (default 1000; 0 for profile:)"),
  perfModel: Options.text("perf-model").pipe(Options.optional, Options.withDescription("Step-time model: roofline (default), op-roofline, profile:DIR_OR_CSV (measured), calibrated:FILE")),
  pimConfig: Options.text("pim-config").pipe(Options.optional, Options.withDescription("Decode attention on a PIM device per GPU, which holds the KV cache: a JSON file (resources/pim/; \"interleave\": true overlaps it with the GPU) (default off)")),
  network: Options.text("network").pipe(Options.optional, Options.withDescription("Collectives: alpha-beta (default, from the hardware file), table:DIR (measured Vidur CSVs), fit:DIR (fitted to them)")),
  frontendIngressUs: optFloat("frontend-ingress-us", `API server: send to engine core, us (default ${DEFAULT_FRONT_END.ingressUs}: one tokenizer call, vLLM PR #45759)`),
  frontendTokenizeUsPerToken: optFloat("frontend-tokenize-us-per-token", `API server: tokenization per prompt token, us (default ${DEFAULT_FRONT_END.tokenizeUsPerToken}: vLLM issue #19012)`),
  frontendEgressUs: optFloat("frontend-egress-us", `API server: time from a token's step end to the client, us (default ${DEFAULT_FRONT_END.egressUs})`)
}

type ValueOf<O> = O extends Options.Options<infer A> ? A : never
type EngineOptionValues = { readonly [K in keyof typeof engineOptions]: ValueOf<typeof engineOptions[K]> }

export const toEngineFlags = (o: EngineOptionValues): EngineFlags => ({
  model: o.model,
  hardware: o.hardware,
  blockSize: get(o.blockSize),
  gpuMemoryUtilization: get(o.gpuMemoryUtilization),
  numGpuBlocksOverride: get(o.numGpuBlocksOverride),
  maxNumBatchedTokens: get(o.maxNumBatchedTokens),
  maxNumSeqs: get(o.maxNumSeqs),
  maxModelLen: get(o.maxModelLen),
  enableChunkedPrefill: get(o.enableChunkedPrefill),
  longPrefillTokenThreshold: get(o.longPrefillTokenThreshold),
  schedulerReserveFullIsl: get(o.schedulerReserveFullIsl),
  enablePrefixCaching: get(o.enablePrefixCaching),
  kvCacheDtype: get(o.kvCacheDtype),
  dtype: get(o.dtype),
  tensorParallelSize: get(o.tensorParallelSize),
  pipelineParallelSize: get(o.pipelineParallelSize),
  numSchedulerSteps: get(o.numSchedulerSteps),
  kvOffloadingSize: get(o.kvOffloadingSize),
  kvOffloadingBackend: get(o.kvOffloadingBackend),
  preemptionMode: get(o.preemptionMode),
  swapSpace: get(o.swapSpace),
  speculativeConfig: get(o.speculativeConfig),
  enableLora: get(o.enableLora),
  maxLoras: get(o.maxLoras),
  maxLoraRank: get(o.maxLoraRank),
  maxCpuLoras: get(o.maxCpuLoras),
  loraModules: get(o.loraModules),
  loraStorageGbps: get(o.loraStorageGbps),
  schedulingPolicy: get(o.schedulingPolicy),
  priorityLevels: get(o.priorityLevels),
  numInstances: get(o.numInstances),
  dataParallelSize: get(o.dataParallelSize),
  enableExpertParallel: get(o.enableExpertParallel),
  expertLoadImbalance: get(o.expertLoadImbalance),
  seed: get(o.seed),
  computeEfficiency: get(o.computeEfficiency),
  attentionComputeEfficiency: get(o.attentionComputeEfficiency),
  memoryEfficiency: get(o.memoryEfficiency),
  kernelOverheadUs: get(o.kernelOverheadUs),
  stepOverheadUs: get(o.stepOverheadUs),
  perfModel: get(o.perfModel),
  pimConfig: get(o.pimConfig),
  network: get(o.network),
  frontendIngressUs: get(o.frontendIngressUs),
  frontendTokenizeUsPerToken: get(o.frontendTokenizeUsPerToken),
  frontendEgressUs: get(o.frontendEgressUs)
})

export const workloadOptions = {
  trace: Options.text("trace").pipe(Options.optional, Options.withDescription("Replay a trace (Azure, Vidur, LLMServingSim TSV/JSONL, Mooncake; default: generate requests)")),
  traceFormat: Options.choice("trace-format", ["azure", "vidur", "llmservingsim-tsv", "llmservingsim-jsonl", "mooncake"]).pipe(Options.optional, Options.withDescription("Force the trace format (default: detected from extension and header)")),
  numRequests: optInt("num-requests", "Requests to simulate: the first N of a trace (default all), or generated (default 1000)"),
  rateScale: optFloat("rate-scale", "Multiply a trace's request rate by F (arrival gaps divided by F; default 1)"),
  requestRate: Options.text("request-rate").pipe(Options.optional, Options.withDescription("Generated requests per second, or inf for all at t=0 (default 10)")),
  burstiness: optFloat("burstiness", "Gamma shape of generated inter-arrival gaps; 1 = Poisson (default 1)"),
  inputLen: optInt("input-len", "Generated prompt length in tokens (default 1024)"),
  outputLen: optInt("output-len", "Generated output length in tokens (default 256)"),
  lengthDist: Options.choice("length-dist", ["fixed", "uniform", "lognormal"]).pipe(Options.optional, Options.withDescription("Distribution of generated lengths around --input-len/--output-len (default fixed)")),
  rangeRatio: optFloat("range-ratio", "Uniform lengths in [len x (1-r), len x (1+r)] (default 0.5)"),
  lengthSigma: optFloat("length-sigma", "Lognormal sigma of ln(length), median = len (default 0.5)"),
  randomInputLen: optInt("random-input-len", "vLLM bench's name for --input-len; give one of them (default 1024)"),
  randomOutputLen: optInt("random-output-len", "vLLM bench's name for --output-len; give one of them (default 256)"),
  randomRangeRatio: optFloat("random-range-ratio", "vLLM bench: uniform lengths in [len(1-r), len(1+r)], as --length-dist uniform (default: unset)"),
  randomPrefixLen: optInt("random-prefix-len", "vLLM bench: N tokens shared by every prompt, before its own (default 0)"),
  maxConcurrency: optInt("max-concurrency", "Closed loop as vLLM bench: at most N in flight, a due request waits for a slot (default unlimited)"),
  clientThinkTimeMs: optFloat("client-think-time-ms", "With --max-concurrency: exponential pause (this mean, ms) before a slot is reused (default 0)"),
  numSessions: optInt("num-sessions", "Multi-turn sessions instead of requests: N conversations started at --request-rate per s, each turn's prompt the history + a new --input-len message, sent when the previous answer is back (default: no sessions)"),
  sessionTurns: Options.text("session-turns").pipe(Options.optional, Options.withDescription("Turns per session, N or MIN-MAX (uniform) (default 5)")),
  sessionThinkTimeMs: optFloat("session-think-time-ms", "Exponential think / tool time (this mean, ms) between an answer and the next turn (default 0)"),
  sessionSystemPromptLen: optInt("session-system-prompt-len", "Tokens of a system prompt shared across sessions, at the start of each (default 0)"),
  sessionSystemPrompts: optInt("session-system-prompts", "Distinct system prompts; each session takes one at random (default 1)"),
  sharedPrefix: Options.text("shared-prefix").pipe(Options.optional, Options.withDescription("inference-perf's shared_prefix data: num_groups=G,num_prompts_per_group=P,system_prompt_len=S,question_len=Q,output_len=O (one-turn prompts; default: unset)"))
}

type WorkloadOptionValues = { readonly [K in keyof typeof workloadOptions]: ValueOf<typeof workloadOptions[K]> }

/** The workload flags as plain data (undefined = default). */
export const toWorkloadFlags = (o: WorkloadOptionValues): WorkloadFlags => ({
  trace: get(o.trace),
  traceFormat: get(o.traceFormat),
  numRequests: get(o.numRequests),
  rateScale: get(o.rateScale),
  requestRate: get(o.requestRate),
  burstiness: get(o.burstiness),
  inputLen: get(o.inputLen),
  outputLen: get(o.outputLen),
  lengthDist: get(o.lengthDist),
  rangeRatio: get(o.rangeRatio),
  lengthSigma: get(o.lengthSigma),
  randomInputLen: get(o.randomInputLen),
  randomOutputLen: get(o.randomOutputLen),
  randomRangeRatio: get(o.randomRangeRatio),
  randomPrefixLen: get(o.randomPrefixLen),
  maxConcurrency: get(o.maxConcurrency),
  clientThinkTimeMs: get(o.clientThinkTimeMs),
  numSessions: get(o.numSessions),
  sessionTurns: get(o.sessionTurns),
  sessionThinkTimeMs: get(o.sessionThinkTimeMs),
  sessionSystemPromptLen: get(o.sessionSystemPromptLen),
  sessionSystemPrompts: get(o.sessionSystemPrompts),
  sharedPrefix: get(o.sharedPrefix)
})

export const outputOptions = {
  outputDir: Options.text("output-dir").pipe(Options.optional, Options.withDescription("Write summary.json, requests.csv, timeseries.csv here (default: write no files)")),
  stepLog: Options.boolean("step-log").pipe(Options.withDescription("With --output-dir: also steps.csv, one row per engine step (default off)")),
  timeseriesIntervalS: optFloat("timeseries-interval-s", "With --output-dir: timeseries.csv's bucket, s of simulated time (default 1)"),
  outputFormat: Options.text("output-format").pipe(Options.optional, Options.withDescription("With --output-dir: the tables' format, csv or parquet (default csv)")),
  quiet: Options.boolean("quiet").pipe(Options.withAlias("q"), Options.withDescription("Do not print the report (default: print it)")),
  exactSteps: Options.boolean("exact-steps").pipe(Options.withDescription("Every step one by one, every request on its own, no fast-forward (same results, slower; default off)")),
  json: Options.boolean("json").pipe(Options.withDescription("Print summary.json to stdout instead of the report (default off)"))
}

/**
 * Measured vLLM runs in LLMServingSim's bench layout (bench/examples/<hw>/<model>/):
 *   vllm/meta.json       engine settings (engine_kwargs, kv_cache, hardware, resolved_config)
 *   vllm/requests.jsonl  per request: input_toks, output_toks, arrival_time (epoch s),
 *                        queued_ts, scheduled_ts, first_token_ts, last_token_ts (monotonic s)
 * Metrics as the authors define them: TTFT = first_token_ts - queued_ts, TPOT = (last - first) /
 * (output_toks - 1) for output_toks > 1, E2E = last_token_ts - queued_ts (arrival anchored at
 * queued_ts because arrival_time is on another clock).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError } from "../domain/errors.js"
import { distributionOf, type Distribution, Samples } from "../metrics/stats.js"
import type { MeasuredRun } from "./measured.js"
import { jsonSyntaxError } from "../domain/jsonSyntax.js"

export interface BenchRun extends MeasuredRun {
  readonly format: "llmservingsim-bench"
  readonly dir: string
  readonly metaPath: string
  readonly meta: Record<string, unknown>
  readonly ttft: Distribution
  readonly tpot: Distribution
  readonly e2e: Distribution
}

const readJsonFile = (file: string) =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new FileError({ path: file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file (expected a measured run folder with vllm/meta.json and vllm/requests.jsonl)" : (e as Error).message })
    })
    return { text }
  })

/** Resolve `dir` (the run folder or its vllm/ folder) to the folder holding meta.json. */
const vllmDir = (dir: string): string => fs.existsSync(path.join(dir, "vllm", "meta.json")) ? path.join(dir, "vllm") : dir

export const readBenchRun = (dir: string): Effect.Effect<BenchRun, FileError | InputError> =>
  Effect.gen(function*() {
    if (!fs.existsSync(dir)) return yield* new FileError({ path: dir, reason: "no such folder" })
    // a path to the run's meta.json itself is taken as its folder
    const v = fs.statSync(dir).isFile() && path.basename(dir) === "meta.json" ? path.dirname(dir) : vllmDir(dir)
    const metaPath = path.join(v, "meta.json")
    if (!fs.existsSync(metaPath)) {
      return yield* new FileError({ path: dir, reason: "holds no vllm/meta.json (expected the LLMServingSim bench layout: RUN/vllm/meta.json and RUN/vllm/requests.jsonl)" })
    }
    const { text } = yield* readJsonFile(metaPath)
    const meta = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => new InputError({ path: metaPath, expected: "valid JSON", got: jsonSyntaxError(text, e) }) })
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return yield* new InputError({ path: metaPath, expected: "a JSON object" })
    const reqPath = path.join(v, "requests.jsonl")
    const { text: reqText } = yield* readJsonFile(reqPath)
    const ttft = new Samples()
    const tpot = new Samples()
    const e2e = new Samples()
    let minQ = Infinity
    let maxL = -Infinity
    let n = 0
    let tin = 0
    let tout = 0
    const per = { inputTokens: [] as Array<number>, outputTokens: [] as Array<number>, sendS: [] as Array<number>, ttft: [] as Array<number>, tpot: [] as Array<number>, e2el: [] as Array<number> }
    const lines = reqText.split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!
      if (l.trim() === "") continue
      let o: Record<string, unknown>
      try {
        o = JSON.parse(l) as Record<string, unknown>
      } catch {
        return yield* new InputError({ path: reqPath, line: i + 1, expected: "a JSON object", got: l.slice(0, 40) })
      }
      const num = (k: string): number | InputError => {
        const x = o[k]
        return typeof x === "number" && Number.isFinite(x) ? x : new InputError({ path: reqPath, line: i + 1, field: k, expected: "a number", got: JSON.stringify(x) })
      }
      const vals = ["queued_ts", "first_token_ts", "last_token_ts", "output_toks", "input_toks"].map(num)
      const bad = vals.find((x): x is InputError => typeof x !== "number")
      if (bad !== undefined) return yield* bad
      const [q, f, last, out, inp] = vals as Array<number>
      ttft.push((f! - q!) * 1e3)
      if (out! > 1) tpot.push((last! - f!) / (out! - 1) * 1e3)
      e2e.push((last! - q!) * 1e3)
      per.inputTokens.push(inp!)
      per.outputTokens.push(out!)
      per.sendS.push(q!)
      per.ttft.push((f! - q!) * 1e3)
      per.tpot.push(out! > 1 ? (last! - f!) / (out! - 1) * 1e3 : NaN)
      per.e2el.push((last! - q!) * 1e3)
      if (q! < minQ) minQ = q!
      if (last! > maxL) maxL = last!
      n++
      tin += inp!
      tout += out!
    }
    if (n === 0) return yield* new InputError({ path: reqPath, line: 1, expected: "at least one request" })
    return {
      format: "llmservingsim-bench",
      source: dir,
      dir,
      metaPath,
      meta: meta as Record<string, unknown>,
      requests: n,
      samples: { ttft: ttft.values().slice(), tpot: tpot.values().slice(), e2el: e2e.values().slice() },
      ttft: distributionOf(ttft),
      tpot: distributionOf(tpot),
      e2e: distributionOf(e2e),
      durationS: maxL - minQ,
      totalInput: tin,
      totalOutput: tout,
      perRequest: {
        inputTokens: per.inputTokens,
        outputTokens: per.outputTokens,
        sendS: per.sendS,
        ttftMs: Float64Array.from(per.ttft),
        tpotMs: Float64Array.from(per.tpot),
        e2elMs: Float64Array.from(per.e2el)
      }
    }
  })

/** Engine settings of a run, as our flags, plus what we cannot honour. */
export interface RunSettings {
  readonly model: string
  readonly deviceName: string | undefined
  readonly deviceMemoryBytes: number | undefined
  readonly measuredBlocks: number | undefined
  /** vLLM's async scheduling: the CPU's per-step work overlaps the GPU step (per-step overhead 0). */
  readonly asyncScheduling: boolean
  readonly flags: {
    maxNumSeqs?: number
    maxNumBatchedTokens?: number
    maxModelLen?: number
    blockSize?: number
    gpuMemoryUtilization?: number
    numGpuBlocksOverride?: number
    enableChunkedPrefill?: boolean
    schedulerReserveFullIsl?: boolean
    enablePrefixCaching?: boolean
    longPrefillTokenThreshold?: number
    tensorParallelSize?: number
    dataParallelSize?: number
    enableExpertParallel?: boolean
    pipelineParallelSize?: number
    kvCacheDtype?: "auto" | "fp8"
    dtype?: "auto" | "bfloat16" | "float16" | "fp8"
    schedulingPolicy?: string
  }
  /** "setting=value: how it is reproduced" */
  readonly honoured: ReadonlyArray<string>
  /** "setting=value: why not" */
  readonly notHonoured: ReadonlyArray<string>
}

const obj = (x: unknown): Record<string, unknown> => (typeof x === "object" && x !== null && !Array.isArray(x) ? x as Record<string, unknown> : {})
const numOf = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined)
const boolOf = (x: unknown): boolean | undefined => (typeof x === "boolean" ? x : undefined)

export const runSettings = (run: BenchRun): Effect.Effect<RunSettings, InputError> =>
  Effect.gen(function*() {
    const m = run.meta
    const ek = obj(m["engine_kwargs"])
    const kv = obj(m["kv_cache"])
    const hw = obj(m["hardware"])
    const rc = obj(m["resolved_config"])
    const sc = obj(rc["scheduler_config"])
    const cc = obj(rc["cache_config"])
    const comp = obj(rc["compilation_config"])
    const mc = obj(rc["model_config"])
    const model = typeof m["model"] === "string" ? m["model"] : typeof ek["model"] === "string" ? ek["model"] : undefined
    if (model === undefined) return yield* new InputError({ path: run.metaPath, field: "model", expected: "the served model id" })
    const honoured: Array<string> = []
    const not: Array<string> = []
    const flags: RunSettings["flags"] = {}
    const take = <K extends keyof RunSettings["flags"]>(key: K, name: string, v: RunSettings["flags"][K] | undefined) => {
      if (v === undefined) return
      flags[key] = v
      honoured.push(`${name}=${String(v)}`)
    }
    take("maxNumSeqs", "max_num_seqs", numOf(ek["max_num_seqs"]) ?? numOf(sc["max_num_seqs"]))
    take("maxNumBatchedTokens", "max_num_batched_tokens", numOf(ek["max_num_batched_tokens"]) ?? numOf(sc["max_num_batched_tokens"]))
    take("maxModelLen", "max_model_len", numOf(ek["max_model_len"]) ?? numOf(mc["max_model_len"]))
    take("blockSize", "block_size", numOf(kv["block_size"]) ?? numOf(cc["block_size"]))
    take("gpuMemoryUtilization", "gpu_memory_utilization", numOf(kv["gpu_memory_utilization"]) ?? numOf(cc["gpu_memory_utilization"]))
    const override = numOf(cc["num_gpu_blocks_override"])
    if (override !== undefined) take("numGpuBlocksOverride", "num_gpu_blocks_override", override)
    take("enableChunkedPrefill", "enable_chunked_prefill", boolOf(sc["enable_chunked_prefill"]))
    take("schedulerReserveFullIsl", "scheduler_reserve_full_isl", boolOf(sc["scheduler_reserve_full_isl"]))
    take("longPrefillTokenThreshold", "long_prefill_token_threshold", numOf(sc["long_prefill_token_threshold"]))
    take("tensorParallelSize", "tensor_parallel_size", numOf(ek["tensor_parallel_size"]))
    const kvd = typeof ek["kv_cache_dtype"] === "string" ? ek["kv_cache_dtype"] : undefined
    if (kvd !== undefined) take("kvCacheDtype", "kv_cache_dtype", kvd.startsWith("fp8") ? "fp8" : "auto")
    const dt = typeof ek["dtype"] === "string" ? ek["dtype"] : undefined
    if (dt !== undefined) take("dtype", "dtype", dt === "bfloat16" || dt === "float16" ? dt : dt.startsWith("fp8") ? "fp8" : "auto")
    const pc = obj(rc["parallel_config"])
    const dp = numOf(ek["data_parallel_size"]) ?? numOf(pc["data_parallel_size"])
    if (dp !== undefined) {
      take("dataParallelSize", "data_parallel_size", dp)
      if (dp > 1) not.push(`data_parallel_size=${dp}: requests are spread over the ${dp} simulated replicas by our router, not vLLM's DP load balancer; MoE ranks are priced in lockstep with equal token counts`)
    }
    take("enableExpertParallel", "enable_expert_parallel", boolOf(ek["enable_expert_parallel"]) ?? boolOf(pc["enable_expert_parallel"]))
    const pp = numOf(ek["pipeline_parallel_size"]) ?? numOf(pc["pipeline_parallel_size"])
    take("pipelineParallelSize", "pipeline_parallel_size", pp)
    if (pp !== undefined && pp > 1) not.push(`pipeline_parallel_size=${pp}: scheduled as vLLM V0's virtual engines (P schedulers, 1/P of the KV blocks each), not V1's batch queue`)
    if (boolOf(sc["async_scheduling"]) === true) {
      honoured.push("async_scheduling=true: CPU scheduling overlaps the GPU step, so no per-step CPU overhead is added (unless --step-overhead-us)")
      not.push("async_scheduling=true: the one-step lag of output processing is not modelled")
    }
    const prefix = boolOf(kv["enable_prefix_caching"]) ?? boolOf(cc["enable_prefix_caching"])
    if (prefix !== undefined) take("enablePrefixCaching", "enable_prefix_caching", prefix)
    else honoured.push("enable_prefix_caching not recorded: vLLM V1's default (on) assumed")
    const pol = typeof sc["policy"] === "string" ? sc["policy"] : undefined
    // vLLM's scheduler_config.policy: fcfs or priority, both simulated (--scheduling-policy)
    if (pol === "fcfs" || pol === "priority") take("schedulingPolicy", "policy", pol)
    else if (pol !== undefined) not.push(`policy=${pol}: not a vLLM scheduling policy the simulator knows (fcfs, priority); simulated as fcfs`)
    if (pol === "priority") not.push("policy=priority: a vllm bench run records no per-request priorities, so every request has priority 0 (FCFS order with lowest-priority preemption)")
    const partial = numOf(sc["max_num_partial_prefills"])
    if (partial !== undefined && partial > 1) not.push(`max_num_partial_prefills=${partial}: concurrent partial prefills are not limited`)
    const mode = comp["cudagraph_mode"]
    if (mode !== undefined && !(Array.isArray(mode) && mode.every((x) => x === 0)) && mode !== 0 && mode !== "NONE") {
      not.push(`cudagraph_mode=${JSON.stringify(mode)}: CUDA-graph padding of decode batches to capture sizes and the removed launch gaps are not modelled (profiles are measured eager)`)
    }
    if (boolOf(mc["enforce_eager"]) === true) honoured.push("enforce_eager=true")
    return {
      model,
      deviceName: typeof hw["device_name"] === "string" ? hw["device_name"] : undefined,
      deviceMemoryBytes: numOf(hw["device_total_memory_bytes"]),
      measuredBlocks: numOf(kv["num_gpu_blocks"]) ?? numOf(cc["num_gpu_blocks"]),
      asyncScheduling: boolOf(sc["async_scheduling"]) === true,
      flags,
      honoured,
      notHonoured: not
    }
  })

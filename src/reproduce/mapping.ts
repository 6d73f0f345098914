/**
 * From a published scenario (engine, version, model, GPU, parallelism, dataset, load) to a
 * simulation the simulator can express, or the features it lacks. Each field has its own parser
 * (unit-tested): model names to bundled ids, GPU names to bundled hardware, `tp` to TP/DP/PP, the
 * load to a request rate, the dataset to a workload, the engine version to its default settings.
 *
 * Engine defaults per version (what a row's engine ran with unless its `engine_version` names a flag):
 * - vLLM 0.6.0 / 0.6.1 (the V0 engine; vllm/engine/arg_utils.py and vllm/config.py at v0.6.0):
 *   max_num_seqs 256, block_size 16, gpu_memory_utilization 0.9, prefix caching off; chunked
 *   prefill on only when max_model_len > 32K (and then max_num_batched_tokens 512), else off with
 *   max_num_batched_tokens = max(max_model_len, 2048); a prompt is admitted only if blocks for all
 *   of it are free (V0's `can_allocate`); `--num-scheduler-steps` (multi-step) refuses chunked
 *   prefill. No async scheduling: V0_STEP_OVERHEAD_US of CPU time per scheduler call. V0's
 *   scheduler (--scheduling-policy vllm-v0, scheduler/policies/vllmV0.ts).
 * Launch commands a source's page records (resources/reproduce/launch-commands.json) add their flags.
 * - vLLM >= 0.10 (the V1 engine): the simulator's own defaults, which are vLLM 0.19's.
 * SGLang rows are not run: the simulator models vLLM's scheduler, not SGLang's.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { listModels, loadHardware, loadModel } from "../config/catalog.js"
import { ENGINE_FLAG_TABLE } from "../config/engineFlagTable.js"
import type { EngineFlags } from "../config/resolve.js"
import { launchCommandFor, type LaunchSources } from "./launchCommands.js"
import type { Scenario } from "./published.js"
import { findTrace } from "./workload.js"

/** Where a scenario's files are looked for, and the flags every run takes. */
export interface ScenarioContext {
  /** LLMServingSim traces: exact workloads named by rows (searched recursively). */
  readonly tracesDir: string
  /** Measured runs in LLMServingSim's bench layout (`<GPU>/<model>/vllm/meta.json`). */
  readonly benchDir: string
  /** `--perf-model` / `--network` for every run (absent: the datasheet roofline, alpha-beta). */
  readonly perfModel?: string | undefined
  readonly network?: string | undefined
  readonly seed: number
}

/** The requests of a scenario. */
export type WorkloadPlan =
  /** Lengths drawn from the ShareGPT-derived pool (reproduce/workload.ts), sent at `requestRate`. */
  | { readonly kind: "resample"; readonly numRequests: number; readonly requestRate: number; readonly burstiness: number }
  /** A trace replayed exactly (its own arrival times and lengths). */
  | { readonly kind: "trace"; readonly path: string }
  /** Fixed prompt and output lengths (a `random` dataset given as isl/osl numbers). */
  | { readonly kind: "fixed"; readonly numRequests: number; readonly requestRate: number; readonly burstiness: number; readonly inputLen: number; readonly outputLen: number }

/** A scenario the simulator can run. */
export interface RunPlan {
  readonly kind: "run"
  readonly flags: EngineFlags
  readonly workload: WorkloadPlan
  /** A measured run folder (bench layout) whose engine settings and device memory are replayed as `validate` does. */
  readonly bench?: string | undefined
  /** Model the API server in front (the client measured over HTTP); false: measured inside the engine. */
  readonly frontEnd: boolean
  /** What was set and where it came from. */
  readonly settings: ReadonlyArray<string>
  /** What the run reproduces only approximately, or not at all. */
  readonly approximations: ReadonlyArray<string>
}

/** A scenario the simulator cannot express, with each missing feature. */
export interface NotExpressible {
  readonly kind: "not-expressible"
  readonly reasons: ReadonlyArray<string>
}

export type Plan = RunPlan | NotExpressible

type Fail = { readonly error: string }
const isFail = (x: unknown): x is Fail => typeof x === "object" && x !== null && "error" in x

/** A bundled model id for a published model name (`Llama-3.1-8B-Instruct`, `meta-llama/Llama-3.1-8B`, `Meta-Llama-3.1-8B-Instruct`), or undefined. */
export const mapModelName = (name: string, known: ReadonlyArray<string> = listModels()): string | undefined => {
  const base = name.trim().toLowerCase()
  const candidates = [base, base.split("/").pop()!, base.split("/").pop()!.replace(/^meta-(?=llama)/, "")]
  for (const c of candidates) {
    const hit = known.find((m) => m.toLowerCase() === c) ?? known.find((m) => m.toLowerCase().split("/").pop() === c)
    if (hit !== undefined) return hit
  }
  return undefined
}

/**
 * The bundled hardware for a published GPU name (`A100 80GB`, `H100 80GB`, `RTX 4090 24GB`): by name
 * or alias, else with the memory size dropped; a memory size in the name must match the bundled
 * card's. Fails (as data) with the reason.
 */
export const mapGpuName = (gpu: string): Effect.Effect<{ readonly name: string } | Fail> =>
  Effect.gen(function*() {
    const mem = /(\d+)\s*GB\b/i.exec(gpu)
    const stripped = gpu.replace(/\s*\d+\s*GB\b/i, "").trim()
    for (const candidate of [gpu, stripped]) {
      if (candidate === "") continue
      const hw = yield* Effect.option(loadHardware(candidate))
      if (hw._tag === "None") continue
      if (mem !== null && Math.abs(hw.value.memoryGB - Number(mem[1])) > 1) {
        return { error: `GPU '${gpu}': the bundled ${hw.value.name} has ${hw.value.memoryGB} GB (no ${mem[1]} GB variant; add a hardware JSON)` }
      }
      return { name: hw.value.name }
    }
    return { error: `GPU '${gpu}': not bundled (see \`llmservingsim hardware\`)` }
  })

/** `--dtype` for a published precision (bf16, fp16, fp8; empty = the checkpoint's), or the reason it cannot run. */
export const mapPrecision = (p: string): "auto" | "bfloat16" | "float16" | "fp8" | Fail => {
  const s = p.trim().toLowerCase()
  if (s === "" || s === "auto") return "auto"
  if (s === "bf16" || s === "bfloat16") return "bfloat16"
  if (s === "fp16" || s === "float16" || s === "half") return "float16"
  if (s === "fp8") return "fp8"
  return { error: `precision '${p}': quantized weights other than fp8 are not modelled` }
}

/** TP, DP and PP from a published `tp` field (`4`, `TP1 DP1`, `TP2 PP2`). */
export const parseParallelism = (tp: string): { readonly tp: number; readonly dp: number; readonly pp: number } | Fail => {
  const s = tp.trim()
  if (/^\d+$/.test(s)) return { tp: Number(s), dp: 1, pp: 1 }
  const parts = s.split(/[\s,x]+/).filter((x) => x !== "")
  const out = { tp: 1, dp: 1, pp: 1 }
  for (const part of parts) {
    const m = /^(TP|DP|PP)=?(\d+)$/i.exec(part)
    if (m === null || Number(m[2]) < 1) return { error: `tp '${tp}': expected N or TPn [DPn] [PPn]` }
    out[m[1]!.toLowerCase() as "tp" | "dp" | "pp"] = Number(m[2])
  }
  return out
}

/** A request rate from a published load: `Poisson 4 req/s`, `rate inf`, `all at once (rate inf)`, `Poisson ~10 req/s for ~29 s`. */
export const parseLoad = (load: string): { readonly requestRate: number; readonly burstiness: number; readonly approximate: boolean } | Fail => {
  const s = load.trim().toLowerCase()
  if (/concurren/.test(s)) return { error: `load '${load}': a closed loop of concurrent clients (--max-concurrency) is not simulated` }
  if (/\binf\b|all at once|infinit/.test(s)) return { requestRate: Infinity, burstiness: 1, approximate: false }
  if (/-\s*\d/.test(s)) return { error: `load '${load}': expected a rate > 0 ('Poisson R req/s') or 'rate inf'` }
  const m = /(~?)\s*(\d+(?:\.\d+)?)\s*(?:req|requests?|rps|qps)(?:\s*\/\s*s)?/.exec(s) ?? /(~?)\s*(\d+(?:\.\d+)?)\s*rps/.exec(s)
  if (m === null || !(Number(m[2]) > 0)) return { error: `load '${load}': expected 'Poisson R req/s' or 'rate inf'` }
  if (/gamma|burst/.test(s)) return { error: `load '${load}': a burstiness other than Poisson is not recorded in the row` }
  return { requestRate: Number(m[2]), burstiness: 1, approximate: m[1] === "~" }
}

/** A trace file named in a dataset field (`ShareGPT-derived sharegpt-llama-3.1-8b-300-sps10.jsonl`), or undefined. */
export const traceNameOf = (dataset: string): string | undefined => /([\w.+-]+\.(?:jsonl|csv|tsv))\b/i.exec(dataset)?.[1]

/** The version number and the flags in parentheses of an engine_version field (`0.6.0 (--num-scheduler-steps 10, max_model_len 4096)`). */
export const parseEngineVersion = (text: string): { readonly version: string; readonly flags: ReadonlyArray<readonly [string, string]> } | Fail => {
  const m = /^\s*v?(\d+\.\d+(?:\.\d+)?(?:[.\w+-]*)?)\s*(?:\((.*)\))?\s*$/.exec(text)
  if (m === null) return { error: `engine_version '${text}': expected a version number, optionally followed by (flag value, ...)` }
  const flags: Array<readonly [string, string]> = []
  for (const item of (m[2] ?? "").split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    const f = /^-{0,2}([A-Za-z][\w-]*)(?:\s*[= ]\s*(\S+))?$/.exec(item)
    if (f === null) return { error: `engine_version '${text}': cannot read the setting '${item}'` }
    flags.push([f[1]!.replace(/_/g, "-").toLowerCase(), f[2] ?? "true"])
  }
  return { version: m[1]!, flags }
}

/** Engine flags of one named setting from ENGINE_FLAG_TABLE, or the reason it is not a simulator flag. */
const flagOf = (name: string, value: string): Partial<EngineFlags> | Fail => {
  const entry = ENGINE_FLAG_TABLE[name]
  if (entry === undefined || ["model", "hardware", "perf-model", "network", "seed"].includes(name)) return { error: `engine setting --${name}: not a simulator flag` }
  const [key, kind] = entry
  if (kind === "bool") {
    if (!/^(true|false)$/i.test(value)) return { error: `engine setting --${name} ${value}: expected true or false` }
    return { [key]: /^true$/i.test(value) }
  }
  if (kind === "string") return { [key]: value }
  const v = Number(value)
  if (!Number.isFinite(v) || (kind === "int" && !Number.isInteger(v))) return { error: `engine setting --${name} ${value}: expected ${kind === "int" ? "an integer" : "a number"}` }
  return { [key]: v }
}

/**
 * vLLM V0's CPU time per scheduler call, us: vLLM RFC #6854 (Multi-Step Scheduling, 2024-07)
 * profiled about 4 ms of GPU bubble per decode step in V0 (scheduling, input preparation, the
 * sampled tokens' GPU-to-CPU copy and output processing; 5-13 ms across its runs), the overhead
 * multi-step scheduling amortises over its N passes.
 */
export const V0_STEP_OVERHEAD_US = 4000

const versionTuple = (v: string): [number, number, number] => {
  const [a, b, c] = v.split(/[.+-]/).map((x) => Number.parseInt(x, 10))
  return [a ?? 0, b ?? 0, Number.isFinite(c) ? c! : 0]
}

/**
 * vLLM's defaults for `version` as simulator flags, given the row's own settings and the model's
 * longest context, with what was set and what is approximated; or the reason this version's
 * defaults are not in the simulator.
 */
export const vllmDefaults = (
  version: string,
  given: Partial<EngineFlags>,
  modelMaxPositions: number
): { readonly flags: Partial<EngineFlags>; readonly settings: ReadonlyArray<string>; readonly approximations: ReadonlyArray<string> } | Fail => {
  const [major, minor, patch] = versionTuple(version)
  if (major === 0 && minor === 6 && patch <= 1) {
    const steps = given.numSchedulerSteps ?? 1
    const maxModelLen = given.maxModelLen ?? modelMaxPositions
    const long = maxModelLen > 32768
    if (given.enableChunkedPrefill === undefined && long && steps > 1) {
      return { error: `vLLM ${version} refuses --num-scheduler-steps ${steps} here: it turns chunked prefill on for max_model_len ${maxModelLen} > 32K, and multi-step does not run with it (give max_model_len <= 32768)` }
    }
    const chunked = given.enableChunkedPrefill ?? (long && steps === 1)
    const flags: Partial<EngineFlags> = {
      maxNumSeqs: 256,
      blockSize: 16,
      gpuMemoryUtilization: 0.9,
      enablePrefixCaching: false,
      enableChunkedPrefill: chunked,
      maxNumBatchedTokens: chunked ? 512 : Math.max(maxModelLen, 2048),
      schedulerReserveFullIsl: true,
      schedulingPolicy: "vllm-v0",
      stepOverheadUs: V0_STEP_OVERHEAD_US,
      ...given
    }
    return {
      flags,
      settings: [
        `vLLM ${version} (V0 engine) defaults: max_num_seqs 256, block_size 16, gpu_memory_utilization 0.9, prefix caching off, ` +
        `chunked prefill ${chunked ? `on (max_model_len ${maxModelLen} > 32K), max_num_batched_tokens 512` : `off, max_num_batched_tokens = max(max_model_len, 2048) = ${flags.maxNumBatchedTokens}`}, ` +
        "a prompt admitted only when blocks for all of it are free",
        `${V0_STEP_OVERHEAD_US / 1000} ms of CPU time per scheduler call (--step-overhead-us ${V0_STEP_OVERHEAD_US}: the GPU bubble per decode step in vLLM RFC #6854's V0 profile; multi-step pays it once per block)`,
        `V0's scheduler (--scheduling-policy vllm-v0): ${chunked ? "a step's decodes first, then prompt chunks" : "steps that admit prompts compute them alone, pausing the running decodes"}`
      ],
      approximations: [
        "V0's block-manager watermark (1% of blocks kept free) and async output processing are not modelled"
      ]
    }
  }
  if (major > 0 || minor >= 10) {
    return {
      flags: given,
      settings: [`vLLM ${version} (V1 engine): the simulator's defaults, which are vLLM 0.19's`],
      approximations: version.startsWith("0.19") ? [] : [`engine defaults are vLLM 0.19's; vLLM ${version}'s may differ`]
    }
  }
  return { error: `vLLM ${version}: the simulator has the defaults of vLLM 0.6.0 (V0) and of V1 (0.10 and later, as 0.19), not of this version` }
}

/**
 * A measured run in LLMServingSim's bench layout under `benchDir` that replayed `traceName` with
 * `numRequests` requests of `model` (its `vllm/meta.json`), or undefined.
 */
export const findBenchRun = (benchDir: string, traceName: string, numRequests: number, model: string): string | undefined => {
  if (!fs.existsSync(benchDir)) return undefined
  const norm = (s: string) => s.toLowerCase().split("/").pop()!
  for (const gpu of fs.readdirSync(benchDir).sort()) {
    const gdir = path.join(benchDir, gpu)
    if (!fs.statSync(gdir).isDirectory()) continue
    for (const m of fs.readdirSync(gdir).sort()) {
      const meta = path.join(gdir, m, "vllm", "meta.json")
      if (!fs.existsSync(meta)) continue
      try {
        const j = JSON.parse(fs.readFileSync(meta, "utf8")) as { dataset_path?: unknown; num_requests?: unknown; model?: unknown }
        if (typeof j.dataset_path === "string" && path.basename(j.dataset_path) === traceName && j.num_requests === numRequests &&
          typeof j.model === "string" && norm(j.model) === norm(model)) return path.join(gdir, m)
      } catch {
        continue
      }
    }
  }
  return undefined
}

/**
 * Map a scenario to a run, or list everything about it the simulator cannot express. `launches`:
 * the server launch commands sources record (launchCommands.ts); a matching one's flags apply
 * unless the row's engine_version gives the same flag (a different value there is a reason not to run).
 */
export const planScenario = (s: Scenario, ctx: ScenarioContext, launches: LaunchSources = []): Effect.Effect<Plan> =>
  Effect.gen(function*() {
    const reasons: Array<string> = []
    const settings: Array<string> = []
    const approximations: Array<string> = []
    const first = s.rows[0]!
    // engine: vLLM only
    if (!/^vllm$/i.test(s.engine.trim())) {
      reasons.push(/sglang/i.test(s.engine)
        ? `engine ${s.engine} ${s.engineVersion}: SGLang's scheduler (its own continuous batching and memory pool) is not modelled; the simulator models vLLM's, so these rows are not predicted`
        : `engine ${s.engine}: not modelled (the simulator models vLLM's scheduler)`)
    }
    const ver = parseEngineVersion(s.engineVersion)
    const rowFlags: Partial<EngineFlags> = {}
    if (isFail(ver)) reasons.push(ver.error)
    else {
      for (const [name, value] of ver.flags) {
        const f = flagOf(name, value)
        if (isFail(f)) reasons.push(f.error)
        else {
          Object.assign(rowFlags, f)
          settings.push(`--${name} ${value} (from engine_version)`)
        }
      }
    }
    const launch = launchCommandFor(launches, first.url, s.engine, s.model)
    if (launch !== undefined && !isFail(ver)) {
      const given = new Map(ver.flags)
      const applied: Array<string> = []
      for (const [name, value] of launch.flags) {
        const mine = given.get(name)
        if (mine !== undefined) {
          if (mine !== value) reasons.push(`engine_version gives --${name} ${mine}, but the source's launch command (${launch.command}) gives ${value}`)
          continue
        }
        const f = flagOf(name, value)
        if (isFail(f)) reasons.push(`${f.error} (in the source's launch command)`)
        else {
          Object.assign(rowFlags, f)
          applied.push(`--${name} ${value}`)
        }
      }
      if (applied.length > 0) settings.push(`${applied.join(" ")} (from the source's launch command, ${launch.url}: ${launch.command})`)
    }
    // model, GPU, precision, parallelism
    const modelId = mapModelName(s.model)
    if (modelId === undefined) reasons.push(`model '${s.model}': not bundled (see \`llmservingsim models\`)`)
    const gpu = yield* mapGpuName(s.gpu)
    if (isFail(gpu)) reasons.push(gpu.error)
    const dtype = mapPrecision(first.precision)
    if (isFail(dtype)) reasons.push(dtype.error)
    const par = parseParallelism(s.tp)
    if (isFail(par)) reasons.push(par.error)
    else if (par.tp * par.dp * par.pp !== first.numGpus) {
      reasons.push(`num_gpus ${first.numGpus} does not match tp '${s.tp}' (${par.tp * par.dp * par.pp} GPUs)`)
    }
    // dataset and load
    const traceName = traceNameOf(s.dataset)
    let workload: WorkloadPlan | undefined
    let bench: string | undefined
    const load = parseLoad(s.load)
    if (traceName !== undefined) {
      const p = findTrace(ctx.tracesDir, traceName)
      if (p === undefined) reasons.push(`dataset '${s.dataset}': trace ${traceName} not found under ${ctx.tracesDir}`)
      else {
        workload = { kind: "trace", path: p }
        settings.push(`workload: ${p}, replayed exactly (its arrival times and lengths; the row's load '${s.load}' describes it)`)
        bench = findBenchRun(ctx.benchDir, traceName, s.numRequests, s.model)
      }
    } else if (isFail(load)) reasons.push(load.error)
    else if (/^\d+$/.test(first.isl) && /^\d+$/.test(first.osl)) {
      workload = { kind: "fixed", numRequests: s.numRequests, requestRate: load.requestRate, burstiness: load.burstiness, inputLen: Number(first.isl), outputLen: Number(first.osl) }
      approximations.push(`dataset '${s.dataset}': fixed lengths ${first.isl} in / ${first.osl} out (no spread)`)
    } else if (/sharegpt/i.test(s.dataset)) {
      workload = { kind: "resample", numRequests: s.numRequests, requestRate: load.requestRate, burstiness: load.burstiness }
      approximations.push(`dataset '${s.dataset}': ShareGPT lengths are not bundled; each request's (prompt, output) lengths are drawn from the ShareGPT-derived LLMServingSim traces (seed ${ctx.seed}), sent ${Number.isFinite(load.requestRate) ? `as a Poisson process at ${load.requestRate} req/s` : "all at t = 0"}`)
    } else {
      reasons.push(`dataset '${s.dataset}': its prompt and output lengths are not bundled, and isl/osl (${first.isl}/${first.osl}) are not token counts`)
    }
    if (workload !== undefined && workload.kind !== "trace" && !isFail(load) && load.approximate) {
      approximations.push(`load '${s.load}': the approximate rate ${load.requestRate} req/s is used`)
    }
    // engine version defaults
    let flags: Partial<EngineFlags> = rowFlags
    if (!isFail(ver) && /^vllm$/i.test(s.engine.trim()) && modelId !== undefined && bench === undefined) {
      const maxPos = (yield* Effect.either(loadModel(modelId)))
      const d = vllmDefaults(ver.version, rowFlags, maxPos._tag === "Right" ? maxPos.right.shape.maxPositions : 131072)
      if (isFail(d)) reasons.push(d.error)
      else {
        flags = d.flags
        settings.unshift(...d.settings)
        approximations.push(...d.approximations)
      }
    }
    if (reasons.length > 0) return { kind: "not-expressible", reasons } satisfies NotExpressible
    const burst = burstHint(s, flags.numSchedulerSteps ?? 1)
    if (burst !== undefined) approximations.push(burst)
    const p = par as { tp: number; dp: number; pp: number }
    const engineFlags: EngineFlags = {
      ...flags,
      model: modelId!,
      hardware: (gpu as { name: string }).name,
      dtype: dtype as "auto" | "bfloat16" | "float16" | "fp8",
      tensorParallelSize: p.tp,
      ...(p.dp > 1 ? { dataParallelSize: p.dp } : {}),
      ...(p.pp > 1 ? { pipelineParallelSize: p.pp } : {}),
      seed: ctx.seed,
      perfModel: ctx.perfModel,
      network: ctx.network
    }
    if (bench !== undefined) {
      settings.push(`engine settings, device memory and async scheduling from the measured run ${bench}/vllm/meta.json, as \`validate\` replays it (no front end: the run timed TTFT from the engine's queued_ts)`)
      approximations.push(`in-sample: the measured run ${bench} is the one this project validates its perf models on, so these rows are not an out-of-sample test`)
    } else {
      approximations.push("front end: the API server's ingress (100 us + 1 us per prompt token, frontend/FrontEnd.ts) is modelled, as the client timed requests over HTTP")
    }
    approximations.push(ctx.perfModel === undefined ? "perf model: the datasheet roofline with its default efficiencies (CUDA graphs, torch.compile and kernel choices are not modelled)" : `perf model: ${ctx.perfModel}`)
    return { kind: "run", flags: engineFlags, workload: workload!, bench, frontEnd: bench === undefined, settings, approximations } satisfies RunPlan
  })

/**
 * A note when the published median ITL is several times the median TPOT while the row records no
 * multi-step scheduling: tokens then reached the client in bursts (as with `--num-scheduler-steps`),
 * which the row does not say, so the prediction (one token per chunk) cannot match its ITL.
 */
export const burstHint = (s: Scenario, steps: number): string | undefined => {
  if (steps > 1) return undefined
  const v = (m: string) => s.rows.find((r) => r.metric.trim().toLowerCase() === m)?.value
  const itl = v("median_itl")
  const tpot = v("median_tpot")
  if (itl === undefined || tpot === undefined || !(tpot > 0) || itl / tpot < 3) return undefined
  return `published median ITL is ${(itl / tpot).toFixed(1)}x the median TPOT: tokens reached the client in bursts, as with multi-step scheduling (--num-scheduler-steps), which this row's engine_version does not record; predicted without it`
}

/** The simulate flags of `f` as a command line fragment (kebab-case names from ENGINE_FLAG_TABLE). */
export const flagsText = (f: EngineFlags): string => {
  const byKey = new Map(Object.entries(ENGINE_FLAG_TABLE).map(([name, [key]]) => [key as string, name]))
  const out: Array<string> = []
  for (const [k, v] of Object.entries(f)) {
    if (v === undefined) continue
    const name = byKey.get(k)
    if (name === undefined) continue
    if (typeof v === "boolean") out.push(v ? `--${name}` : `--no-${name}`)
    else out.push(`--${name} ${String(v)}`)
  }
  return out.join(" ")
}

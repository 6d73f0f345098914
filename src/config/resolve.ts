/**
 * From command-line flags to a validated SimConfig. Every range check fails with InvalidOption
 * naming the flag; names resolve through the catalogue (UnknownName lists the known ones); the KV
 * capacity is computed here so an impossible configuration fails before the run (NoKvMemory), and
 * so `--max-model-len` can default to what fits, as vLLM requires it to.
 */
import { Effect } from "effect"
import { batchDefaults, defaultEngineConfig, type EngineConfig, SCHEDULING_POLICIES, type SchedulingPolicyName } from "../domain/EngineConfig.js"
import { usableMemoryBytes } from "../domain/Hardware.js"
import { type FileError, type InputError, InvalidOption, NoKvMemory, type UnknownName } from "../domain/errors.js"
import { defaultRooflineParams, type RooflineParams } from "../domain/PerfParams.js"
import type { ModelShape } from "../domain/Model.js"
import { loadPimConfig } from "../domain/Pim.js"
import { parseSpeculativeConfig } from "../domain/SpeculativeConfig.js"
import { kvCapacity } from "../memory/capacity.js"
import { loadNetwork, parseNetworkSpec } from "../network/spec.js"
import { frontEndOf } from "../perf/calibration.js"
import { loadPerfModel, parsePerfModelSpec } from "../perf/spec.js"
import { loadHardware, loadModel } from "./catalog.js"
import { DEFAULT_FRONT_END } from "../frontend/FrontEnd.js"
import type { SimConfig } from "./ConfigService.js"
import { loraConfigOf, type LoraFlags } from "./loraFlags.js"

/** Engine, perf-model and cluster flags shared by `simulate` and `serve` (undefined = default). */
export interface EngineFlags extends LoraFlags {
  readonly model: string
  readonly hardware: string
  readonly blockSize?: number | undefined
  readonly gpuMemoryUtilization?: number | undefined
  readonly numGpuBlocksOverride?: number | undefined
  readonly maxNumBatchedTokens?: number | undefined
  readonly maxNumSeqs?: number | undefined
  readonly maxModelLen?: number | undefined
  readonly enableChunkedPrefill?: boolean | undefined
  readonly longPrefillTokenThreshold?: number | undefined
  readonly schedulerReserveFullIsl?: boolean | undefined
  readonly enablePrefixCaching?: boolean | undefined
  readonly kvCacheDtype?: "auto" | "fp8" | undefined
  readonly dtype?: "auto" | "bfloat16" | "float16" | "fp8" | undefined
  readonly tensorParallelSize?: number | undefined
  /** `--pipeline-parallel-size`: pipeline stages per instance (default 1). */
  readonly pipelineParallelSize?: number | undefined
  /** `--num-scheduler-steps`: multi-step scheduling, vLLM 0.6 (default 1 = off). */
  readonly numSchedulerSteps?: number | undefined
  /** `--kv-offloading-size GiB`: vLLM's CPU KV offloading buffer (off when absent). */
  readonly kvOffloadingSize?: number | undefined
  /** `--kv-offloading-backend`: native (vLLM's default); lmcache is not modelled. */
  readonly kvOffloadingBackend?: string | undefined
  /** `--preemption-mode recompute|swap` (vLLM V0; default recompute). */
  readonly preemptionMode?: string | undefined
  /** `--swap-space GiB` per GPU for swap preemption (vLLM V0 default 4). */
  readonly swapSpace?: number | undefined
  /** `--speculative-config` JSON text (domain/SpeculativeConfig.ts). */
  readonly speculativeConfig?: string | undefined
  /** `--scheduling-policy` (fcfs | priority | orca | static | sarathi | sjf | vllm-v0; default fcfs). */
  readonly schedulingPolicy?: string | undefined
  /** `--priority-levels N`: with the priority policy, each request's priority drawn from 0..N-1. */
  readonly priorityLevels?: number | undefined
  readonly numInstances?: number | undefined
  /** `--data-parallel-size` (vLLM's name for the replica count; `--num-instances` is its alias). */
  readonly dataParallelSize?: number | undefined
  /** `--enable-expert-parallel` (MoE models only). */
  readonly enableExpertParallel?: boolean | undefined
  /** `--expert-load-imbalance` (>= 1; only with `--enable-expert-parallel`). */
  readonly expertLoadImbalance?: number | undefined
  readonly seed?: number | undefined
  readonly computeEfficiency?: number | undefined
  readonly attentionComputeEfficiency?: number | undefined
  readonly memoryEfficiency?: number | undefined
  readonly kernelOverheadUs?: number | undefined
  readonly stepOverheadUs?: number | undefined
  /** `--perf-model` spec (roofline | op-roofline | profile:PATH | calibrated:FILE). */
  readonly perfModel?: string | undefined
  /** `--network` spec (alpha-beta | table:DIR | fit:DIR). */
  readonly network?: string | undefined
  /** `--pim-config FILE`: decode attention on a PIM device (domain/Pim.ts, perf/pim.ts). */
  readonly pimConfig?: string | undefined
  /**
   * `--frontend-ingress-us`, `--frontend-tokenize-us-per-token`, `--frontend-egress-us`
   * (frontend/FrontEnd.ts). Undefined: from a `calibrated:` file's stack part where it has a
   * front end, else the defaults.
   */
  readonly frontendIngressUs?: number | undefined
  readonly frontendTokenizeUsPerToken?: number | undefined
  readonly frontendEgressUs?: number | undefined
}

/** KV block sizes vLLM accepts (`--block-size`). */
const BLOCK_SIZES = [1, 8, 16, 32, 64, 128, 256]

export type ConfigError = UnknownName | FileError | InputError | InvalidOption | NoKvMemory

const check = (ok: boolean, option: string, reason: string): Effect.Effect<void, InvalidOption> =>
  ok ? Effect.void : Effect.fail(new InvalidOption({ option, reason }))

const posInt = (v: number | undefined, option: string) =>
  check(v === undefined || (Number.isInteger(v) && v > 0), option, `expected a positive integer (got ${v})`)
const nonNegInt = (v: number | undefined, option: string) =>
  check(v === undefined || (Number.isInteger(v) && v >= 0), option, `expected an integer >= 0 (got ${v})`)
const fraction = (v: number | undefined, option: string) =>
  check(v === undefined || (Number.isFinite(v) && v > 0 && v <= 1), option, `expected a number in (0, 1] (got ${v})`)
const nonNeg = (v: number | undefined, option: string) =>
  check(v === undefined || (Number.isFinite(v) && v >= 0), option, `expected a number >= 0 (got ${v})`)

/**
 * `--enable-expert-parallel` and `--expert-load-imbalance` checked against the model: EP needs an
 * MoE model, and its size DP x TP must divide the expert count. (vLLM itself accepts an uneven
 * split, `determine_expert_map` giving the first E mod EP ranks one extra expert; the simulator
 * refuses it rather than price the uneven ranks.) An imbalance without EP is refused: every GPU
 * then holds a shard of every expert, so there is no per-rank load to skew.
 */
const expertParallelFlags = (f: EngineFlags, m: ModelShape, dp: number, tp: number) =>
  Effect.gen(function*() {
    const on = f.enableExpertParallel ?? false
    if (on && m.moe === null) {
      return yield* new InvalidOption({ option: "--enable-expert-parallel", reason: `${m.id} is a dense model (no experts in its config.json); expert parallelism needs an MoE model` })
    }
    if (on && m.moe !== null && m.moe.experts % (dp * tp) !== 0) {
      return yield* new InvalidOption({
        option: "--enable-expert-parallel",
        reason: `EP size ${dp * tp} (--data-parallel-size ${dp} x --tensor-parallel-size ${tp}) does not divide ${m.id}'s ${m.moe.experts} experts`
      })
    }
    if (f.expertLoadImbalance !== undefined && !on) {
      return yield* new InvalidOption({ option: "--expert-load-imbalance", reason: "only applies with --enable-expert-parallel (without it every GPU holds a shard of every expert)" })
    }
    return { enableExpertParallel: on, expertLoadImbalance: f.expertLoadImbalance ?? null }
  })

/**
 * `--scheduling-policy` and `--priority-levels` checked: a known policy name, levels only with the
 * priority policy, no policy but fcfs and vllm-v0 under multi-step scheduling (its decode blocks are
 * vLLM 0.6's FCFS scheduler). fcfs is left out of the result so a default run's config is unchanged.
 */
const schedulingFlags = (f: EngineFlags): Effect.Effect<{ schedulingPolicy?: SchedulingPolicyName; priorityLevels?: number }, InvalidOption> =>
  Effect.gen(function*() {
    const name = f.schedulingPolicy ?? "fcfs"
    if (!(SCHEDULING_POLICIES as ReadonlyArray<string>).includes(name)) {
      return yield* new InvalidOption({ option: "--scheduling-policy", reason: `expected one of ${SCHEDULING_POLICIES.join(", ")} (got ${JSON.stringify(name)})` })
    }
    const policy = name as SchedulingPolicyName
    yield* posInt(f.priorityLevels, "--priority-levels")
    if (f.priorityLevels !== undefined && policy !== "priority") {
      return yield* new InvalidOption({ option: "--priority-levels", reason: `only applies with --scheduling-policy priority (got --scheduling-policy ${policy})` })
    }
    if (policy === "sarathi" && f.enableChunkedPrefill === false) {
      return yield* new InvalidOption({ option: "--no-enable-chunked-prefill", reason: "sarathi always chunks prompts (--max-num-batched-tokens is its chunk budget); leave the flag out" })
    }
    if ((policy === "orca" || policy === "static") && f.enableChunkedPrefill === true) {
      return yield* new InvalidOption({ option: "--enable-chunked-prefill", reason: `${policy} computes each prompt whole in the step that admits it (no chunking); leave the flag out` })
    }
    if (policy !== "fcfs" && policy !== "vllm-v0" && (f.numSchedulerSteps ?? 1) > 1) {
      return yield* new InvalidOption({ option: "--scheduling-policy", reason: `${policy} with --num-scheduler-steps > 1 is not modelled (multi-step scheduling is vLLM 0.6's FCFS scheduler: fcfs or vllm-v0)` })
    }
    return {
      ...(policy === "fcfs" ? {} : { schedulingPolicy: policy }),
      ...(f.priorityLevels === undefined ? {} : { priorityLevels: f.priorityLevels })
    }
  })

export const resolveConfig = (f: EngineFlags): Effect.Effect<SimConfig, ConfigError> =>
  Effect.gen(function*() {
    yield* check(f.kvCacheDtype === undefined || ["auto", "fp8"].includes(f.kvCacheDtype), "--kv-cache-dtype", `expected auto or fp8 (got ${JSON.stringify(f.kvCacheDtype)})`)
    yield* check(f.dtype === undefined || ["auto", "bfloat16", "float16", "fp8"].includes(f.dtype), "--dtype", `expected auto, bfloat16, float16 or fp8 (got ${JSON.stringify(f.dtype)})`)
    yield* posInt(f.blockSize, "--block-size")
    yield* fraction(f.gpuMemoryUtilization, "--gpu-memory-utilization")
    yield* posInt(f.numGpuBlocksOverride, "--num-gpu-blocks-override")
    yield* posInt(f.maxNumBatchedTokens, "--max-num-batched-tokens")
    yield* posInt(f.maxNumSeqs, "--max-num-seqs")
    yield* posInt(f.maxModelLen, "--max-model-len")
    yield* nonNegInt(f.longPrefillTokenThreshold, "--long-prefill-token-threshold")
    yield* posInt(f.tensorParallelSize, "--tensor-parallel-size")
    yield* posInt(f.pipelineParallelSize, "--pipeline-parallel-size")
    yield* posInt(f.numSchedulerSteps, "--num-scheduler-steps")
    yield* posInt(f.numInstances, "--num-instances")
    const policy = yield* schedulingFlags(f)
    const named = f.schedulingPolicy ?? "fcfs"
    if (named !== "fcfs" && f.preemptionMode === "swap") {
      return yield* new InvalidOption({ option: "--preemption-mode", reason: `swap preemption is modelled for --scheduling-policy fcfs only (got ${named})` })
    }
    if (named !== "fcfs" && f.speculativeConfig !== undefined) {
      return yield* new InvalidOption({ option: "--speculative-config", reason: `speculative decoding is modelled for --scheduling-policy fcfs only (got ${named})` })
    }
    yield* posInt(f.dataParallelSize, "--data-parallel-size")
    yield* check(f.dataParallelSize === undefined || f.numInstances === undefined || f.dataParallelSize === f.numInstances, "--data-parallel-size",
      `${f.dataParallelSize} disagrees with --num-instances ${f.numInstances} (its alias); give one of them`)
    yield* check(f.expertLoadImbalance === undefined || (Number.isFinite(f.expertLoadImbalance) && f.expertLoadImbalance >= 1), "--expert-load-imbalance",
      `expected a number >= 1: tokens on the busiest expert-parallel rank / the mean (got ${f.expertLoadImbalance})`)
    yield* nonNegInt(f.seed, "--seed")
    yield* fraction(f.computeEfficiency, "--compute-efficiency")
    yield* fraction(f.attentionComputeEfficiency, "--attention-efficiency")
    yield* fraction(f.memoryEfficiency, "--memory-efficiency")
    yield* nonNeg(f.kernelOverheadUs, "--kernel-overhead-us")
    yield* nonNeg(f.stepOverheadUs, "--step-overhead-us")
    yield* nonNeg(f.frontendIngressUs, "--frontend-ingress-us")
    yield* nonNeg(f.frontendTokenizeUsPerToken, "--frontend-tokenize-us-per-token")
    yield* nonNeg(f.frontendEgressUs, "--frontend-egress-us")
    const perfSpec = f.perfModel === undefined ? undefined : yield* parsePerfModelSpec(f.perfModel)
    const networkSpec = f.network === undefined ? undefined : yield* parseNetworkSpec(f.network)
    const pim = f.pimConfig === undefined ? undefined : yield* loadPimConfig(f.pimConfig)
    if (pim !== undefined && perfSpec !== undefined && perfSpec.kind !== "roofline") {
      return yield* new InvalidOption({ option: "--pim-config", reason: `runs on the datasheet roofline only (--perf-model roofline); --perf-model ${f.perfModel} has no decode-attention split to offload` })
    }
    if (pim !== undefined && (f.pipelineParallelSize ?? 1) > 1) {
      return yield* new InvalidOption({ option: "--pim-config", reason: "PIM attention offload with --pipeline-parallel-size > 1 is not modelled" })
    }

    const model = yield* loadModel(f.model)
    const hardware = yield* loadHardware(f.hardware)
    const m = model.shape
    const weightDtypeBytes = f.dtype === undefined || f.dtype === "auto" ? m.dtypeBytes : f.dtype === "fp8" ? 1 : 2
    if (weightDtypeBytes === 1 && hardware.fp8Tflops === null) {
      return yield* new InvalidOption({ option: "--dtype", reason: `${hardware.name} has no FP8 tensor cores` })
    }
    if (f.dtype === "bfloat16" && hardware.bf16Tflops === null) {
      return yield* new InvalidOption({ option: "--dtype", reason: `${hardware.name} has no bfloat16 support; use --dtype float16 (auto casts to it)` })
    }
    if (f.blockSize !== undefined && !BLOCK_SIZES.includes(f.blockSize)) {
      return yield* new InvalidOption({ option: "--block-size", reason: `expected one of ${BLOCK_SIZES.join(", ")} (got ${f.blockSize})` })
    }
    const base = { ...defaultEngineConfig(m.maxPositions, weightDtypeBytes), ...batchDefaults(usableMemoryBytes(hardware), hardware.name) }
    const tp = f.tensorParallelSize ?? 1
    if (m.kvHeads % tp !== 0 && tp % m.kvHeads !== 0) {
      return yield* new InvalidOption({ option: "--tensor-parallel-size", reason: `${tp} does not divide ${m.id}'s ${m.kvHeads} KV heads` })
    }
    if (m.heads % tp !== 0) {
      return yield* new InvalidOption({ option: "--tensor-parallel-size", reason: `${tp} does not divide ${m.id}'s ${m.heads} attention heads` })
    }
    const dp = f.dataParallelSize ?? f.numInstances ?? 1
    const ep = yield* expertParallelFlags(f, m, dp, tp)
    const pp = f.pipelineParallelSize ?? 1
    const steps = f.numSchedulerSteps ?? 1
    if (steps > 1 && f.enableChunkedPrefill === true) {
      return yield* new InvalidOption({ option: "--num-scheduler-steps", reason: "multi-step scheduling does not run with --enable-chunked-prefill (vLLM 0.6.0 refuses the pair); give --no-enable-chunked-prefill or leave it out" })
    }
    if (steps > 1 && pp > 1) {
      return yield* new InvalidOption({ option: "--num-scheduler-steps", reason: "multi-step scheduling with --pipeline-parallel-size > 1 is not modelled" })
    }
    if (f.kvOffloadingBackend !== undefined && f.kvOffloadingBackend !== "native") {
      return yield* new InvalidOption({ option: "--kv-offloading-backend", reason: `expected native (vLLM's own CPU offloading; got ${JSON.stringify(f.kvOffloadingBackend)}: other backends such as lmcache are not modelled)` })
    }
    if (f.kvOffloadingBackend !== undefined && f.kvOffloadingSize === undefined) {
      return yield* new InvalidOption({ option: "--kv-offloading-backend", reason: "needs --kv-offloading-size GiB (the host buffer; without it vLLM offloads nothing)" })
    }
    if (f.kvOffloadingSize !== undefined) {
      if (!(Number.isFinite(f.kvOffloadingSize) && f.kvOffloadingSize > 0)) {
        return yield* new InvalidOption({ option: "--kv-offloading-size", reason: `expected GiB of host memory, a number > 0 (got ${f.kvOffloadingSize})` })
      }
      if (f.enablePrefixCaching === false) {
        return yield* new InvalidOption({ option: "--kv-offloading-size", reason: "offloaded blocks are found again by their prefix-cache hashes: it needs prefix caching (drop --no-enable-prefix-caching)" })
      }
      if (pp > 1) return yield* new InvalidOption({ option: "--kv-offloading-size", reason: "CPU offloading with --pipeline-parallel-size > 1 is not modelled" })
      if (hardware.hostLinkGBs === undefined) return yield* new InvalidOption({ option: "--kv-offloading-size", reason: `${hardware.name}'s hardware file gives no hostLinkGBs (the PCIe link offloaded blocks cross)` })
    }
    if (f.preemptionMode !== undefined && f.preemptionMode !== "recompute" && f.preemptionMode !== "swap") {
      return yield* new InvalidOption({ option: "--preemption-mode", reason: `expected recompute or swap (got ${JSON.stringify(f.preemptionMode)})` })
    }
    const swapMode = f.preemptionMode === "swap"
    if (f.swapSpace !== undefined && !swapMode) {
      return yield* new InvalidOption({ option: "--swap-space", reason: "applies to --preemption-mode swap (recompute keeps nothing in host memory)" })
    }
    if (swapMode) {
      if (f.swapSpace !== undefined && !(Number.isFinite(f.swapSpace) && f.swapSpace > 0)) {
        return yield* new InvalidOption({ option: "--swap-space", reason: `expected GiB of host memory per GPU, a number > 0 (got ${f.swapSpace})` })
      }
      if (hardware.hostLinkGBs === undefined) return yield* new InvalidOption({ option: "--preemption-mode", reason: `${hardware.name}'s hardware file gives no hostLinkGBs (the PCIe link swapped blocks cross)` })
      if (pp > 1) return yield* new InvalidOption({ option: "--preemption-mode", reason: "swap preemption with --pipeline-parallel-size > 1 is not modelled" })
    }
    const spec = f.speculativeConfig === undefined ? undefined : yield* parseSpeculativeConfig(f.speculativeConfig)
    if (spec !== undefined && steps > 1) {
      return yield* new InvalidOption({ option: "--speculative-config", reason: "speculative decoding with --num-scheduler-steps > 1 is not modelled" })
    }
    if (spec !== undefined && pp > 1) {
      return yield* new InvalidOption({ option: "--speculative-config", reason: "speculative decoding with --pipeline-parallel-size > 1 is not modelled" })
    }
    const lora = yield* loraConfigOf(f, {
      model: m, hardware, schedulingPolicy: f.schedulingPolicy ?? "fcfs", pipelineParallelSize: pp, numSchedulerSteps: steps, speculative: spec !== undefined
    })
    if (pp > m.layers) {
      return yield* new InvalidOption({ option: "--pipeline-parallel-size", reason: `${pp} exceeds ${m.id}'s ${m.layers} decoder layers (each stage needs at least one)` })
    }
    let engine0: EngineConfig = {
      ...base,
      blockSize: f.blockSize ?? base.blockSize,
      gpuMemoryUtilization: f.gpuMemoryUtilization ?? base.gpuMemoryUtilization,
      numGpuBlocksOverride: f.numGpuBlocksOverride ?? null,
      maxNumBatchedTokens: f.maxNumBatchedTokens ?? base.maxNumBatchedTokens,
      maxNumSeqs: f.maxNumSeqs ?? base.maxNumSeqs,
      // vLLM 0.6.0 runs multi-step without chunked prefill (it refuses the pair)
      enableChunkedPrefill: f.enableChunkedPrefill ?? (steps > 1 ? false : base.enableChunkedPrefill),
      longPrefillTokenThreshold: f.longPrefillTokenThreshold ?? base.longPrefillTokenThreshold,
      schedulerReserveFullIsl: f.schedulerReserveFullIsl ?? base.schedulerReserveFullIsl,
      enablePrefixCaching: f.enablePrefixCaching ?? base.enablePrefixCaching,
      kvCacheDtypeBytes: f.kvCacheDtype === "fp8" ? 1 : 2,
      tensorParallelSize: tp,
      dataParallelSize: dp,
      ...ep,
      pipelineParallelSize: pp,
      numSchedulerSteps: steps,
      ...(f.kvOffloadingSize === undefined ? {} : { kvOffloadingSize: f.kvOffloadingSize, kvOffloadingBackend: "native" as const }),
      ...(swapMode ? { preemptionMode: "swap" as const, swapSpace: f.swapSpace ?? 4 } : {}),
      ...(spec === undefined ? {} : { speculativeConfig: spec }),
      ...(lora === undefined ? {} : { lora }),
      ...policy
    }
    if (engine0.maxNumBatchedTokens < engine0.maxNumSeqs) {
      return yield* new InvalidOption({
        option: "--max-num-batched-tokens",
        reason: `${engine0.maxNumBatchedTokens} must be at least --max-num-seqs ${engine0.maxNumSeqs} (every running request needs a token per step)`
      })
    }
    const pimBytes = pim === undefined ? undefined : pim.capacityGB * 1e9
    let cap = kvCapacity(m, hardware, engine0, pimBytes)
    if ("_tag" in cap) return yield* cap
    if (pim !== undefined && cap.weightBytes + cap.activationReserveBytes > usableMemoryBytes(hardware) * engine0.gpuMemoryUtilization) {
      return yield* new NoKvMemory({ reason: `with --pim-config the GPU still holds the weights: ${(cap.weightBytes / 1e9).toFixed(2)} GB of ${m.id} plus ${(cap.activationReserveBytes / 1e9).toFixed(2)} GB activation reserve exceed ${hardware.name}'s usable memory` })
    }
    // under PP one request lives in one virtual engine's share of the blocks (floor(blocks / P))
    let kvTokens = Math.floor(cap.numBlocks / pp) * cap.blockSize
    if (kvTokens < 1) {
      return yield* new InvalidOption({
        option: f.numGpuBlocksOverride !== undefined ? "--num-gpu-blocks-override" : "--pipeline-parallel-size",
        reason: `${cap.numBlocks} KV blocks leave none for each of the ${pp} virtual engines (vLLM gives each num_gpu_blocks // pipeline_parallel_size)`
      })
    }
    // Without chunked prefill and no explicit budget, vLLM raises the budget to the longest prompt:
    // max(max_model_len, default budget); the larger profiling pass then shrinks the KV cache.
    if (!engine0.enableChunkedPrefill && f.maxNumBatchedTokens === undefined) {
      const wanted = f.maxModelLen ?? Math.min(m.maxPositions, kvTokens)
      if (wanted > engine0.maxNumBatchedTokens) {
        engine0 = { ...engine0, maxNumBatchedTokens: wanted }
        cap = kvCapacity(m, hardware, engine0, pimBytes)
        if ("_tag" in cap) return yield* cap
        kvTokens = Math.floor(cap.numBlocks / pp) * cap.blockSize
      }
    }

    let maxModelLen: number
    if (f.maxModelLen !== undefined) {
      if (f.maxModelLen > m.maxPositions) {
        return yield* new InvalidOption({ option: "--max-model-len", reason: `${f.maxModelLen} exceeds ${m.id}'s max_position_embeddings ${m.maxPositions}` })
      }
      if (f.maxModelLen > kvTokens) {
        return yield* new InvalidOption({
          option: "--max-model-len",
          reason: `${f.maxModelLen} tokens need more KV cache than the ${kvTokens} tokens (${Math.floor(cap.numBlocks / pp)} blocks${pp > 1 ? ` per virtual engine, ${cap.numBlocks} / --pipeline-parallel-size ${pp}` : ""}) available; lower it or raise --gpu-memory-utilization (vLLM refuses to start here too)`
        })
      }
      if (!engine0.enableChunkedPrefill && engine0.maxNumBatchedTokens < f.maxModelLen) {
        return yield* new InvalidOption({
          option: "--max-num-batched-tokens",
          reason: `${engine0.maxNumBatchedTokens} is smaller than --max-model-len ${f.maxModelLen} with chunked prefill disabled; raise it or lower --max-model-len`
        })
      }
      maxModelLen = f.maxModelLen
    } else {
      maxModelLen = Math.min(m.maxPositions, kvTokens)
      if (!engine0.enableChunkedPrefill) maxModelLen = Math.min(maxModelLen, engine0.maxNumBatchedTokens)
    }
    const roofline: RooflineParams = {
      computeEfficiency: f.computeEfficiency ?? hardware.computeEfficiency?.value ?? defaultRooflineParams.computeEfficiency,
      attentionComputeEfficiency: f.attentionComputeEfficiency ?? defaultRooflineParams.attentionComputeEfficiency,
      memoryEfficiency: f.memoryEfficiency ?? defaultRooflineParams.memoryEfficiency,
      kernelOverheadNs: f.kernelOverheadUs === undefined ? defaultRooflineParams.kernelOverheadNs : Math.round(f.kernelOverheadUs * 1000),
      stepOverheadNs: f.stepOverheadUs === undefined ? defaultRooflineParams.stepOverheadNs : Math.round(f.stepOverheadUs * 1000)
    }
    const perfModel = perfSpec === undefined ? undefined : yield* loadPerfModel(perfSpec, m, hardware, tp)
    // a calibration's stack part sets the front end, each field unless its flag is given
    const calFrontEnd = perfModel?.kind === "calibrated" ? frontEndOf(perfModel.calibration) : undefined
    return {
      model: m,
      modelSource: model.path,
      hardware,
      engine: { ...engine0, maxModelLen },
      roofline,
      numInstances: dp,
      seed: f.seed ?? 0,
      frontEnd: {
        ingressUs: f.frontendIngressUs ?? calFrontEnd?.ingressUs ?? DEFAULT_FRONT_END.ingressUs,
        tokenizeUsPerToken: f.frontendTokenizeUsPerToken ?? calFrontEnd?.tokenizeUsPerToken ?? DEFAULT_FRONT_END.tokenizeUsPerToken,
        egressUs: f.frontendEgressUs ?? calFrontEnd?.egressUs ?? DEFAULT_FRONT_END.egressUs
      },
      ...(networkSpec === undefined ? {} : { network: yield* loadNetwork(networkSpec) }),
      ...(pim === undefined ? {} : { pim }),
      ...(perfModel === undefined ? {} : { perfModel: { spec: perfModel, stepOverheadNs: f.stepOverheadUs === undefined ? undefined : Math.round(f.stepOverheadUs * 1000) } })
    } satisfies SimConfig
  })

/**
 * Serving-engine settings, named after vLLM's engine arguments (kebab-case on the command line:
 * `--max-num-seqs`, `--max-num-batched-tokens`, `--block-size`, ...). Defaults follow vLLM 0.19's
 * online-serving defaults.
 */
import type { SpeculativeConfig } from "./SpeculativeConfig.js"
import type { LoraConfig } from "./LoraConfig.js"

export interface EngineConfig {
  /** KV block size in tokens (vLLM `--block-size`, default 16). */
  readonly blockSize: number
  /** Fraction of device memory vLLM may use (`--gpu-memory-utilization`, default 0.9). */
  readonly gpuMemoryUtilization: number
  /** Fixed number of KV blocks, bypassing the memory computation (`--num-gpu-blocks-override`). */
  readonly numGpuBlocksOverride: number | null
  /** Token budget per step (`--max-num-batched-tokens`; default from batchDefaults). */
  readonly maxNumBatchedTokens: number
  /** Maximum running requests (`--max-num-seqs`; default from batchDefaults). */
  readonly maxNumSeqs: number
  /** Longest prompt + output accepted (`--max-model-len`; default: the model's max positions). */
  readonly maxModelLen: number
  /** Chunked prefill (`--enable-chunked-prefill`, on by default in vLLM V1). */
  readonly enableChunkedPrefill: boolean
  /** Cap on one request's prefill tokens per step; 0 = off (`--long-prefill-token-threshold`). */
  readonly longPrefillTokenThreshold: number
  /**
   * Admit a waiting request only if KV blocks for its whole prompt are free, not just for its first
   * chunk (vLLM 0.19 `scheduler_reserve_full_isl`, on in the reference run).
   */
  readonly schedulerReserveFullIsl: boolean
  /**
   * Automatic prefix caching (`--enable-prefix-caching`, on by default in vLLM V1): released KV
   * blocks stay cached by content hash until evicted, and a request starts at its cached prefix.
   */
  readonly enablePrefixCaching: boolean
  /** Bytes per KV element: 2 for auto (16-bit models), 1 for fp8 (`--kv-cache-dtype`). */
  readonly kvCacheDtypeBytes: number
  /** Bytes per weight element (`--dtype`; auto = the checkpoint's dtype). */
  readonly weightDtypeBytes: number
  /** Tensor-parallel degree (`--tensor-parallel-size`). */
  readonly tensorParallelSize: number
  /**
   * Data-parallel degree (`--data-parallel-size`, alias `--num-instances`): this many replicas
   * behind the router (SimConfig.numInstances is the same number). For MoE models vLLM's DP ranks
   * step together and share the MoE layers (perf/expertParallel.ts).
   */
  readonly dataParallelSize: number
  /**
   * Expert parallelism (`--enable-expert-parallel`): the experts spread whole over DP x TP GPUs
   * instead of being TP-sharded; attention stays data-parallel (perf/expertParallel.ts).
   */
  readonly enableExpertParallel: boolean
  /**
   * Tokens on the busiest EP rank / the mean (`--expert-load-imbalance`, >= 1); null = derived per
   * step from uniform top-k routing (expertParallel.ts `derivedImbalance`).
   */
  readonly expertLoadImbalance: number | null
  /**
   * Pipeline-parallel degree (`--pipeline-parallel-size`, default 1): the decoder layers split into
   * this many stages of `tensorParallelSize` GPUs each, with as many micro-batches in flight as
   * stages (vLLM V0's virtual engines; see cluster/pipeline.ts).
   */
  readonly pipelineParallelSize: number
  /**
   * Multi-step scheduling (vLLM 0.6's `--num-scheduler-steps`, default 1 = off): a scheduler call
   * whose batch is all decodes runs this many forward passes before the scheduler runs again; new
   * requests join only between blocks, and each request's tokens of a block reach the client
   * together at its end (one streamed chunk). A step that computes a prompt is a single pass (vLLM
   * 0.6.0 runs prompts single-step). See engine/Instance.ts.
   */
  readonly numSchedulerSteps: number
  /**
   * vLLM's native CPU KV offloading (`--kv-offloading-size`, GiB of host memory, summed over the TP
   * ranks as vLLM counts it; `--kv-offloading-backend native`): absent = off. See memory/CpuKvTier.ts.
   */
  readonly kvOffloadingSize?: number | undefined
  readonly kvOffloadingBackend?: "native" | undefined
  /**
   * vLLM V0's `--preemption-mode swap` with `--swap-space` GiB of host memory per GPU (default 4, as
   * V0): a preempted request's KV blocks are copied to host memory and back when it resumes, instead
   * of being recomputed (absent = recompute, vLLM V1's only mode). See scheduler/SwapSpace.ts.
   */
  readonly preemptionMode?: "swap" | undefined
  readonly swapSpace?: number | undefined
  /**
   * Speculative decoding (vLLM `--speculative-config`); absent = off (the key is then left out, so
   * the default run's summary.json is unchanged). See engine/SpecDecoder.ts.
   */
  readonly speculativeConfig?: SpeculativeConfig
  /**
   * `--scheduling-policy` (scheduler/policies/): absent = fcfs, vLLM V1's default. Left out of the
   * config when fcfs so a default run's summary.json stays as it was.
   */
  readonly schedulingPolicy?: SchedulingPolicyName
  /** `--priority-levels N` (priority policy only): each request's priority drawn from 0..N-1; absent = the request's own. */
  readonly priorityLevels?: number
  /**
   * LoRA serving (`--enable-lora` with `--max-loras`, `--max-lora-rank`, `--max-cpu-loras`,
   * `--lora-modules`); absent = off (left out, so a default run's summary.json is unchanged). See
   * lora/LoraSlots.ts; its GPU slots are taken from the KV cache's memory (memory/capacity.ts).
   */
  readonly lora?: LoraConfig
}

/** The batching policies `--scheduling-policy` names (vLLM's fcfs and priority, then the simulator's). */
export const SCHEDULING_POLICIES = ["fcfs", "priority", "orca", "static", "sarathi", "sjf", "vllm-v0"] as const
export type SchedulingPolicyName = typeof SCHEDULING_POLICIES[number]

/**
 * vLLM's default token budget and sequence limit for the OpenAI server
 * (`EngineArgs.get_batch_defaults`): 8,192 tokens and 1,024 sequences on GPUs with at least 70 GiB
 * that are not A100s (H100, H200, B200, MI300X, RTX PRO 6000), else 2,048 and 256.
 */
export const batchDefaults = (deviceMemoryBytes: number, hardwareName: string): { maxNumBatchedTokens: number; maxNumSeqs: number } =>
  deviceMemoryBytes >= 70 * 2 ** 30 && !/^a100/i.test(hardwareName)
    ? { maxNumBatchedTokens: 8192, maxNumSeqs: 1024 }
    : { maxNumBatchedTokens: 2048, maxNumSeqs: 256 }

export const defaultEngineConfig = (maxModelLen: number, weightDtypeBytes: number): EngineConfig => ({
  blockSize: 16,
  gpuMemoryUtilization: 0.9,
  numGpuBlocksOverride: null,
  maxNumBatchedTokens: 2048,
  maxNumSeqs: 256,
  maxModelLen,
  enableChunkedPrefill: true,
  longPrefillTokenThreshold: 0,
  schedulerReserveFullIsl: true,
  enablePrefixCaching: true,
  kvCacheDtypeBytes: 2,
  weightDtypeBytes,
  tensorParallelSize: 1,
  dataParallelSize: 1,
  enableExpertParallel: false,
  expertLoadImbalance: null,
  pipelineParallelSize: 1,
  numSchedulerSteps: 1
})

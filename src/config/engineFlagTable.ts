/**
 * The engine and workload flags of `simulate` by their kebab-case names (vLLM's), with the field
 * each sets and its value type: what `sweep --grid` axes and a cluster file's `engine:` sections
 * may name, and what the command line's value check (cli/flagValues.ts) reads.
 */
import type { WorkloadFlags } from "../workload/Workload.js"
import type { EngineFlags } from "./resolve.js"

export type FlagKind = "int" | "float" | "string" | "bool"

export const ENGINE_FLAG_TABLE: Record<string, [keyof EngineFlags, FlagKind]> = {
  model: ["model", "string"], hardware: ["hardware", "string"], "block-size": ["blockSize", "int"],
  "gpu-memory-utilization": ["gpuMemoryUtilization", "float"], "num-gpu-blocks-override": ["numGpuBlocksOverride", "int"],
  "max-num-batched-tokens": ["maxNumBatchedTokens", "int"], "max-num-seqs": ["maxNumSeqs", "int"], "max-model-len": ["maxModelLen", "int"],
  "enable-chunked-prefill": ["enableChunkedPrefill", "bool"], "long-prefill-token-threshold": ["longPrefillTokenThreshold", "int"],
  "scheduler-reserve-full-isl": ["schedulerReserveFullIsl", "bool"], "enable-prefix-caching": ["enablePrefixCaching", "bool"], "kv-cache-dtype": ["kvCacheDtype", "string"], dtype: ["dtype", "string"],
  "tensor-parallel-size": ["tensorParallelSize", "int"], "num-instances": ["numInstances", "int"], seed: ["seed", "int"],
  "pipeline-parallel-size": ["pipelineParallelSize", "int"], "num-scheduler-steps": ["numSchedulerSteps", "int"], "kv-offloading-size": ["kvOffloadingSize", "float"], "kv-offloading-backend": ["kvOffloadingBackend", "string"], "preemption-mode": ["preemptionMode", "string"], "swap-space": ["swapSpace", "float"], "data-parallel-size": ["dataParallelSize", "int"], "enable-expert-parallel": ["enableExpertParallel", "bool"], "expert-load-imbalance": ["expertLoadImbalance", "float"],
  "enable-lora": ["enableLora", "bool"], "max-loras": ["maxLoras", "int"], "max-lora-rank": ["maxLoraRank", "int"], "max-cpu-loras": ["maxCpuLoras", "int"],
  "lora-modules": ["loraModules", "string"], "lora-storage-gbps": ["loraStorageGbps", "float"],
  "scheduling-policy": ["schedulingPolicy", "string"], "priority-levels": ["priorityLevels", "int"],
  "compute-efficiency": ["computeEfficiency", "float"], "attention-efficiency": ["attentionComputeEfficiency", "float"],
  "memory-efficiency": ["memoryEfficiency", "float"], "kernel-overhead-us": ["kernelOverheadUs", "float"], "step-overhead-us": ["stepOverheadUs", "float"],
  network: ["network", "string"], "perf-model": ["perfModel", "string"], "pim-config": ["pimConfig", "string"],
  "frontend-ingress-us": ["frontendIngressUs", "float"], "frontend-tokenize-us-per-token": ["frontendTokenizeUsPerToken", "float"], "frontend-egress-us": ["frontendEgressUs", "float"]
}

export const WORKLOAD_FLAG_TABLE: Record<string, [keyof WorkloadFlags, FlagKind]> = {
  trace: ["trace", "string"], "num-requests": ["numRequests", "int"], "rate-scale": ["rateScale", "float"], "request-rate": ["requestRate", "string"],
  burstiness: ["burstiness", "float"], "input-len": ["inputLen", "int"], "output-len": ["outputLen", "int"], "length-dist": ["lengthDist", "string"],
  "range-ratio": ["rangeRatio", "float"], "length-sigma": ["lengthSigma", "float"],
  "random-input-len": ["randomInputLen", "int"], "random-output-len": ["randomOutputLen", "int"], "random-range-ratio": ["randomRangeRatio", "float"],
  "random-prefix-len": ["randomPrefixLen", "int"], "max-concurrency": ["maxConcurrency", "int"], "client-think-time-ms": ["clientThinkTimeMs", "float"],
  "num-sessions": ["numSessions", "int"], "session-turns": ["sessionTurns", "string"], "session-think-time-ms": ["sessionThinkTimeMs", "float"],
  "session-system-prompt-len": ["sessionSystemPromptLen", "int"], "session-system-prompts": ["sessionSystemPrompts", "int"], "shared-prefix": ["sharedPrefix", "string"]
}

/**
 * KV-cache capacity of one instance, as vLLM sizes it at start-up:
 *   kv_bytes = device_memory x gpu_memory_utilization - weights - activation reserve
 *   num_gpu_blocks = floor(kv_bytes / (block_size x kv_bytes_per_token))
 * unless `--num-gpu-blocks-override` is given (vLLM `num_gpu_blocks_override`).
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { NoKvMemory } from "../domain/errors.js"
import { type Hardware, usableMemoryBytes } from "../domain/Hardware.js"
import { expertParameterCount, kvBytesPerToken, type ModelShape, parameterCount } from "../domain/Model.js"

/**
 * Fixed memory the runtime takes outside the model's tensors: CUDA context, cuBLAS/NCCL workspaces,
 * CUDA graphs. 640 MiB reproduces the 2,588 blocks vLLM 0.19 measured for Llama-3.1-8B on an
 * RTX 4090 (../shared/reference/llmservingsim-bench/RTX4090/Llama-3.1-8B/vllm/meta.json) together
 * with the activation estimate below; it is a fit to that one run, not a datasheet figure.
 */
export const RUNTIME_OVERHEAD_BYTES = 640 * 2 ** 20

export interface KvCapacity {
  readonly numBlocks: number
  readonly blockSize: number
  /** Bytes of one block on one GPU. */
  readonly blockBytes: number
  readonly kvBytesPerToken: number
  readonly weightBytes: number
  readonly activationReserveBytes: number
  readonly usableBytes: number
  /** True when `--num-gpu-blocks-override` set the block count. */
  readonly overridden: boolean
}

/**
 * Model weights resident on one GPU, bytes: non-expert parameters x dtype bytes / TP, plus expert
 * parameters x dtype bytes / their shard count: EP = DP x TP under `--enable-expert-parallel`
 * (each GPU holds E / EP whole experts), DP x TP without it when DP > 1 (vLLM flattens the MoE
 * layers' TP across DP ranks, fused_moe/config.py `flatten_tp_across_dp`), TP for one instance.
 * All experts are resident; the perf models count only the activated ones' work.
 */
export const weightBytesPerGpu = (m: ModelShape, e: EngineConfig): number => {
  const experts = expertParameterCount(m)
  const expertShards = e.dataParallelSize * e.tensorParallelSize // EP size, or the flattened TP
  return Math.ceil(((parameterCount(m) - experts) / e.tensorParallelSize + experts / expertShards) * e.weightDtypeBytes)
}

/**
 * Peak memory vLLM's profiling forward pass takes beyond the weights, bytes: activations of a
 * `max_num_batched_tokens` forward (residual, normed input, attention output, QKV, gate/up and
 * activation outputs at 16 bit, per GPU) plus the sampler's fp32 logits and probabilities for
 * `max_num_seqs` sequences, plus RUNTIME_OVERHEAD_BYTES.
 */
export const activationReserveBytes = (m: ModelShape, e: EngineConfig): number => {
  const tp = e.tensorParallelSize
  const ffn = m.moe === null ? m.intermediate : Math.max(m.intermediate, m.moe.expertIntermediate * m.moe.topK)
  const perToken = 6 * m.hidden + ((m.heads + 2 * m.kvHeads) * m.headDim + 3 * ffn) / tp
  const activations = e.maxNumBatchedTokens * perToken * 2
  const sampler = e.maxNumSeqs * m.vocab * 4 * 2
  return Math.ceil(activations + sampler + RUNTIME_OVERHEAD_BYTES)
}

/**
 * Capacity in blocks. Fails with NoKvMemory when weights and reserve leave no room for one block.
 */
export const kvCapacity = (m: ModelShape, hw: Hardware, e: EngineConfig): KvCapacity | NoKvMemory => {
  const perToken = kvBytesPerToken(m, e.kvCacheDtypeBytes) / e.tensorParallelSize
  const blockBytes = perToken * e.blockSize
  const usableBytes = usableMemoryBytes(hw) * e.gpuMemoryUtilization
  const weightBytes = weightBytesPerGpu(m, e)
  const reserve = activationReserveBytes(m, e)
  const base = { blockSize: e.blockSize, blockBytes, kvBytesPerToken: perToken, weightBytes, activationReserveBytes: reserve, usableBytes }
  if (e.numGpuBlocksOverride !== null) return { ...base, numBlocks: e.numGpuBlocksOverride, overridden: true }
  const numBlocks = Math.floor((usableBytes - weightBytes - reserve) / blockBytes)
  if (numBlocks < 1) {
    const gb = (b: number) => (b / 1e9).toFixed(2)
    return new NoKvMemory({
      reason: `no memory left for the KV cache on ${hw.name}: ${gb(usableBytes)} GB usable ` +
        `(${gb(usableMemoryBytes(hw))} GB x --gpu-memory-utilization ${e.gpuMemoryUtilization}) - ` +
        `${gb(weightBytes)} GB weights of ${m.id} - ${gb(reserve)} GB activation reserve = ` +
        `${gb(usableBytes - weightBytes - reserve)} GB; use a larger GPU, a higher --gpu-memory-utilization, ` +
        `--tensor-parallel-size, or --num-gpu-blocks-override`
    })
  }
  return { ...base, numBlocks, overridden: false }
}

/**
 * KV-cache capacity of one instance, as vLLM sizes it at start-up:
 *   kv_bytes = device_memory x gpu_memory_utilization - weights - activation reserve
 *   num_gpu_blocks = floor(kv_bytes / (block_size x kv_bytes_per_token))
 * unless `--num-gpu-blocks-override` is given (vLLM `num_gpu_blocks_override`).
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { NoKvMemory } from "../domain/errors.js"
import { type Hardware, usableMemoryBytes } from "../domain/Hardware.js"
import { attnParams, denseMlpParams, expertParameterCount, kvBytesPerToken, kvHeadsPerGpu, moeParams, type ModelShape, parameterCount } from "../domain/Model.js"
import { stageLayers } from "../cluster/pipeline.js"
import { loraSlotBytesPerGpu } from "../lora/adapterSize.js"

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
  /**
   * Under pipeline parallelism only: the stage whose GPUs fit the fewest blocks (0-based), which
   * sets `numBlocks` (vLLM takes the minimum over workers); the per-GPU fields above are its.
   */
  readonly limitingStage?: number
}

/**
 * Model weights resident on one GPU, bytes: non-expert parameters x dtype bytes / TP, plus expert
 * parameters x dtype bytes / their shard count: EP = DP x TP under `--enable-expert-parallel`
 * (each GPU holds E / EP whole experts), DP x TP without it when DP > 1 (vLLM flattens the MoE
 * layers' TP across DP ranks, fused_moe/config.py `flatten_tp_across_dp`), TP for one instance.
 * All experts are resident; the perf models count only the activated ones' work. With
 * `--enable-lora`, the LoRA slots vLLM preallocates (lora/adapterSize.ts) count as weights.
 */
export const weightBytesPerGpu = (m: ModelShape, e: EngineConfig): number => {
  const experts = expertParameterCount(m)
  const expertShards = e.dataParallelSize * e.tensorParallelSize // EP size, or the flattened TP
  const lora = e.lora === undefined ? 0 : loraSlotBytesPerGpu(m, e.lora.maxLoras, e.lora.maxLoraRank, e.tensorParallelSize, 2)
  return Math.ceil(((parameterCount(m) - experts) / e.tensorParallelSize + experts / expertShards) * e.weightDtypeBytes) + lora
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
 * Weights on one GPU of pipeline stage `stage` (of `e.pipelineParallelSize`), bytes: the stage's
 * decoder layers (vLLM's split, cluster/pipeline.ts; MoE layers in proportion) plus the input
 * embedding on the first stage and the final norm and LM head on the last (vLLM loads an LM head
 * there even when tied, since the embedding lives on another GPU), divided by TP (vocab-parallel
 * embedding and LM head, sharded layers).
 */
export const stageWeightBytesPerGpu = (m: ModelShape, e: EngineConfig, stage: number): number => {
  const pp = e.pipelineParallelSize
  const n = stageLayers(m.layers, pp)[stage]!
  const nMoe = (m.moe?.moeLayers ?? 0) * n / m.layers
  const layerParams = n * (attnParams(m) + 2 * m.hidden) + (n - nMoe) * denseMlpParams(m) + nMoe * moeParams(m)
  const embed = m.vocab * m.hidden
  const params = layerParams + (stage === 0 ? embed : 0) + (stage === pp - 1 ? embed + m.hidden : 0)
  return Math.ceil(params * e.weightDtypeBytes / e.tensorParallelSize)
}

/**
 * KV bytes of one token on one GPU: the model's (kvBytesPerToken) for the KV heads one GPU holds,
 * max(1, kv_heads / TP) (vLLM replicates KV heads once TP exceeds them).
 */
export const kvBytesPerTokenPerGpu = (m: ModelShape, e: EngineConfig): number =>
  kvBytesPerToken(m, e.kvCacheDtypeBytes) * kvHeadsPerGpu(m, e.tensorParallelSize) / m.kvHeads

/**
 * Capacity in blocks. Fails with NoKvMemory when weights and reserve leave no room for one block.
 * Under pipeline parallelism each GPU holds only its stage's layers and their KV (per-token bytes
 * count the stage's layers), and the block count is the minimum over the stages, as vLLM's
 * `determine_num_available_blocks` takes the minimum over workers. The activation reserve is the
 * same on every stage (a simplification: the sampler's logits are only on the last).
 * `pimCapacityBytes` (`--pim-config`'s capacityGB x 1e9): the KV cache lives on the PIM device
 * instead (see pimKvCapacity).
 */
export const kvCapacity = (m: ModelShape, hw: Hardware, e: EngineConfig, pimCapacityBytes?: number): KvCapacity | NoKvMemory => {
  const pp = e.pipelineParallelSize
  if (pimCapacityBytes !== undefined) return pimKvCapacity(m, e, pimCapacityBytes)
  if (pp > 1) return pipelineKvCapacity(m, hw, e, pp)
  const perToken = kvBytesPerTokenPerGpu(m, e)
  const blockBytes = perToken * e.blockSize
  const usableBytes = usableMemoryBytes(hw) * e.gpuMemoryUtilization
  const weightBytes = weightBytesPerGpu(m, e)
  const reserve = activationReserveBytes(m, e)
  const base = { blockSize: e.blockSize, blockBytes, kvBytesPerToken: perToken, weightBytes, activationReserveBytes: reserve, usableBytes }
  if (e.numGpuBlocksOverride !== null) return { ...base, numBlocks: e.numGpuBlocksOverride, overridden: true }
  const numBlocks = Math.floor((usableBytes - weightBytes - reserve) / blockBytes)
  if (numBlocks < 1) {
    const gb = (b: number) => (b / 1e9).toFixed(2)
    const loraBytes = e.lora === undefined ? 0 : loraSlotBytesPerGpu(m, e.lora.maxLoras, e.lora.maxLoraRank, e.tensorParallelSize, 2)
    return new NoKvMemory({
      reason: `no memory left for the KV cache on ${hw.name}: ${gb(usableBytes)} GB usable ` +
        `(${gb(usableMemoryBytes(hw))} GB x --gpu-memory-utilization ${e.gpuMemoryUtilization}) - ` +
        `${gb(weightBytes - loraBytes)} GB weights of ${m.id} - ${loraBytes > 0 ? `${gb(loraBytes)} GB LoRA slots (--max-loras ${e.lora!.maxLoras} x --max-lora-rank ${e.lora!.maxLoraRank}) - ` : ""}${gb(reserve)} GB activation reserve = ` +
        `${gb(usableBytes - weightBytes - reserve)} GB; use a larger GPU, a higher --gpu-memory-utilization, ` +
        `--tensor-parallel-size, ${loraBytes > 0 ? "fewer --max-loras or a lower --max-lora-rank, " : ""}or --num-gpu-blocks-override`
    })
  }
  return { ...base, numBlocks, overridden: false }
}

/**
 * With `--pim-config` the KV cache lives on the PIM device next to each GPU (LLMServingSim 2.0's
 * attention offloading): floor(device capacity / block bytes) blocks, whatever the GPU's memory
 * (`--num-gpu-blocks-override` still wins). The GPU still has to hold the weights: NoKvMemory when
 * weights and activation reserve exceed its usable memory is not checked here (resolve.ts).
 */
const pimKvCapacity = (m: ModelShape, e: EngineConfig, capacityBytes: number): KvCapacity | NoKvMemory => {
  const perToken = kvBytesPerTokenPerGpu(m, e)
  const blockBytes = perToken * e.blockSize
  const base = { blockSize: e.blockSize, blockBytes, kvBytesPerToken: perToken, weightBytes: weightBytesPerGpu(m, e), activationReserveBytes: activationReserveBytes(m, e), usableBytes: capacityBytes }
  if (e.numGpuBlocksOverride !== null) return { ...base, numBlocks: e.numGpuBlocksOverride, overridden: true }
  const numBlocks = Math.floor(capacityBytes / blockBytes)
  if (numBlocks < 1) return new NoKvMemory({ reason: `the PIM device's ${(capacityBytes / 1e9).toFixed(3)} GB (--pim-config capacityGB) hold no KV block of ${blockBytes} bytes` })
  return { ...base, numBlocks, overridden: false }
}

const pipelineKvCapacity = (m: ModelShape, hw: Hardware, e: EngineConfig, pp: number): KvCapacity | NoKvMemory => {
  const layers = stageLayers(m.layers, pp)
  let best: KvCapacity | undefined
  for (let s = 0; s < pp; s++) {
    const stage: ModelShape = { ...m, layers: layers[s]! }
    const perToken = kvBytesPerTokenPerGpu(stage, e)
    const blockBytes = perToken * e.blockSize
    const usableBytes = usableMemoryBytes(hw) * e.gpuMemoryUtilization
    const weightBytes = stageWeightBytesPerGpu(m, e, s)
    const reserve = activationReserveBytes(m, e)
    const base = { blockSize: e.blockSize, blockBytes, kvBytesPerToken: perToken, weightBytes, activationReserveBytes: reserve, usableBytes, limitingStage: s }
    if (e.numGpuBlocksOverride !== null) return { ...base, numBlocks: e.numGpuBlocksOverride, overridden: true }
    const numBlocks = Math.floor((usableBytes - weightBytes - reserve) / blockBytes)
    if (numBlocks < 1) {
      const gb = (b: number) => (b / 1e9).toFixed(2)
      return new NoKvMemory({
        reason: `no memory left for the KV cache on ${hw.name} in pipeline stage ${s} of ${pp}: ${gb(usableBytes)} GB usable ` +
          `(${gb(usableMemoryBytes(hw))} GB x --gpu-memory-utilization ${e.gpuMemoryUtilization}) - ` +
          `${gb(weightBytes)} GB weights of ${layers[s]} layers of ${m.id} - ${gb(reserve)} GB activation reserve = ` +
          `${gb(usableBytes - weightBytes - reserve)} GB; use a larger GPU, a higher --gpu-memory-utilization, ` +
          `--tensor-parallel-size, --pipeline-parallel-size, or --num-gpu-blocks-override`
      })
    }
    if (best === undefined || numBlocks < best.numBlocks) best = { ...base, numBlocks, overridden: false }
  }
  return best!
}

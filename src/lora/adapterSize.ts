/**
 * Sizes of LoRA weights, in elements, for a dense decoder as vLLM wraps it: every linear layer of
 * every decoder layer carries LoRA (vllm/lora/layers: QKVParallelLinearWithLoRA with three slices
 * q, k, v; RowParallelLinearWithLoRA for o_proj and down_proj; MergedColumnParallelLinearWithLoRA
 * with two slices gate, up). Each slice of a module with input width `in` and output width `out`
 * has A (r x in) and B (out x r). Under tensor parallelism a column-parallel module (qkv, gate_up)
 * shards B's output rows and keeps A whole; a row-parallel module (o, down) shards A's input
 * columns and keeps B whole (vLLM's LoRA layers follow the base layer's sharding).
 * Embeddings and the LM head carry no LoRA (vLLM's default without extra vocabulary).
 */
import type { ModelShape } from "../domain/Model.js"

/** LoRA weight elements of one decoder layer per unit of rank: per GPU at TP `tp` (tp = 1: the whole adapter). */
export const loraElementsPerLayerPerRank = (m: ModelShape, tp: number): number => {
  const h = m.hidden
  const q = m.heads * m.headDim
  const kv = m.kvHeads * m.headDim
  const slices = m.gatedMlp ? 2 : 1
  const qkv = 3 * h + (q + 2 * kv) / tp // A of q, k, v whole; B sharded
  const o = q / tp + h // A sharded; B whole
  const gateUp = slices * h + (slices * m.intermediate) / tp
  const down = m.intermediate / tp + h
  return qkv + o + gateUp + down
}

/** Bytes of one adapter of rank `rank` on one GPU at TP `tp` (tp = 1: the whole adapter as stored), at `dtypeBytes` per element. */
export const adapterBytes = (m: ModelShape, rank: number, tp: number, dtypeBytes: number): number =>
  Math.ceil(m.layers * rank * loraElementsPerLayerPerRank(m, tp) * dtypeBytes)

/**
 * GPU memory vLLM preallocates for LoRA on each GPU, bytes: `max_loras` slots, each sized for
 * `max_lora_rank` on every wrapped layer (LoRAModelManager's stacked lora_a / lora_b buffers, in the
 * model's dtype), taken before the KV cache is sized.
 */
export const loraSlotBytesPerGpu = (m: ModelShape, maxLoras: number, maxLoraRank: number, tp: number, dtypeBytes: number): number =>
  maxLoras * adapterBytes(m, maxLoraRank, tp, dtypeBytes)

/** Punica kernels per decoder layer: one shrink (x·A) and one expand (·B) per wrapped module (qkv, o, gate_up, down). */
export const LORA_KERNELS_PER_LAYER = 8

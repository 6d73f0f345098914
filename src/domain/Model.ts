/**
 * Model architecture: the subset of a Hugging Face `config.json` the simulator reads, and the
 * shapes derived from it (GQA, head_dim, gated MLP, MoE, tied embeddings). Field names and
 * defaults follow `transformers` (LlamaConfig, Qwen3Config, Qwen3MoeConfig, MixtralConfig, OPTConfig).
 */
import { Schema } from "effect"

/** The fields of a Hugging Face `config.json` that shape compute and memory; others are ignored. */
export const HfConfig = Schema.Struct({
  _name_or_path: Schema.optional(Schema.String),
  model_type: Schema.String,
  hidden_size: Schema.Int.pipe(Schema.positive()),
  num_hidden_layers: Schema.Int.pipe(Schema.positive()),
  num_attention_heads: Schema.Int.pipe(Schema.positive()),
  num_key_value_heads: Schema.optional(Schema.Int.pipe(Schema.positive())),
  head_dim: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.positive()))),
  intermediate_size: Schema.optional(Schema.Int.pipe(Schema.positive())),
  ffn_dim: Schema.optional(Schema.Int.pipe(Schema.positive())),
  vocab_size: Schema.Int.pipe(Schema.positive()),
  max_position_embeddings: Schema.optional(Schema.Int.pipe(Schema.positive())),
  tie_word_embeddings: Schema.optional(Schema.Boolean),
  torch_dtype: Schema.optional(Schema.String),
  dtype: Schema.optional(Schema.String),
  hidden_act: Schema.optional(Schema.String),
  activation_function: Schema.optional(Schema.String),
  // MoE (Mixtral: num_local_experts; Qwen3-MoE / Qwen2-MoE: num_experts, moe_intermediate_size)
  num_local_experts: Schema.optional(Schema.Int.pipe(Schema.positive())),
  num_experts: Schema.optional(Schema.Int.pipe(Schema.positive())),
  num_experts_per_tok: Schema.optional(Schema.Int.pipe(Schema.positive())),
  moe_intermediate_size: Schema.optional(Schema.Int.pipe(Schema.positive())),
  decoder_sparse_step: Schema.optional(Schema.Int.pipe(Schema.positive())),
  mlp_only_layers: Schema.optional(Schema.Array(Schema.Int))
})
export type HfConfig = typeof HfConfig.Type

/** Mixture-of-experts shape of the MoE layers. */
export interface MoeShape {
  readonly experts: number
  readonly topK: number
  /** FFN width of one expert. */
  readonly expertIntermediate: number
  /** How many of the decoder layers are MoE (the rest are dense). */
  readonly moeLayers: number
}

/** Derived model shape; all sizes in elements (multiply by dtype bytes for bytes). */
export interface ModelShape {
  /**
   * How outputs name the model: a bundled id, or for a config.json given by path the path
   * (`<_name_or_path> (from PATH)` when the file names its origin), so an edited copy is never
   * reported as the original.
   */
  readonly id: string
  /**
   * The model's catalogue name, used to find its measured profiles: the bundled id, a config's
   * `_name_or_path`, or else the path.
   */
  readonly name: string
  /** The `--model` path when the config was read from one (vLLM serves it under that name), else null. */
  readonly path: string | null
  readonly modelType: string
  readonly hidden: number
  readonly layers: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  /** Dense FFN width (OPT: ffn_dim). */
  readonly intermediate: number
  readonly vocab: number
  readonly maxPositions: number
  /** SwiGLU-style gate+up+down (Llama, Qwen, Mistral) versus fc1/fc2 (OPT, GPT-2). */
  readonly gatedMlp: boolean
  readonly tiedEmbeddings: boolean
  readonly moe: MoeShape | null
  /** Bytes per weight element of the checkpoint dtype (bf16/fp16: 2). */
  readonly dtypeBytes: number
  readonly dtype: string
}

const dtypeBytesOf = (dtype: string): number => {
  switch (dtype.toLowerCase()) {
    case "float32": case "fp32": return 4
    case "float8": case "fp8": case "float8_e4m3fn": case "int8": return 1
    default: return 2
  }
}

/** Model types whose MLP is not gated (fc1 -> act -> fc2). */
const UNGATED = new Set(["opt", "gpt2", "gpt_neox", "gptj", "bloom", "falcon", "phi", "starcoder2", "gpt_bigcode"])
/** Model types that tie the LM head to the input embedding unless the config says otherwise. */
const TIED_BY_DEFAULT = new Set(["opt", "gpt2", "bloom", "gptj"])

/**
 * Derive the shape from a decoded config. `id` names the model in outputs, `name` in profile
 * lookups (default: `id`); `path` is the `--model` path it was read from, if any.
 */
export const shapeOf = (id: string, c: HfConfig, name: string = id, path: string | null = null): ModelShape => {
  const experts = c.num_local_experts ?? c.num_experts
  const headDim = c.head_dim ?? Math.floor(c.hidden_size / c.num_attention_heads)
  const intermediate = c.intermediate_size ?? c.ffn_dim ?? 4 * c.hidden_size
  const dtype = c.torch_dtype ?? c.dtype ?? "bfloat16"
  let moe: MoeShape | null = null
  if (experts !== undefined && experts > 1) {
    const step = c.decoder_sparse_step ?? 1
    const only = new Set(c.mlp_only_layers ?? [])
    let moeLayers = 0
    for (let i = 0; i < c.num_hidden_layers; i++) if (!only.has(i) && (i + 1) % step === 0) moeLayers++
    moe = {
      experts,
      topK: c.num_experts_per_tok ?? 2,
      expertIntermediate: c.moe_intermediate_size ?? intermediate,
      moeLayers
    }
  }
  return {
    id,
    name,
    path,
    modelType: c.model_type,
    hidden: c.hidden_size,
    layers: c.num_hidden_layers,
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads ?? c.num_attention_heads,
    headDim,
    intermediate,
    vocab: c.vocab_size,
    maxPositions: c.max_position_embeddings ?? 4096,
    gatedMlp: !UNGATED.has(c.model_type),
    tiedEmbeddings: c.tie_word_embeddings ?? TIED_BY_DEFAULT.has(c.model_type),
    moe,
    dtypeBytes: dtypeBytesOf(dtype),
    dtype
  }
}

/**
 * KV-cache bytes per token: 2 (K and V) x layers x kv_heads x head_dim x bytes per element
 * (vLLM's `get_kv_cache_spec`; e.g. 131,072 for Llama-3.1-8B at 16 bit).
 */
export const kvBytesPerToken = (m: ModelShape, kvDtypeBytes: number): number =>
  2 * m.layers * m.kvHeads * m.headDim * kvDtypeBytes

/**
 * KV heads each GPU holds under tensor parallelism `tp`: kv_heads / tp, and at least one: once TP
 * exceeds the KV heads vLLM replicates them (`get_num_kv_heads`: max(1, total // tp)).
 */
export const kvHeadsPerGpu = (m: ModelShape, tp: number): number => Math.max(1, m.kvHeads / tp)

/** Per-layer attention projection parameters (q, k, v, o), in elements. */
export const attnParams = (m: ModelShape): number =>
  m.hidden * (m.heads + 2 * m.kvHeads) * m.headDim + m.heads * m.headDim * m.hidden

/** Parameters of one dense MLP, in elements. */
export const denseMlpParams = (m: ModelShape): number => (m.gatedMlp ? 3 : 2) * m.hidden * m.intermediate

/** Parameters of one MoE layer's experts plus router, in elements. */
export const moeParams = (m: ModelShape): number =>
  m.moe === null ? 0 : m.moe.experts * 3 * m.hidden * m.moe.expertIntermediate + m.hidden * m.moe.experts

/**
 * Total parameter count (elements): embeddings, per-layer attention, MLP or MoE and norms, final
 * norm, and the LM head unless tied. Biases are ignored (under 0.1% for the bundled models).
 */
export const parameterCount = (m: ModelShape): number => {
  const denseLayers = m.layers - (m.moe?.moeLayers ?? 0)
  const norms = 2 * m.hidden
  const perLayer = attnParams(m) + norms
  return m.vocab * m.hidden * (m.tiedEmbeddings ? 1 : 2) + m.hidden +
    m.layers * perLayer + denseLayers * denseMlpParams(m) + (m.moe?.moeLayers ?? 0) * moeParams(m)
}

/**
 * Parameters of all experts of all MoE layers (gate, up and down of each expert), in elements; the
 * rest of parameterCount (attention, dense MLPs, routers, norms, embeddings) is non-expert.
 */
export const expertParameterCount = (m: ModelShape): number =>
  m.moe === null ? 0 : m.moe.moeLayers * m.moe.experts * 3 * m.hidden * m.moe.expertIntermediate

/** Parameters touched per token: only top-k experts of MoE layers count. */
export const activeParameterCount = (m: ModelShape): number => {
  if (m.moe === null) return parameterCount(m)
  const all = parameterCount(m)
  const inactive = m.moe.moeLayers * (m.moe.experts - m.moe.topK) * 3 * m.hidden * m.moe.expertIntermediate
  return all - inactive
}

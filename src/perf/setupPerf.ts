/**
 * Perf tables written from the per-operator roofline (datasheet or calibrated), for users of the
 * original simulator and for our own profile layer:
 *  - LLMServingSim v1 layout `perf_model/<HW>.csv`: `hardware,model,layer_name,input,kv_cache,latency(ns)`
 *    with v1's layer names and rows: every layer at (input = 1..maxTokens, kv_cache = 0); attn and
 *    rope also at (input = 1, kv_cache = 1..maxKv-1) (the decode keys v1 looks up). Gated models use
 *    the Llama names (q/k/v_proj, gate/up_proj), others the OPT path's (qk_matmul, softmax,
 *    sv_matmul, fc1, fc2). Fused kernels are split so that the parts sum to the fused cost: q/k/v by
 *    output width, gate/up in halves, attention 45/10/45 into qk_matmul/softmax/sv_matmul.
 *  - our format = the LLMServingSim 2.0 bundle layout `perf/<HW>/<model>/<variant>/{meta.yaml,
 *    tp1/dense.csv, per_sequence.csv, attention.csv}` (time_us with ns resolution), on grids
 *    that cover every integer token count up to 2,048 and every sequence count up to 256.
 * Deterministic: no timestamps, fixed grids, fixed number formatting.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { Hardware } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import { attnArgsOf, LAYER_TOKEN_OPS, makeAttnArgs, type OpCosts, type OpParams, STEP_SEQ_OPS, STEP_TOKEN_OPS } from "./opModel.js"

const range = (a: number, b: number, step = 1) => {
  const out: Array<number> = []
  for (let x = a; x <= b; x += step) out.push(x)
  return out
}
const doubling = (a: number, b: number) => {
  const out: Array<number> = []
  for (let x = a; x <= b; x *= 2) out.push(x)
  return out
}

export const DENSE_TOKENS = [...range(1, 2048), 4096, 8192, 16384]
export const SEQUENCES = [...range(1, 256), 512, 1024]
export const ATTN_PC = [0, ...doubling(16, 8192)]
export const ATTN_KV = [0, ...doubling(16, 131072)]
export const ATTN_ND = [0, ...doubling(1, 1024)]

const us = (ns: number) => (ns / 1000).toFixed(3)

/** `dense.csv`, `per_sequence.csv`, `attention.csv` of one bundle. */
export const bundleCsvs = (c: OpCosts): { dense: string; perSequence: string; attention: string } => {
  const dense: Array<string> = ["layer,tokens,time_us"]
  for (const op of LAYER_TOKEN_OPS) for (const t of DENSE_TOKENS) dense.push(`${op},${t},${us(c.layer[op](t))}`)
  for (const op of STEP_TOKEN_OPS) for (const t of DENSE_TOKENS) dense.push(`${op},${t},${us(c.step[op](t))}`)
  const seq: Array<string> = ["layer,sequences,time_us"]
  for (const op of STEP_SEQ_OPS) for (const s of SEQUENCES) seq.push(`${op},${s},${us(c.seq[op](s))}`)
  const attn: Array<string> = ["prefill_chunk,kv_prefill,n_decode,kv_decode,time_us"]
  const a = makeAttnArgs()
  for (const pc of ATTN_PC) for (const kp of pc === 0 ? [0] : ATTN_KV) for (const nd of ATTN_ND) for (const kd of nd === 0 ? [0] : ATTN_KV.slice(1)) {
    if (pc + nd === 0) continue
    attn.push(`${pc},${kp},${nd},${kd},${us(c.attention(attnArgsOf(a, pc, kp, nd, kd)))}`)
  }
  return { dense: dense.join("\n") + "\n", perSequence: seq.join("\n") + "\n", attention: attn.join("\n") + "\n" }
}

export const bundleMeta = (m: ModelShape, hw: Hardware, e: EngineConfig, variant: string, perfModel: string, p: OpParams): string => [
  "generator: llmservingsim-ts setup-perf",
  `perf_model: ${JSON.stringify(perfModel)}`,
  `gpu: ${JSON.stringify(hw.fullName)}`,
  `hardware: ${hw.name}`,
  `model: ${m.name}`,
  `variant: ${variant}`,
  "tp_degrees: [1]",
  "engine_effective:",
  `  tensor_parallel_size: ${e.tensorParallelSize}`,
  "  hf_overrides:",
  `    hidden_size: ${m.hidden}`,
  `    intermediate_size: ${m.intermediate}`,
  `    num_attention_heads: ${m.heads}`,
  `    num_key_value_heads: ${m.kvHeads}`,
  `    vocab_size: ${m.vocab}`,
  "params:",
  ...Object.entries(p).map(([k, v]) => `  ${k}: ${v as number}`),
  "attention_grid:",
  `  chunks: ${ATTN_PC.join(", ")}`,
  `  n_decode: ${ATTN_ND.join(", ")}`,
  `  kv: ${ATTN_KV.join(", ")}`,
  ""
].join("\n")

/** v1 rows of one model (no header). */
export const v1Rows = (c: OpCosts, m: ModelShape, hwName: string, maxTokens = 2048, maxKv = 2048): string => {
  const out: Array<string> = []
  const pre = `${hwName},${m.name},`
  const row = (layer: string, input: number, kv: number, ns: number) => out.push(`${pre}${layer},${input},${kv},${Math.round(ns)}`)
  const a = makeAttnArgs()
  const gated = m.gatedMlp
  const qkvW = m.heads + 2 * m.kvHeads
  const toks = range(1, maxTokens)
  const dense = (layer: string, f: (t: number) => number) => {
    for (const t of toks) row(layer, t, 0, f(t))
  }
  const attnPre = (t: number) => c.attention(attnArgsOf(a, t, 0, 0, 0))
  const attnDec = (kv: number) => c.attention(attnArgsOf(a, 0, 0, 1, kv))
  dense("embedding", c.step.embedding)
  dense("input_layernorm", c.layer.layernorm)
  dense("q_proj", (t) => c.layer.qkv_proj(t) * m.heads / qkvW)
  dense("k_proj", (t) => c.layer.qkv_proj(t) * m.kvHeads / qkvW)
  dense("v_proj", (t) => c.layer.qkv_proj(t) * m.kvHeads / qkvW)
  const decRows = (layer: string, f: (kv: number) => number) => {
    for (let kv = 1; kv < maxKv; kv++) row(layer, 1, kv, f(kv))
  }
  dense("rope", c.layer.rotary_emb)
  decRows("rope", () => c.layer.rotary_emb(1))
  if (gated) {
    dense("attn", attnPre)
    decRows("attn", attnDec)
  } else {
    for (const [name, share] of [["qk_matmul", 0.45], ["softmax", 0.1], ["sv_matmul", 0.45]] as const) {
      dense(name, (t) => share * attnPre(t))
      decRows(name, (kv) => share * attnDec(kv))
    }
  }
  dense("o_proj", c.layer.o_proj)
  dense("post_layernorm", c.layer.layernorm)
  if (gated) {
    dense("gate_proj", (t) => c.layer.gate_up_proj(t) / 2)
    dense("up_proj", (t) => c.layer.gate_up_proj(t) / 2)
  } else dense("fc1", c.layer.gate_up_proj)
  dense("act_fn", c.layer.act_fn)
  dense(gated ? "down_proj" : "fc2", c.layer.down_proj)
  dense("final_layernorm", c.step.final_layernorm)
  dense("lm_head", c.seq.lm_head)
  dense("sampler", c.seq.sampler)
  return out.join("\n") + "\n"
}

export const V1_HEADER = "hardware,model,layer_name,input,kv_cache,latency(ns)\n"

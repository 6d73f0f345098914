/**
 * Per-operator step-time model: the decoder layer split into the kernels vLLM launches, each
 * priced on its own so that measured profiles can replace any subset of them, calibration can fit
 * the efficiencies kernel class by kernel class, and `setup-perf` can write per-layer tables.
 *
 * Kernels (names as in LLMServingSim 2.0 profiles; T = tokens in the step, S = sequences):
 *   per decoder layer: layernorm (x2, fused add+RMSNorm), qkv_proj, rotary_emb, attention,
 *     o_proj, gate_up_proj, act_fn, down_proj (OPT: fc1 / fc2 in the last three slots; MoE
 *     layers: router + experts instead)
 *   once per step: embedding, final_layernorm (T); lm_head, sampler (S)
 * Element-wise kernels count one read and one write of their activations (RoPE and the
 * embedding gather one pass: measured RTX 4090 norms run at ~2x DRAM bandwidth from L2).
 * Each kernel costs  combine(FLOPs / (peak x compute eff), bytes / (bandwidth x memory eff))
 * + kernel overhead, where combine is max (a pure roofline) or, when `smoothing` p is finite,
 * the p-norm (c^p + m^p)^(1/p), which rounds the roofline's corner as measured kernels do.
 * The step adds 2 all-reduces per layer under TP and a fixed per-step overhead.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { type Hardware, peakFlops } from "../domain/Hardware.js"
import { kvHeadsPerGpu, type ModelShape } from "../domain/Model.js"
import { defaultRooflineParams, GEMM_ROOFLINE_SMOOTHING } from "../domain/PerfParams.js"
import type { Network } from "../domain/Network.js"
import type { BatchShape } from "./BatchShape.js"
import type { PerfModel } from "./PerfModelService.js"
import { type MoeTraffic, moeTraffic } from "./moeTraffic.js"
import { moeCommNs, moeParallelOf } from "./expertParallel.js"

/** Fitted or datasheet parameters of the per-operator model. */
export interface OpParams {
  /** Fraction of dense tensor peak reached by GEMMs. */
  readonly gemmComputeEff: number
  /** Fraction of peak bandwidth reached by GEMMs streaming weights (small T). */
  readonly gemmMemoryEff: number
  /** Fraction of dense tensor peak reached by prefill attention. */
  readonly attnComputeEff: number
  /** Fraction of peak bandwidth reached reading the KV cache. */
  readonly attnMemoryEff: number
  /** Fraction of peak bandwidth reached by element-wise kernels (norms, RoPE, activation, embedding, sampler). */
  readonly elementwiseMemoryEff: number
  /** Fixed time per kernel launch, ns. */
  readonly kernelOverheadNs: number
  /** Fixed time per engine step, ns (scheduler, input preparation; 0 with async scheduling hides it). */
  readonly stepOverheadNs: number
  /** p of the p-norm combining compute and memory time; >= 50 means max (pure roofline). */
  readonly smoothing: number
  /**
   * Batches that mix prefill chunks and decodes run one varlen attention kernel without split-KV:
   * fraction of bandwidth its KV reads reach (default: attnMemoryEff) ...
   */
  readonly attnMixedMemoryEff?: number | undefined
  /**
   * ... and the KV-read rate of one decoding sequence inside it, GB/s (0 = no limit): one
   * sequence of 16k cached tokens next to a 16-token chunk takes 520 us per layer on an RTX 4090
   * (~130 GB/s) against 57 us in a pure-decode step, so a mixed step's attention takes at least
   * mean-context bytes / this.
   */
  readonly attnSeqBandwidthGBs?: number | undefined
  /**
   * KV-read rate of one prefill chunk over its cached context, GB/s; 0 = no limit. A short chunk
   * over a long context has few query tiles to spread (16 queries over 4,096 cached tokens take
   * 175 us per layer on an RTX 4090, ~100 GB/s), so prefill attention takes at least
   * (context + chunk) KV bytes / this.
   */
  readonly attnPrefillBandwidthGBs?: number | undefined
}

/**
 * Datasheet defaults: the same documented starting points as the monolithic roofline, and its GEMM
 * smoothing p = 2 (GEMM_ROOFLINE_SMOOTHING), which here applies to every kernel (one `smoothing` per model).
 */
export const datasheetOpParams: OpParams = {
  gemmComputeEff: defaultRooflineParams.computeEfficiency,
  gemmMemoryEff: defaultRooflineParams.memoryEfficiency,
  attnComputeEff: defaultRooflineParams.attentionComputeEfficiency,
  attnMemoryEff: defaultRooflineParams.memoryEfficiency,
  elementwiseMemoryEff: defaultRooflineParams.memoryEfficiency,
  kernelOverheadNs: defaultRooflineParams.kernelOverheadNs,
  stepOverheadNs: defaultRooflineParams.stepOverheadNs,
  smoothing: GEMM_ROOFLINE_SMOOTHING
}

/** Canonical kernel names. */
export const LAYER_TOKEN_OPS = ["layernorm", "qkv_proj", "rotary_emb", "o_proj", "gate_up_proj", "act_fn", "down_proj"] as const
export const STEP_TOKEN_OPS = ["embedding", "final_layernorm"] as const
export const STEP_SEQ_OPS = ["lm_head", "sampler"] as const
export type LayerTokenOp = typeof LAYER_TOKEN_OPS[number]
export type StepTokenOp = typeof STEP_TOKEN_OPS[number]
export type StepSeqOp = typeof STEP_SEQ_OPS[number]
export type OpName = LayerTokenOp | StepTokenOp | StepSeqOp | "attention" | "moe"
/** How many times each per-layer kernel runs in one decoder layer. */
export const LAYER_OP_COUNT: Readonly<Record<LayerTokenOp, number>> = {
  layernorm: 2, qkv_proj: 1, rotary_emb: 1, o_proj: 1, gate_up_proj: 1, act_fn: 1, down_proj: 1
}

/**
 * Attention work of one step for one layer. `pc`/`kp` are the summed prefill chunk and prefill
 * context, `nd`/`kdSum` the decode count and summed decode context (the keys of LLMServingSim
 * 2.0 attention tables); `area` = sum c (ctx + (c+1)/2) and `kvRead` = sum (ctx + c) are exact
 * per-request sums when known (from a BatchShape), or derived from pc/kp for one prefill.
 */
export interface AttnArgs {
  pc: number
  kp: number
  nd: number
  kdSum: number
  area: number
  kvRead: number
}

export const makeAttnArgs = (): AttnArgs => ({ pc: 0, kp: 0, nd: 0, kdSum: 0, area: 0, kvRead: 0 })

/** Fill `a` for one prefill of `pc` tokens after `kp` cached plus `nd` decodes of mean context `kd`. */
export const attnArgsOf = (a: AttnArgs, pc: number, kp: number, nd: number, kd: number): AttnArgs => {
  a.pc = pc; a.kp = kp; a.nd = nd; a.kdSum = nd * kd
  a.area = pc * (kp + (pc + 1) / 2)
  a.kvRead = pc > 0 ? kp + pc : 0
  return a
}

/** Fill `a` from a batch. */
export const attnArgsFromBatch = (a: AttnArgs, b: BatchShape): AttnArgs => {
  let area = 0
  let kvRead = 0
  let kp = 0
  for (let i = 0; i < b.numPrefill; i++) {
    const c = b.prefillChunk[i]!
    const ctx = b.prefillContext[i]!
    area += c * (ctx + (c + 1) / 2)
    kvRead += ctx + c
    kp += ctx
  }
  a.pc = b.prefillTokens; a.kp = kp; a.nd = b.numDecode; a.kdSum = b.decodeContextSum
  a.area = area; a.kvRead = kvRead
  return a
}

/** Costs of single kernels, ns, without the per-step overhead. */
export interface OpCosts {
  /** Per decoder layer, T tokens. */
  readonly layer: Readonly<Record<LayerTokenOp, (T: number) => number>>
  /** One MoE layer's router + experts for T tokens on the busiest GPU (0 for dense models); collectives excluded. */
  readonly moe: (T: number) => number
  /** One layer's attention (incl. KV-cache write). */
  readonly attention: (a: AttnArgs) => number
  readonly step: Readonly<Record<StepTokenOp, (T: number) => number>>
  readonly seq: Readonly<Record<StepSeqOp, (S: number) => number>>
}

const ACT_BYTES = 2

/** Kernel costs from datasheet figures and `p`, for one GPU of a TP group. */
export const makeOpCosts = (m: ModelShape, hw: Hardware, e: EngineConfig, p: OpParams): OpCosts => {
  const tp = e.tensorParallelSize
  const wb = e.weightDtypeBytes
  const kvb = e.kvCacheDtypeBytes
  const peak = peakFlops(hw, wb) / 1e9 // FLOP/ns
  const bw = hw.memoryBandwidthGBs // bytes/ns
  const gC = peak * p.gemmComputeEff
  const gM = bw * p.gemmMemoryEff
  const aC = peak * p.attnComputeEff
  const aM = bw * p.attnMemoryEff
  const eM = bw * p.elementwiseMemoryEff
  const k0 = p.kernelOverheadNs
  const seqBw = p.attnSeqBandwidthGBs ?? 0
  const preBw = p.attnPrefillBandwidthGBs ?? 0
  const aMix = bw * (p.attnMixedMemoryEff ?? p.attnMemoryEff)
  const sm = p.smoothing
  const comb = sm >= 50
    ? (c: number, mm: number) => (c > mm ? c : mm)
    : (c: number, mm: number) => {
      const hi = c > mm ? c : mm
      if (hi === 0) return 0
      return hi * Math.pow(Math.pow(c / hi, sm) + Math.pow(mm / hi, sm), 1 / sm)
    }

  const h = m.hidden
  const qOut = m.heads * m.headDim / tp
  const qkvOut = (m.heads + 2 * m.kvHeads) * m.headDim / tp
  const ropeWidth = (m.heads + m.kvHeads) * m.headDim / tp
  const ffn = m.intermediate / tp
  const kvPerTokenLayer = 2 * kvHeadsPerGpu(m, tp) * m.headDim * kvb
  const attnCoef = 4 * (m.heads / tp) * m.headDim

  const gemm = (T: number, k: number, n: number): number =>
    comb(2 * T * k * n / gC, (k * n * wb + T * (k + n) * ACT_BYTES) / gM) + k0
  const elem = (bytes: number): number => bytes / eM + k0

  const traffic: MoeTraffic = { flops: 0, bytes: 0 }
  const moePar = moeParallelOf(m, e)
  const moeCost = (T: number): number => {
    if (!moeTraffic(m, T, moePar, wb, traffic)) return 0
    return gemm(T, h, m.moe!.experts) + comb(traffic.flops / gC, traffic.bytes / gM) + 3 * k0
  }

  return {
    layer: {
      layernorm: (T) => elem(2 * T * h * ACT_BYTES),
      qkv_proj: (T) => gemm(T, h, qkvOut),
      rotary_emb: (T) => elem(T * ropeWidth * ACT_BYTES),
      o_proj: (T) => gemm(T, qOut, h),
      gate_up_proj: (T) => m.gatedMlp ? gemm(T, h, 2 * ffn) : gemm(T, h, ffn),
      act_fn: (T) => elem(T * ffn * ACT_BYTES * (m.gatedMlp ? 3 : 2)),
      down_proj: (T) => gemm(T, ffn, h)
    },
    moe: moeCost,
    attention: (a) => {
      const T = a.pc + a.nd
      if (T === 0) return 0
      const flops = attnCoef * (a.area + a.kdSum)
      const bytes = (a.kvRead + a.kdSum + T) * kvPerTokenLayer + 2 * T * qOut * ACT_BYTES
      if (a.pc === 0) return comb(flops / aC, bytes / aM) + 2 * k0
      let mem = bytes / aMix
      if (seqBw > 0 && a.nd > 0) {
        const perSeq = (a.kdSum / a.nd) * kvPerTokenLayer / seqBw
        if (perSeq > mem) mem = perSeq
      }
      if (preBw > 0 && a.pc > 0) {
        const pre = a.kvRead * kvPerTokenLayer / preBw
        if (pre > mem) mem = pre
      }
      return comb(flops / aC, mem) + 2 * k0 // KV write + attention kernel
    },
    step: {
      embedding: (T) => elem(T * h * ACT_BYTES),
      final_layernorm: (T) => elem(2 * T * h * ACT_BYTES)
    },
    seq: {
      lm_head: (S) => gemm(S, h, m.vocab / tp),
      sampler: (S) => elem(3 * S * m.vocab * 4)
    }
  }
}

/**
 * A step-time model from kernel costs: layers x (per-layer kernels + attention) + per-step
 * kernels + 2 all-reduces per layer under TP + each MoE layer's DP/EP collectives (dispatch and
 * combine all-to-all under EP, perf/expertParallel.ts) + `stepOverheadNs`. Allocation-free per call.
 */
export const composeStep = (name: string, ops: OpCosts, m: ModelShape, e: EngineConfig, net: Network, stepOverheadNs: number): PerfModel => {
  const L = m.layers
  const moeLayers = m.moe?.moeLayers ?? 0
  const denseLayers = L - moeLayers
  const tp = e.tensorParallelSize
  const h = m.hidden
  const ly = ops.layer
  const { layernorm, qkv_proj, rotary_emb, o_proj, gate_up_proj, act_fn, down_proj } = ly
  const { embedding, final_layernorm } = ops.step
  const { lm_head, sampler } = ops.seq
  const attention = ops.attention
  const moe = ops.moe
  const a = makeAttnArgs()
  const moePar = moeParallelOf(m, e)
  // Kernel costs of the last token count T and sequence count S: a run of decode steps keeps both,
  // so only attention is priced anew (the sums below are the same expressions either way).
  let lastT = -1
  let lastS = -1
  let ln = 0, qkv = 0, rope = 0, o = 0, mlp = 0, moeT = 0, ar = 0, emb = 0, fin = 0, lm = 0, samp = 0
  const stepTimeNs = (b: BatchShape): number => {
    const T = b.prefillTokens + b.numDecode
    if (T === 0) return 0
    const S = b.numPrefill + b.numDecode
    if (T !== lastT) {
      ln = layernorm(T)
      qkv = qkv_proj(T)
      rope = rotary_emb(T)
      o = o_proj(T)
      mlp = gate_up_proj(T) + act_fn(T) + down_proj(T)
      moeT = moeLayers > 0 ? moe(T) + moeCommNs(m, moePar!, net, T) : 0
      ar = tp > 1 ? net.allReduceNs(T * h * ACT_BYTES, tp) : 0
      emb = embedding(T)
      fin = final_layernorm(T)
      lastT = T
    }
    if (S !== lastS) {
      lm = lm_head(S)
      samp = sampler(S)
      lastS = S
    }
    attnArgsFromBatch(a, b)
    const common = 2 * ln + qkv + rope + o + attention(a)
    let total = L * common + denseLayers * mlp + (moeLayers > 0 ? moeLayers * moeT : 0)
    if (tp > 1) total += 2 * L * ar
    total += emb + fin + lm + samp
    return Math.round(total + stepOverheadNs)
  }
  return { name, stepTimeNs, stepOverheadNs }
}

/** The per-operator roofline as a perf model. */
export const makeOpRoofline = (name: string, m: ModelShape, hw: Hardware, e: EngineConfig, p: OpParams, net: Network): PerfModel =>
  composeStep(name, makeOpCosts(m, hw, e, p), m, e, net, p.stepOverheadNs)

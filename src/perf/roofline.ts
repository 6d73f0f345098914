/**
 * Roofline step-time model (ARCHITECTURE.md, "Models of the physics"). For each kernel of a step:
 *   t = max(FLOPs / (peak x efficiency), bytes / (bandwidth x memory efficiency)) + kernel overhead
 * except that GEMMs combine the two as sqrt(c^2 + m^2) (GEMM_ROOFLINE_SMOOTHING, domain/PerfParams.ts:
 * measured GEMMs near the ridge point take up to sqrt(2) x the max),
 * summed over the decoder layers, plus embedding, final norm, LM head and sampler once per step,
 * plus a fixed per-step overhead, plus two all-reduces per layer under tensor parallelism.
 *
 * Per decoder layer (T = tokens in the step, S = sequences, shapes from the model config):
 *  - QKV projection  [h x (heads + 2 kv_heads) head_dim], O projection [heads head_dim x h]
 *  - MLP: gate+up [h x 2 ffn] and down [ffn x h] (gated), or fc1/fc2 (OPT); MoE: router plus the
 *    top-k experts, reading the weights of every expert some token routes to; under DP / EP the
 *    layout, imbalance and dispatch/combine collectives of perf/expertParallel.ts
 *  - attention as one FlashAttention-style kernel: prefill chunk c after p cached tokens costs
 *    4 heads head_dim c (p + (c+1)/2) FLOPs (causal QK^T and PV) and reads p + c tokens of K/V;
 *    a decode of context n costs 4 heads head_dim n FLOPs and reads n tokens of K/V; plus the KV write
 *  - element-wise kernels (2 norms with residual, RoPE, activation) as pure memory traffic
 * LM head computes logits for one position per sequence (vLLM's logits_indices).
 */
import type { Hardware } from "../domain/Hardware.js"
import { peakFlops } from "../domain/Hardware.js"
import type { EngineConfig } from "../domain/EngineConfig.js"
import { kvHeadsPerGpu, type ModelShape } from "../domain/Model.js"
import type { RooflineParams } from "../domain/PerfParams.js"
import type { Network } from "../domain/Network.js"
import type { BatchShape } from "./BatchShape.js"
import { moeCommNs, moeParallelOf } from "./expertParallel.js"
import { type MoeTraffic, moeTraffic } from "./moeTraffic.js"
import type { PerfModel, StepBreakdown } from "./PerfModelService.js"

/** Activation bytes per element (16-bit activations). */
const ACT_BYTES = 2
/** Kernels launched per decoder layer (QKV, RoPE, attention, O, 2 norms, gate/up, act, down, KV write). */
const KERNELS_PER_LAYER = 10
/** Kernels launched once per step (embedding, final norm, LM head, sampler). */
const KERNELS_PER_STEP = 4

/** A GEMM's time from its compute time c and memory time m (same unit): their 2-norm (GEMM_ROOFLINE_SMOOTHING = 2). */
const gemmTime = (c: number, m: number): number => Math.sqrt(c * c + m * m)

/** Options of the roofline. */
export interface RooflineOptions {
  /**
   * Leave decode attention out (it runs on a PIM device, perf/pim.ts): the attention kernel then
   * covers the prefill chunks only, and the decodes' KV is neither read nor written on the GPU.
   */
  readonly offloadDecodeAttention?: boolean
}

/** Build the roofline perf model for one instance. */
export const makeRoofline = (m: ModelShape, hw: Hardware, e: EngineConfig, p: RooflineParams, net: Network, opts: RooflineOptions = {}): PerfModel => {
  const offload = opts.offloadDecodeAttention === true
  const tp = e.tensorParallelSize
  const wb = e.weightDtypeBytes
  const kvb = e.kvCacheDtypeBytes
  const flopsPerNs = peakFlops(hw, wb) * p.computeEfficiency / 1e9
  const attnFlopsPerNs = peakFlops(hw, wb) * p.attentionComputeEfficiency / 1e9
  const bytesPerNs = hw.memoryBandwidthGBs * p.memoryEfficiency // GB/s = bytes/ns

  const h = m.hidden
  const qkvOut = (m.heads + 2 * m.kvHeads) * m.headDim / tp
  const oIn = m.heads * m.headDim / tp
  const ffn = m.intermediate / tp
  const kvPerTokenLayer = 2 * kvHeadsPerGpu(m, tp) * m.headDim * kvb // K and V bytes of one token in one layer
  const attnFlopsCoef = 4 * (m.heads / tp) * m.headDim
  const layers = m.layers
  const moeLayers = m.moe?.moeLayers ?? 0
  const denseLayers = layers - moeLayers

  /** One GEMM of T tokens through a [k x n] weight. */
  const gemm = (T: number, k: number, n: number): number => {
    const c = 2 * T * k * n / flopsPerNs
    const mem = (k * n * wb + T * (k + n) * ACT_BYTES) / bytesPerNs
    return gemmTime(c, mem)
  }
  const denseMlp = (T: number): number =>
    m.gatedMlp ? gemm(T, h, 2 * ffn) + gemm(T, ffn, h) : gemm(T, h, ffn) + gemm(T, ffn, h)

  const traffic: MoeTraffic = { flops: 0, bytes: 0 }
  const moePar = moeParallelOf(m, e)
  /** One MoE layer on the busiest GPU: router, local experts, and DP/EP token exchange (expertParallel.ts). */
  const moeMlp = (T: number): number => {
    if (!moeTraffic(m, T, moePar, wb, traffic)) return 0
    const c = traffic.flops / flopsPerNs
    const mem = traffic.bytes / bytesPerNs
    return gemm(T, h, m.moe!.experts) + gemmTime(c, mem) + moeCommNs(m, moePar!, net, T)
  }

  const lmHeadK = h
  const lmHeadN = m.vocab / tp
  const kernelNs = (layers * KERNELS_PER_LAYER + KERNELS_PER_STEP) * p.kernelOverheadNs

  /** Everything but attention: depends only on T tokens and S sequences (cached for the last pair). */
  let lastT = -1
  let lastS = -1
  let lastCost = 0
  const tokenCost = (T: number, S: number): number => {
    if (T === lastT && S === lastS) return lastCost
    const elementwise = T * ACT_BYTES * (6 * h + 2 * qkvOut + 3 * (m.gatedMlp ? ffn : ffn / 1.5)) / bytesPerNs
    let total = layers * (gemm(T, h, qkvOut) + gemm(T, oIn, h) + elementwise) + denseLayers * denseMlp(T) + moeLayers * moeMlp(T)
    total += 2 * layers * net.allReduceNs(T * h * ACT_BYTES, tp)
    // once per step: embedding gather, final norm, LM head over S positions, sampler over S x vocab
    total += (T * h * ACT_BYTES * 3) / bytesPerNs
    total += gemm(S, lmHeadK, lmHeadN) + (S * m.vocab * 4 * 2) / bytesPerNs
    lastT = T
    lastS = S
    lastCost = total
    return total
  }

  const stepTimeNs = (b: BatchShape): number => {
    const T = b.prefillTokens + b.numDecode
    if (T === 0) return 0
    const S = b.numPrefill + b.numDecode

    // attention (one kernel per layer covering prefill chunks and decodes)
    let attnFlops = attnFlopsCoef * b.decodeContextSum
    let kvRead = b.decodeContextSum
    for (let i = 0; i < b.numPrefill; i++) {
      const c = b.prefillChunk[i]!
      const ctx = b.prefillContext[i]!
      attnFlops += attnFlopsCoef * c * (ctx + (c + 1) / 2)
      kvRead += ctx + c
    }
    const attnBytes = (kvRead + T) * kvPerTokenLayer + 2 * T * oIn * ACT_BYTES
    const attnC = attnFlops / attnFlopsPerNs
    const attnM = attnBytes / bytesPerNs
    const attn = attnC > attnM ? attnC : attnM

    return Math.round(layers * attn + tokenCost(T, S) + kernelNs + p.stepOverheadNs)
  }

  /** The communication inside tokenCost(T): two all-reduces per layer and the MoE layers' exchange. */
  const commNs = (T: number): number => {
    let c = 2 * layers * net.allReduceNs(T * h * ACT_BYTES, tp)
    if (moeLayers > 0 && moePar !== undefined && moePar !== null) c += moeLayers * moeCommNs(m, moePar, net, T)
    return c
  }
  const breakdown = (b: BatchShape, out: StepBreakdown): void => {
    const total = stepTimeNs(b)
    const T = b.prefillTokens + b.numDecode
    out.overheadNs = T === 0 ? 0 : kernelNs + p.stepOverheadNs
    out.commNs = T === 0 ? 0 : commNs(T)
    out.computeNs = Math.max(0, total - out.overheadNs - out.commNs)
  }

  /** stepTimeNs with decode attention left out (RooflineOptions.offloadDecodeAttention; a separate closure so the default one is untouched). */
  const stepTimeNsOffloaded = (b: BatchShape): number => {
    const T = b.prefillTokens + b.numDecode
    if (T === 0) return 0
    const S = b.numPrefill + b.numDecode
    let attnFlops = 0
    let kvRead = 0
    for (let i = 0; i < b.numPrefill; i++) {
      const c = b.prefillChunk[i]!
      const ctx = b.prefillContext[i]!
      attnFlops += attnFlopsCoef * c * (ctx + (c + 1) / 2)
      kvRead += ctx + c
    }
    const P = b.prefillTokens
    const attnBytes = (kvRead + P) * kvPerTokenLayer + 2 * P * oIn * ACT_BYTES
    const attnC = attnFlops / attnFlopsPerNs
    const attnM = attnBytes / bytesPerNs
    const attn = attnC > attnM ? attnC : attnM
    return Math.round(layers * attn + tokenCost(T, S) + kernelNs + p.stepOverheadNs)
  }

  return { name: `roofline(${hw.name})`, stepTimeNs: offload ? stepTimeNsOffloaded : stepTimeNs, stepOverheadNs: p.stepOverheadNs, breakdown }
}

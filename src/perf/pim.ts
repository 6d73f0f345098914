/**
 * PIM attention offload (`--pim-config`, domain/Pim.ts): decode attention runs on a
 * processing-in-memory device next to each GPU, everything else on the GPU (the roofline with
 * decode attention left out, perf/roofline.ts). This follows LLMServingSim 2.0's attention
 * offloading and its sub-batch interleaving (after NeuPIMs, Heo et al., ASPLOS 2024).
 *
 * Per decoder layer, for D decodes of total context C on one GPU (TP shard: heads/TP query
 * heads, max(1, kv_heads/TP) KV heads):
 *   PIM time  = max(C x kv_bytes_per_token_layer / (channels x channel GB/s),
 *                   4 x heads/TP x head_dim x C / (channels x channel GFLOP/s))
 *   link time = 2 x latency + D x (2 x q_bytes + kv_bytes_per_token_layer) / link GB/s
 *               (the queries go out, the new token's K/V is written, the attention output comes back)
 * and a prefill chunk c after p cached tokens moves its p cached tokens' K/V from the device and
 * its c new tokens' K/V to it over the link (the KV cache lives on the device).
 *
 * Step time:
 *  - serial (`interleave` false): GPU(batch) + Σ_layers (PIM + link) + prefill link time;
 *  - interleaved: the decodes split into halves A (with the prefills) and B; while the GPU runs
 *    the non-attention layers of one half the PIM runs the attention of the other:
 *    overhead + max(GPU'(A), PIM(B)) + max(GPU'(B), PIM(A)) + prefill link time, GPU' the GPU
 *    time less the fixed per-step overhead (paid once). With identical layers, summing the
 *    per-layer maxima equals the maximum of the sums, so this is the per-layer pipeline.
 * A step without decodes is the GPU's alone.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { Hardware } from "../domain/Hardware.js"
import { kvHeadsPerGpu, type ModelShape } from "../domain/Model.js"
import type { Network } from "../domain/Network.js"
import type { RooflineParams } from "../domain/PerfParams.js"
import type { PimConfig } from "../domain/Pim.js"
import { type BatchShape, makeBatchShape, resetBatchShape } from "./BatchShape.js"
import type { PerfModel } from "./PerfModelService.js"
import { makeRoofline } from "./roofline.js"

/** Activation bytes per element (16-bit queries and attention outputs). */
const ACT_BYTES = 2

/** Decode-attention time on the PIM device plus its link transfers, all layers, ns (0 without decodes). */
export const pimAttentionNs = (m: ModelShape, e: EngineConfig, pim: PimConfig, numDecode: number, contextSum: number): number => {
  if (numDecode === 0) return 0
  const tp = e.tensorParallelSize
  const kvPerTokenLayer = 2 * kvHeadsPerGpu(m, tp) * m.headDim * e.kvCacheDtypeBytes
  const qBytes = (m.heads / tp) * m.headDim * ACT_BYTES
  const mem = contextSum * kvPerTokenLayer / (pim.channels * pim.channelBandwidthGBs)
  const compute = 4 * (m.heads / tp) * m.headDim * contextSum / (pim.channels * pim.channelGflops)
  const link = 2 * pim.link.latencyNs + numDecode * (2 * qBytes + kvPerTokenLayer) / pim.link.bandwidthGBs
  return m.layers * ((mem > compute ? mem : compute) + link)
}

/** The prefill chunks' K/V moved over the link (cached context from the device, new tokens to it), all layers, ns. */
export const pimPrefillLinkNs = (m: ModelShape, e: EngineConfig, pim: PimConfig, b: BatchShape): number => {
  if (b.numPrefill === 0) return 0
  const kvPerTokenLayer = 2 * kvHeadsPerGpu(m, e.tensorParallelSize) * m.headDim * e.kvCacheDtypeBytes
  let tokens = 0
  let fetches = 0
  for (let i = 0; i < b.numPrefill; i++) {
    tokens += b.prefillChunk[i]! + b.prefillContext[i]!
    if (b.prefillContext[i]! > 0) fetches++
  }
  return m.layers * ((1 + (fetches > 0 ? 1 : 0)) * pim.link.latencyNs + tokens * kvPerTokenLayer / pim.link.bandwidthGBs)
}

/** The perf model of one instance whose decode attention runs on `pim` (see the module doc). */
export const makePimPerf = (m: ModelShape, hw: Hardware, e: EngineConfig, p: RooflineParams, net: Network, pim: PimConfig): PerfModel => {
  const gpu = makeRoofline(m, hw, e, p, net, { offloadDecodeAttention: true })
  const overhead = p.stepOverheadNs
  const a = makeBatchShape(e.maxNumSeqs)
  const bHalf = makeBatchShape(1)
  const stepTimeNs = (b: BatchShape): number => {
    const T = b.prefillTokens + b.numDecode
    if (T === 0) return 0
    const prefillLink = pimPrefillLinkNs(m, e, pim, b)
    if (b.numDecode === 0) return Math.round(gpu.stepTimeNs(b) + prefillLink)
    if (!pim.interleave || b.numDecode < 2) {
      return Math.round(gpu.stepTimeNs(b) + pimAttentionNs(m, e, pim, b.numDecode, b.decodeContextSum) + prefillLink)
    }
    // half A: the prefills and ceil(D/2) decodes; half B: the rest (context split in proportion)
    const dA = Math.ceil(b.numDecode / 2)
    const dB = b.numDecode - dA
    const cA = b.decodeContextSum * dA / b.numDecode
    const cB = b.decodeContextSum - cA
    resetBatchShape(a)
    for (let i = 0; i < b.numPrefill; i++) {
      a.prefillChunk[i] = b.prefillChunk[i]!
      a.prefillContext[i] = b.prefillContext[i]!
    }
    a.numPrefill = b.numPrefill
    a.prefillTokens = b.prefillTokens
    a.numDecode = dA
    a.decodeContextSum = cA
    resetBatchShape(bHalf)
    bHalf.numDecode = dB
    bHalf.decodeContextSum = cB
    const gA = gpu.stepTimeNs(a) - overhead
    const gB = gpu.stepTimeNs(bHalf) - overhead
    const pA = pimAttentionNs(m, e, pim, dA, cA)
    const pB = pimAttentionNs(m, e, pim, dB, cB)
    return Math.round(overhead + (gA > pB ? gA : pB) + (gB > pA ? gB : pA) + prefillLink)
  }
  return { name: `roofline(${hw.name})+pim(${pim.name}${pim.interleave ? ", interleaved" : ""})`, stepTimeNs, stepOverheadNs: overhead }
}

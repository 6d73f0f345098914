/**
 * Work of one MoE layer's experts for T tokens (router excluded), shared by the roofline models:
 * each token runs top-k experts of 3 GEMMs (gate, up, down) of width expert_intermediate / TP, and
 * the weights of every expert some token routes to are read once. With uniform routing the
 * expected number of distinct experts hit is E (1 - (1 - k/E)^T).
 */
import type { ModelShape } from "../domain/Model.js"

/** Activation bytes per element (16-bit activations). */
const ACT_BYTES = 2

export interface MoeTraffic {
  /** FLOPs of the experts' GEMMs. */
  flops: number
  /** Bytes moved: weights of the active experts plus activations. */
  bytes: number
}

/** Fills `out` for T tokens; returns false (leaving it unchanged) for a dense model. */
export const moeTraffic = (m: ModelShape, T: number, tp: number, weightBytes: number, out: MoeTraffic): boolean => {
  const moe = m.moe
  if (moe === null) return false
  const ei = moe.expertIntermediate / tp
  const pairs = T * moe.topK
  const active = moe.experts * (1 - Math.pow(1 - moe.topK / moe.experts, T))
  out.flops = 2 * pairs * 3 * m.hidden * ei
  out.bytes = active * 3 * m.hidden * ei * weightBytes + pairs * (m.hidden + 3 * ei) * ACT_BYTES
  return true
}

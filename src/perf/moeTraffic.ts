/**
 * Work of one MoE layer's experts on one GPU for T tokens on its DP rank (router excluded), shared
 * by the roofline models. Each token-expert pair runs 3 GEMMs (gate, up, down) of width
 * expert_intermediate / shard, and the weights of every local expert some pair routes to are read
 * once. The layout (shard, local experts, tokens of other DP ranks, imbalance) comes from
 * `MoeParallel` (perf/expertParallel.ts):
 *  - pairs on this GPU = T x DP x top-k / EP x imbalance (EP = 1, imbalance 1 without expert
 *    parallelism; DP = 1 for a single instance, so T x top-k as before);
 *  - distinct local experts hit: with uniform routing a given expert is hit by a token with
 *    probability k/E, so a GPU whose busiest share corresponds to T' = T x DP x imbalance tokens
 *    hits E_local (1 - (1 - k/E)^T') of its E_local experts in expectation (E (1 - (1 - k/E)^T)
 *    for one GPU holding all experts).
 * All experts stay in memory (memory/capacity.ts); only the activated ones' FLOPs and weight reads
 * are counted here.
 */
import type { ModelShape } from "../domain/Model.js"
import type { MoeParallel } from "./expertParallel.js"

/** Activation bytes per element (16-bit activations). */
const ACT_BYTES = 2

export interface MoeTraffic {
  /** FLOPs of the experts' GEMMs on this GPU. */
  flops: number
  /** Bytes moved on this GPU: weights of its active experts plus activations. */
  bytes: number
}

/** Fills `out` for T tokens per DP rank; returns false (leaving it unchanged) for a dense model. */
export const moeTraffic = (m: ModelShape, T: number, par: MoeParallel | null, weightBytes: number, out: MoeTraffic): boolean => {
  const moe = m.moe
  if (moe === null || par === null) return false
  const ei = moe.expertIntermediate / par.expertShard
  const imb = par.imbalance(T)
  const pairs = T * par.dp * moe.topK / par.ep * imb
  const active = par.localExperts * (1 - Math.pow(1 - moe.topK / moe.experts, T * par.dp * imb))
  out.flops = 2 * pairs * 3 * m.hidden * ei
  out.bytes = active * 3 * m.hidden * ei * weightBytes + pairs * (m.hidden + 3 * ei) * ACT_BYTES
  return true
}

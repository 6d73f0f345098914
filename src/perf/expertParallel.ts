/**
 * How one MoE layer is laid out over the GPUs of a data-parallel deployment, as vLLM 0.19 does it
 * (`FusedMoEParallelConfig.make` in vllm/model_executor/layers/fused_moe/config.py):
 *
 *  - `--enable-expert-parallel`: attention stays data-parallel over the DP ranks (each rank's
 *    attention TP-sharded over its TP GPUs); every expert lives whole on one GPU, the experts spread
 *    over EP = DP x TP GPUs (E / EP local experts each). With DP > 1 the ranks exchange tokens by a
 *    dispatch and a combine all-to-all over the EP group per MoE layer; with DP = 1 every GPU of the
 *    TP group already holds all tokens (vLLM's `use_all2all_kernels` is false), computes its local
 *    experts on them, and the layer's TP all-reduce combines the outputs: no all-to-all.
 *  - without it, and DP > 1: vLLM flattens TP across DP (`flatten_tp_across_dp`): each expert is
 *    TP-sharded over all DP x TP GPUs and every GPU runs the tokens of all DP ranks, gathered by an
 *    all-gather over DP before the experts and a reduce-scatter after (the naive
 *    `allgather_reducescatter` backend).
 *  - DP = 1, no EP: experts TP-sharded over the TP GPUs (the single-instance case).
 *
 * Lockstep approximation: vLLM's DP ranks of an MoE model step together (idle ranks run dummy
 * batches so the collectives line up), and the simulator prices one rank's batch of T tokens as if
 * every rank carried T tokens. Real ranks carry different batches; the slowest sets the step time,
 * which this approximation misses when the router leaves ranks unevenly loaded.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { ModelShape } from "../domain/Model.js"
import type { Network } from "../domain/Network.js"

/** Activation bytes per element (16-bit activations, as the rest of the perf models). */
const ACT_BYTES = 2

/** The MoE layout of one GPU. */
export interface MoeParallel {
  readonly dp: number
  readonly tp: number
  /** Expert-parallel group size: DP x TP with `--enable-expert-parallel`, else 1. */
  readonly ep: number
  /** Divisor of each expert's intermediate width: 1 under EP, DP x TP without it. */
  readonly expertShard: number
  /** Experts resident on one GPU: E / EP under EP, else all E (sharded by `expertShard`). */
  readonly localExperts: number
  /**
   * Expert-load imbalance of the busiest EP rank for a step of T tokens per DP rank (1 without EP):
   * `--expert-load-imbalance` when given, else `derivedImbalance` of that step's routed pairs.
   */
  readonly imbalance: (T: number) => number
}

/** Expert-parallel group size of `e` (DP x TP with `--enable-expert-parallel`, else 1). */
export const expertParallelSize = (e: EngineConfig): number =>
  e.enableExpertParallel ? e.dataParallelSize * e.tensorParallelSize : 1

/**
 * Standard normal CDF via erf (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7).
 */
const normalCdf = (x: number): number => {
  const z = Math.abs(x) / Math.SQRT2
  const t = 1 / (1 + 0.3275911 * z)
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z)
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y)
}

const maxNormalMemo = new Map<number, number>()

/**
 * Expected maximum of `n` independent standard normals, E[max Z_i] = integral of x n phi(x)
 * Phi(x)^(n-1) dx, by the trapezoid rule over [-9, 9] (4,000 steps); memoised per n. n = 1 gives 0,
 * n = 2 gives 1/sqrt(pi) = 0.5642 (order-statistics tables, e.g. Harter 1961: n = 8 -> 1.4236).
 */
export const expectedMaxStdNormal = (n: number): number => {
  if (n <= 1) return 0
  const hit = maxNormalMemo.get(n)
  if (hit !== undefined) return hit
  const steps = 4000
  const lo = -9
  const dx = 18 / steps
  let sum = 0
  for (let i = 0; i <= steps; i++) {
    const x = lo + i * dx
    const f = x * n * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI) * Math.pow(normalCdf(x), n - 1)
    sum += (i === 0 || i === steps ? 0.5 : 1) * f
  }
  const v = sum * dx
  maxNormalMemo.set(n, v)
  return v
}

/**
 * Expected max over `ep` ranks of the token-expert pairs each receives, divided by the mean, when
 * `pairs` pairs route uniformly at random (each pair to a rank with probability 1/ep, the experts
 * being split evenly). The counts are multinomial(pairs, 1/ep); in the normal approximation they
 * equal mean + sigma (Z_i - mean Z) with Z_i iid standard normal and sigma^2 = pairs / ep (this
 * reproduces the multinomial covariance pairs (delta_ij / ep - 1 / ep^2) exactly), so
 *   E[max] / mean = 1 + E[max Z_i] sqrt(ep / pairs),
 * clamped to [1, ep] (a rank can receive at most all pairs). Ignores that one token's top-k experts
 * are distinct (slightly less spread than assumed). 1 for ep <= 1; tends to 1 as pairs grow. O(1)
 * per call after the first for a given ep.
 */
export const derivedImbalance = (pairs: number, ep: number): number => {
  if (ep <= 1 || pairs <= 0) return 1
  const f = 1 + expectedMaxStdNormal(ep) * Math.sqrt(ep / pairs)
  return f > ep ? ep : f
}

/**
 * The MoE layout of one GPU of `e` for model `m` (null for a dense model). Token-expert pairs of a
 * step of T tokens per DP rank: T x DP x top-k across the EP group (lockstep approximation above).
 */
export const moeParallelOf = (m: ModelShape, e: EngineConfig): MoeParallel | null => {
  const moe = m.moe
  if (moe === null) return null
  const dp = e.dataParallelSize
  const tp = e.tensorParallelSize
  const ep = expertParallelSize(e)
  const fixed = e.expertLoadImbalance
  const k = moe.topK
  const imbalance = ep <= 1 ? () => 1 : fixed !== null ? () => fixed : (T: number) => derivedImbalance(T * dp * k, ep)
  return {
    dp,
    tp,
    ep,
    expertShard: e.enableExpertParallel ? 1 : dp * tp,
    localExperts: ep > 1 ? moe.experts / ep : moe.experts,
    imbalance
  }
}

/**
 * Bytes one GPU sends in each of the dispatch and combine all-to-alls of one MoE layer for T tokens
 * on its DP rank: T x top-k x hidden x activation bytes (one copy of a token's hidden state per
 * routed expert, as vLLM's naive and pplx dispatchers send them). The share routed to the GPU's own
 * experts (1/EP under uniform routing) is not subtracted: the Network's all-to-all takes each GPU's
 * whole buffer, the NCCL all-to-all convention (sendbuff holds a chunk for every rank, itself
 * included), and moves (n - 1)/n of it over the links. Under TP > 1 inside a DP rank every TP GPU
 * sends its rank's tokens (vLLM without sequence-parallel MoE).
 */
export const allToAllBytes = (m: ModelShape, T: number): number => T * m.moe!.topK * m.hidden * ACT_BYTES

/**
 * Communication of one MoE layer beyond the TP all-reduces, ns: under EP with DP > 1, a dispatch
 * and a combine all-to-all over the EP group (`allToAllBytes` each); without EP and DP > 1, an
 * all-gather of the DP ranks' hidden states (DP x T x hidden x 2 bytes gathered) before the
 * experts and a reduce-scatter of the same size after; else 0. The perf models price one MoE layer
 * and multiply by the MoE layer count (layers are identical).
 */
export const moeCommNs = (m: ModelShape, par: MoeParallel, net: Network, T: number): number => {
  if (par.dp <= 1) return 0
  if (par.ep > 1) {
    const bytes = allToAllBytes(m, T)
    return net.allToAllNs(bytes, par.ep) + net.allToAllNs(bytes, par.ep) // dispatch, combine
  }
  const gathered = par.dp * T * m.hidden * ACT_BYTES
  return net.allGatherNs(gathered, par.dp) + net.reduceScatterNs(gathered, par.dp)
}

/**
 * The MoE layout for summary.json (`config.moe_parallel`): DP, TP, EP size, local experts, expert
 * shard, and the imbalance: the fixed `--expert-load-imbalance`, or the derived factor at a 1-token
 * step and at a full `max_num_batched_tokens` step (per DP rank).
 */
export const moeParallelSummary = (m: ModelShape, e: EngineConfig) => {
  const par = moeParallelOf(m, e)
  if (par === null) return null
  return {
    data_parallel_size: par.dp,
    tensor_parallel_size: par.tp,
    enable_expert_parallel: e.enableExpertParallel,
    expert_parallel_size: par.ep,
    local_experts: par.localExperts,
    expert_shard: par.expertShard,
    expert_load_imbalance: par.ep <= 1
      ? 1
      : e.expertLoadImbalance ?? {
        derived: "uniform top-k routing, normal approximation of the max of EP multinomial counts",
        at_1_token: par.imbalance(1),
        at_max_num_batched_tokens: par.imbalance(e.maxNumBatchedTokens)
      }
  }
}

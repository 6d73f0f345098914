/**
 * Speculative decoding on one instance (vLLM V1 semantics): the scheduler gives a decoding request
 * 1 + d tokens (d = min(k, tokens it still has to generate - 1)), which the perf model prices as a
 * prefill-like chunk of 1 + d tokens at its context (the verify pass: StepPlan.addToPlan). After the
 * step the SpecDecoder draws how many drafts the target accepted and what the drafter cost.
 */
import { activeParameterCount, attnParams, denseMlpParams, type ModelShape } from "../domain/Model.js"
import type { SpeculativeConfig } from "../domain/SpeculativeConfig.js"
import { type BatchShape, makeBatchShape, resetBatchShape } from "../perf/BatchShape.js"
import type { PerfModel } from "../perf/PerfModelService.js"
import { Rng } from "../workload/Rng.js"

/**
 * Fraction of the target's weight bytes that one EAGLE draft pass reads: one decoder layer
 * (attention projections, a dense MLP, two norms) plus the LM head (vocab x hidden), over the
 * parameters a decode step touches (activeParameterCount). EAGLE/EAGLE-3 heads are one decoder
 * layer on top of the target's hidden states that reuse (or copy) its LM head (Li et al., EAGLE,
 * ICML 2024; EAGLE-3, 2025), so in a memory-bound decode their pass costs about this share of the
 * target's. The approximation prices the head from the target's own layer shape and ignores
 * EAGLE-3's fusion of three hidden states and any reduced draft vocabulary.
 */
export const eagleDraftFraction = (m: ModelShape): number => {
  const layer = attnParams(m) + denseMlpParams(m) + 2 * m.hidden
  const lmHead = m.vocab * m.hidden
  return Math.min(1, (layer + lmHead) / activeParameterCount(m))
}

/** Cumulative counters in vLLM's names (vllm/v1/spec_decode/metrics.py `SpecDecodingStats`). */
export interface SpecDecodeCounters {
  /** Verify passes with at least one draft token (one per request per step). */
  numDrafts: number
  /** Draft tokens proposed and verified. */
  numDraftTokens: number
  /** Of those, accepted. */
  numAcceptedTokens: number
  /** Accepted drafts per position 0 .. k-1. */
  readonly numAcceptedTokensPerPos: Float64Array
}

export const makeSpecDecodeCounters = (k: number): SpecDecodeCounters => ({
  numDrafts: 0, numDraftTokens: 0, numAcceptedTokens: 0, numAcceptedTokensPerPos: new Float64Array(k)
})

/** summary.json `spec_decode`: the configuration and vLLM's spec-decode metrics over the run. */
export const specDecodeJson = (c: SpeculativeConfig, n: SpecDecodeCounters) => ({
  method: c.method,
  num_speculative_tokens: c.numSpeculativeTokens,
  ...(c.model === undefined ? {} : { model: c.model }),
  acceptance_rates: c.acceptanceRates,
  acceptance_rates_source: c.acceptanceRatesSource,
  num_drafts: n.numDrafts,
  num_draft_tokens: n.numDraftTokens,
  num_accepted_tokens: n.numAcceptedTokens,
  num_accepted_tokens_per_pos: Array.from(n.numAcceptedTokensPerPos),
  /** accepted / drafted tokens (vLLM "Avg Draft acceptance rate"). */
  draft_acceptance_rate: n.numDraftTokens === 0 ? 0 : n.numAcceptedTokens / n.numDraftTokens,
  /** 1 + accepted / drafts (vLLM "Mean acceptance length"). */
  mean_acceptance_length: n.numDrafts === 0 ? 0 : 1 + n.numAcceptedTokens / n.numDrafts,
  /** accepted at position i / drafts (vLLM "Per-position acceptance rate"). */
  per_position_acceptance_rate: Array.from(n.numAcceptedTokensPerPos, (a) => (n.numDrafts === 0 ? 0 : a / n.numDrafts))
})

export class SpecDecoder {
  /** k. */
  readonly k: number
  private readonly rates: Float64Array
  private readonly rng: Rng
  private readonly draftShape: BatchShape = makeBatchShape(1)

  constructor(
    readonly config: SpeculativeConfig,
    /** Share of a target decode step one draft pass costs (eagleDraftFraction; 0 for ngram). */
    readonly draftFraction: number,
    /** Shared by the run's instances. */
    readonly counters: SpecDecodeCounters,
    seed: number
  ) {
    this.k = config.numSpeculativeTokens
    this.rates = Float64Array.from(config.acceptanceRates)
    this.rng = new Rng(seed)
  }

  /**
   * Accepted drafts of a verify pass over `d` draft tokens (1 <= d <= k): one uniform draw u, and
   * a = #{i < d : u < p_i}. With non-increasing p this gives P(a >= i + 1) = p_i, the unconditional
   * per-position acceptance, and the accepted positions are always 0 .. a-1 (vLLM's rejection
   * sampler stops at the first rejected position). Records the counters.
   */
  verify(d: number): number {
    const u = this.rng.uniform()
    const p = this.rates
    let a = 0
    while (a < d && u < p[a]!) a++
    const n = this.counters
    n.numDrafts++
    n.numDraftTokens += d
    n.numAcceptedTokens += a
    for (let i = 0; i < a; i++) n.numAcceptedTokensPerPos[i]!++
    return a
  }

  /**
   * The drafter's GPU time in a step whose verify passes cover `count` requests with context sum
   * `contextSum` (tokens, each request's context including its newest token), ns. ngram: 0 (vLLM
   * runs the n-gram lookup on the CPU, overlapped with nothing on the GPU; its CPU time is not
   * modelled). eagle/eagle3: k sequential draft passes, each the target's decode step of those
   * requests without its fixed per-step overhead, scaled by `draftFraction` (a memory-bound
   * decode's time goes with the bytes it reads). Drafts proposed after step t are verified in step
   * t + 1; the simulator charges them in the verify step (same total GPU time, one step later).
   */
  drafterNs(perf: PerfModel, count: number, contextSum: number): number {
    if (this.draftFraction === 0 || count === 0) return 0
    const s = this.draftShape
    resetBatchShape(s)
    s.numDecode = count
    s.decodeContextSum = contextSum
    const pass = perf.stepTimeNs(s) - (perf.stepOverheadNs ?? 0)
    return pass <= 0 ? 0 : this.k * Math.round(this.draftFraction * pass)
  }
}

/** A SpecDecoder for `config` on the target `model`: ngram drafts cost nothing on the GPU, eagle heads eagleDraftFraction. */
export const makeSpecDecoder = (config: SpeculativeConfig, model: ModelShape, counters: SpecDecodeCounters, seed: number): SpecDecoder =>
  new SpecDecoder(config, config.method === "ngram" ? 0 : eagleDraftFraction(model), counters, seed)

/** Seed of instance `id`'s acceptance draws: distinct per instance and apart from the routers' (seed, seed + 1). */
export const specSeed = (seed: number, id: number): number => seed + 1_000_003 * (id + 1)

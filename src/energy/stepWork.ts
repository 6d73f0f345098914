/**
 * The arithmetic work of one engine step on one instance (all its GPUs together), for the power
 * model: floating-point operations and bytes moved to or from device memory. The counts are the
 * roofline's (perf/roofline.ts, ARCHITECTURE.md "Models of the physics"), summed instead of timed:
 *  - FLOPs: 2 per weight element per token through every decoder linear layer (MoE: top-k experts
 *    only), 2 per LM-head element per sequence, and FlashAttention's 4 heads head_dim per
 *    (query, key) pair per layer (causal prefill: c (p + (c+1)/2) pairs for a chunk c after p
 *    cached tokens; decode: its context n);
 *  - bytes: every weight read once per step (MoE: all experts, an upper bound at small batches),
 *    the K/V read by attention plus the K/V written for the new tokens.
 * Activations are left out (under 2% of the bytes of the bundled models' steps).
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import { activeParameterCount, kvBytesPerToken, type ModelShape, parameterCount } from "../domain/Model.js"
import type { BatchShape } from "../perf/BatchShape.js"

/** What `stepWork` fills in (reused: no allocation per step). */
export interface Work {
  /** Floating-point operations, all GPUs of the instance. */
  flops: number
  /** Device-memory bytes read and written, all GPUs of the instance. */
  bytes: number
}

/** A step-work function for one model and engine configuration. */
export type StepWork = (b: BatchShape, steps: number, out: Work) => Work

/**
 * Build the work counter for `m` under `e`. `steps` > 1 stands for a fast-forwarded run of `steps`
 * identical-shape decode steps (EngineObserver.StepInfo.steps): each decode's context grows by one
 * per step, so the decode context summed over the run is k·n₀ + d·k(k−1)/2 (n₀ the first step's
 * context sum, d the decodes).
 */
export const makeStepWork = (m: ModelShape, e: EngineConfig): StepWork => {
  const embed = m.vocab * m.hidden
  const lmHead = m.vocab * m.hidden
  // decoder linear weights a token passes through (active experts only), elements
  const linearActive = activeParameterCount(m) - embed * (m.tiedEmbeddings ? 1 : 2)
  const weightBytes = parameterCount(m) * e.weightDtypeBytes
  const kvPerToken = kvBytesPerToken(m, e.kvCacheDtypeBytes)
  const attnCoef = 4 * m.heads * m.headDim * m.layers
  return (b, steps, out) => {
    const k = steps
    const T = b.prefillTokens + b.numDecode
    const S = b.numPrefill + b.numDecode
    let pairs = 0
    let kvRead = 0
    for (let i = 0; i < b.numPrefill; i++) {
      const c = b.prefillChunk[i]!
      const p = b.prefillContext[i]!
      pairs += c * (p + (c + 1) / 2)
      kvRead += p + c
    }
    const decodeCtx = k * b.decodeContextSum + b.numDecode * k * (k - 1) / 2
    out.flops = k * (2 * T * linearActive + 2 * S * lmHead + attnCoef * pairs) + attnCoef * decodeCtx
    out.bytes = k * (weightBytes + (kvRead + T) * kvPerToken) + decodeCtx * kvPerToken
    return out
  }
}

/**
 * Parameters of the roofline step-time model (see perf/roofline.ts). Defaults are documented
 * starting points, not fits: compute and memory efficiencies from the measured kernel profiles
 * summarised in ../shared/docs/reference-facts.md (large GEMMs reach 70-76% of dense peak on
 * A100/H100/A40; decode-size GEMMs stream weights at 74-84% of HBM and ~94% of GDDR6X bandwidth).
 */
export interface RooflineParams {
  /** Fraction of dense tensor peak that GEMMs reach (default 0.7). */
  readonly computeEfficiency: number
  /** Fraction of dense tensor peak FlashAttention reaches on prefill (default 0.5). */
  readonly attentionComputeEfficiency: number
  /** Fraction of peak memory bandwidth reached by memory-bound kernels (default 0.8). */
  readonly memoryEfficiency: number
  /** Fixed time added per kernel (launch and tail effects), ns (default 1,500). */
  readonly kernelOverheadNs: number
  /** Fixed time added per engine step (scheduler, input preparation, sampling on CPU), ns (default 1,000,000). */
  readonly stepOverheadNs: number
}

/**
 * How the datasheet roofline combines a GEMM's compute and memory times: sqrt(c^2 + m^2) instead
 * of max(c, m) (a p-norm with p = 2). Near the ridge point a GEMM is neither purely compute- nor
 * memory-bound, and the measured kernels take up to about sqrt(2) times the max: on Vidur's
 * measured A100 (Meta-Llama-3-8B, Llama-2-7b), H100 and A40 (Llama-2-7b) linear-layer tables
 * (../shared/reference/vidur-profiling/profiling/compute, TP 1) max(c, m) at the default
 * efficiencies is 7-34% fast at 96-256 tokens, and the mean |error| over all token counts falls
 * from 8.0 / 8.4 / 13.7 / 10.1% to 6.5 / 6.3 / 9.5 / 7.7% with p = 2; calibrating on the RTX 4090
 * profile (`calibrate --profile`) fits p = 2.1. Only GEMMs use it (attention, element-wise and
 * sampler kernels keep max); far from the ridge it changes little (at c = m / 5, 2%).
 */
export const GEMM_ROOFLINE_SMOOTHING = 2

export const defaultRooflineParams: RooflineParams = {
  computeEfficiency: 0.7,
  attentionComputeEfficiency: 0.5,
  memoryEfficiency: 0.8,
  kernelOverheadNs: 1_500,
  stepOverheadNs: 1_000_000
}

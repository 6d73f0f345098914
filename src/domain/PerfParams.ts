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

export const defaultRooflineParams: RooflineParams = {
  computeEfficiency: 0.7,
  attentionComputeEfficiency: 0.5,
  memoryEfficiency: 0.8,
  kernelOverheadNs: 1_500,
  stepOverheadNs: 1_000_000
}

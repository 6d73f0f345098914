/**
 * Accelerator description, from datasheet figures (see `resources/hardware/*.json`; each file names
 * its datasheet in `source`). Throughputs are dense (no 2:4 sparsity); GeForce cards list the
 * FP32-accumulate tensor rate that frameworks actually run at.
 */
import { Schema } from "effect"

export const Hardware = Schema.Struct({
  name: Schema.String,
  fullName: Schema.String,
  aliases: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  vendor: Schema.String,
  /** Dense BF16 tensor TFLOP/s; null when the part has no BF16 (V100, T4: FP16 is used instead). */
  bf16Tflops: Schema.NullOr(Schema.Number.pipe(Schema.positive())),
  /** Dense FP16 tensor TFLOP/s. */
  fp16Tflops: Schema.Number.pipe(Schema.positive()),
  /** Dense FP8 tensor TFLOP/s; null when the part has no FP8. */
  fp8Tflops: Schema.NullOr(Schema.Number.pipe(Schema.positive())),
  /** Device memory as printed on the datasheet (GB; GPU vendors mean GiB). */
  memoryGB: Schema.Number.pipe(Schema.positive()),
  memoryType: Schema.optional(Schema.String),
  /** Peak memory bandwidth, GB/s (1e9 bytes/s). */
  memoryBandwidthGBs: Schema.Number.pipe(Schema.positive()),
  /** GPU-to-GPU link, total of both directions as printed (GB/s); PCIe when there is no NVLink. */
  interconnect: Schema.String,
  interconnectGBs: Schema.Number.pipe(Schema.positive()),
  hostLink: Schema.optional(Schema.String),
  hostLinkGBs: Schema.optional(Schema.Number.pipe(Schema.positive())),
  tdpW: Schema.Number.pipe(Schema.positive()),
  /** Memory the driver reports as total (bytes), where measured; else derived (see usableMemoryBytes). */
  memoryBytesVisible: Schema.optional(Schema.Number.pipe(Schema.positive())),
  source: Schema.String
})
export type Hardware = typeof Hardware.Type

/**
 * Fraction of the datasheet memory that CUDA reports as total. Measured on the RTX 4090 of the
 * reference vLLM run: 25,250,627,584 of 24 GiB = 25,769,803,776 bytes (0.9799); A100/H100 80GB
 * report about 79.2 GiB of 80 (0.99). We use 0.98 unless the hardware file gives `memoryBytesVisible`.
 */
export const VISIBLE_MEMORY_FRACTION = 0.98

/** Total device memory as the runtime sees it, bytes (what vLLM multiplies by gpu_memory_utilization). */
export const usableMemoryBytes = (hw: Hardware): number =>
  hw.memoryBytesVisible ?? Math.floor(hw.memoryGB * 2 ** 30 * VISIBLE_MEMORY_FRACTION)

/** Peak dense tensor FLOP/s for a weight dtype (bytes per element). */
export const peakFlops = (hw: Hardware, dtypeBytes: number): number => {
  if (dtypeBytes === 1 && hw.fp8Tflops !== null) return hw.fp8Tflops * 1e12
  return (hw.bf16Tflops ?? hw.fp16Tflops) * 1e12
}

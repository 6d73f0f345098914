/**
 * A processing-in-memory (PIM) device for decode-attention offload (`--pim-config FILE`, as
 * LLMServingSim 2.0's `--enable-attn-offloading` and the IISWC'24 artifact's `pim_type`): one
 * device per GPU holding that GPU's share of the KV cache, computing decode attention next to the
 * DRAM banks, linked to its GPU. Units: GB/s = 1e9 bytes/s (= bytes/ns), GFLOP/s = FLOP/ns,
 * GB = 1e9 bytes, ns.
 */
import { Effect, Schema } from "effect"
import { decodeWith, readJson } from "../config/catalog.js"
import type { FileError, InputError } from "./errors.js"

const Positive = Schema.Number.pipe(Schema.positive())

export const PimLink = Schema.Struct({
  /** One direction of the GPU-PIM link, GB/s. */
  bandwidthGBs: Positive,
  /** Fixed latency of one transfer over it, ns. */
  latencyNs: Schema.Number.pipe(Schema.nonNegative())
})

export const PimConfig = Schema.Struct({
  name: Schema.String,
  /** PIM channels of the device (each with its own banks and processing units). */
  channels: Schema.Number.pipe(Schema.int(), Schema.positive()),
  /** Bank-to-PIM-unit bandwidth of one channel, GB/s. */
  channelBandwidthGBs: Positive,
  /** FP16 multiply-add throughput of one channel's PIM units, GFLOP/s (an FMA = 2 FLOPs). */
  channelGflops: Positive,
  /** Memory of the device, GB (1e9 bytes): the KV cache lives here instead of on the GPU. */
  capacityGB: Positive,
  /** The link between the GPU and the device. */
  link: PimLink,
  /**
   * Sub-batch interleaving (NeuPIMs / LLMServingSim 2.0 `--enable-sub-batch-interleaving`): split
   * the decodes in two halves so the GPU's layers of one overlap the PIM attention of the other
   * (default false: the GPU waits for the PIM).
   */
  interleave: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Where the figures come from. */
  source: Schema.String
})
export type PimConfig = typeof PimConfig.Type

/**
 * Read and check a PIM config JSON file. Fails with FileError (unreadable) or InputError naming
 * the file and the first bad field (unknown fields are refused: they would be silently ignored).
 */
export const loadPimConfig = (file: string): Effect.Effect<PimConfig, FileError | InputError> =>
  readJson(file).pipe(Effect.flatMap((raw) => decodeWith(PimConfig, file, raw, "error")))

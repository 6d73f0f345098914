/**
 * NetworkService: the Network a simulation prices collectives with. The default
 * (`--network alpha-beta`, alias `analytic`) is the analytic model of network/analytic.ts, built
 * from the hardware's fabric and NIC (NCCL ring / tree / NVLS and vLLM's custom all-reduce).
 *
 * `alphaBeta` below is the earlier single-ring model, kept for callers that price a bare link:
 * a ring all-reduce of
 * `bytes` over `n` GPUs moves 2(n-1)/n x bytes through each GPU's link, so
 *   t = 2(n-1) x alpha + 2(n-1)/n x bytes / (link bandwidth x efficiency)
 * with the link bandwidth per direction (half the datasheet's bidirectional figure).
 * Constants: alpha = 5 us per hop (NCCL small-message latency on NVLink is a few us) and 0.8
 * link efficiency. Measured collective tables
 * (`table:DIR`, `fit:DIR`) are in network/spec.ts, network/tableNetwork.ts and network/vidurCsv.ts.
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { Network } from "../domain/Network.js"
import { analyticNetwork } from "./analytic.js"

export type { Network } from "../domain/Network.js"

/** Every collective and transfer is free. */
export const zeroNetwork: Network = {
  allReduceNs: () => 0,
  allGatherNs: () => 0,
  reduceScatterNs: () => 0,
  allToAllNs: () => 0,
  sendRecvNs: () => 0,
  kvTransferNs: () => 0
}

export class NetworkService extends Context.Tag("llmservingsim/NetworkService")<NetworkService, Network>() {
  /** The analytic model (network/analytic.ts) from the configured hardware's fabric and NIC (the default). */
  static readonly alphaBeta: Layer.Layer<NetworkService, never, ConfigService> = Layer.effect(
    NetworkService,
    Effect.map(ConfigService, (cfg) => analyticNetwork(cfg.hardware))
  )

  /** Free communication (tests, single GPU). */
  static readonly zero: Layer.Layer<NetworkService> = Layer.succeed(NetworkService, zeroNetwork)
}

export const ALPHA_NS = 5_000
export const LINK_EFFICIENCY = 0.8

/** Single-ring alpha-beta network over a link of `linkGBs` GB/s (bidirectional, as datasheets print it); not the default. */
export const alphaBeta = (linkGBs: number): Network => {
  const bytesPerNs = (linkGBs / 2) * LINK_EFFICIENCY // GB/s = bytes/ns
  const ring = (steps: number, n: number, bytes: number) => n <= 1 ? 0 : Math.round(steps * (n - 1) * ALPHA_NS + (steps * (n - 1) / n) * bytes / bytesPerNs)
  const p2p = (bytes: number) => Math.round(ALPHA_NS + bytes / bytesPerNs)
  return {
    allReduceNs: (bytes, n) => ring(2, n, bytes),
    allGatherNs: (bytes, n) => ring(1, n, bytes),
    reduceScatterNs: (bytes, n) => ring(1, n, bytes),
    allToAllNs: (bytes, n) => ring(1, n, bytes),
    sendRecvNs: p2p,
    kvTransferNs: p2p
  }
}

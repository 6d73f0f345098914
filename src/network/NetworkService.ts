/**
 * Time of collectives between the GPUs of one instance. Alpha-beta model: a ring all-reduce of
 * `bytes` over `n` GPUs moves 2(n-1)/n x bytes through each GPU's link, so
 *   t = 2(n-1) x alpha + 2(n-1)/n x bytes / (link bandwidth x efficiency)
 * with the link bandwidth per direction (half the datasheet's bidirectional figure).
 * Constants: alpha = 5 us per hop (NCCL small-message latency on NVLink is a few us) and 0.8
 * link efficiency. This is `--network alpha-beta` (the default); measured collective tables
 * (`table:DIR`, `fit:DIR`) are in network/spec.ts, network/tableNetwork.ts and network/vidurCsv.ts.
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { Network } from "../domain/Network.js"

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
  /** Alpha-beta model from the configured hardware's interconnect. */
  static readonly alphaBeta: Layer.Layer<NetworkService, never, ConfigService> = Layer.effect(
    NetworkService,
    Effect.map(ConfigService, (cfg) => alphaBeta(cfg.hardware.interconnectGBs))
  )

  /** Free communication (tests, single GPU). */
  static readonly zero: Layer.Layer<NetworkService> = Layer.succeed(NetworkService, zeroNetwork)
}

export const ALPHA_NS = 5_000
export const LINK_EFFICIENCY = 0.8

/** Alpha-beta network over a link of `linkGBs` GB/s (bidirectional, as datasheets print it). */
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

/**
 * What a priced network answers: the time of collectives and transfers between GPUs. Sizes are
 * bytes, times integer ns. Implementations live in `network/` (analytic from the hardware's
 * fabric, or measured tables); NetworkService is the Layer that provides one. A group of `n` GPUs
 * larger than one node's GPUs crosses the scale-out NIC; `crossNode` marks a point-to-point move
 * between nodes.
 */
export interface Network {
  /** All-reduce of `bytes` (each GPU's buffer) across `n` GPUs, ns (0 when n <= 1). */
  readonly allReduceNs: (bytes: number, n: number) => number
  /** All-gather across `n` GPUs producing `bytes` (the gathered buffer) on each, ns (0 when n <= 1). */
  readonly allGatherNs: (bytes: number, n: number) => number
  /** Reduce-scatter across `n` GPUs of an input of `bytes` on each, ns (0 when n <= 1). */
  readonly reduceScatterNs: (bytes: number, n: number) => number
  /** All-to-all across `n` GPUs where each GPU sends `bytes` in total (split over its peers), ns (0 when n <= 1). */
  readonly allToAllNs: (bytes: number, n: number) => number
  /** Point-to-point send of `bytes` between two GPUs (same node unless `crossNode`), ns. */
  readonly sendRecvNs: (bytes: number, crossNode?: boolean) => number
  /** KV-cache transfer of `bytes` from a prefill to a decode instance (disaggregation), ns. */
  readonly kvTransferNs: (bytes: number, crossNode?: boolean) => number
}

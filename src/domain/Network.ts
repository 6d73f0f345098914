/**
 * What a priced network answers: the time of collectives and transfers between the GPUs of a
 * cluster. Implementations live in `network/` (alpha-beta from the hardware's fabric, measured
 * tables); NetworkService is the Layer that provides one.
 */
export interface Network {
  /** All-reduce of `bytes` across `n` GPUs, ns (0 when n = 1). */
  readonly allReduceNs: (bytes: number, n: number) => number
  /** Point-to-point send of `bytes` between two GPUs, ns. */
  readonly sendRecvNs: (bytes: number) => number
}

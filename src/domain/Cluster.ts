/**
 * A resolved cluster: pools of identical instances (each pool its own model, hardware, parallelism
 * and engine flags), the routers in front of them and, for prefill/decode disaggregation, how the
 * KV moves. Built from `--cluster-config FILE` (cluster/ClusterFile.ts) or from plain flags (one
 * colocated pool).
 */
import type { RouterPolicy, RouterSpec } from "../cluster/RouterSpec.js"
import type { SimConfig } from "./SimConfig.js"

/** vLLM's `kv_role` names: kv_producer (prefill), kv_consumer (decode); colocated = both phases. */
export type PoolRole = "colocated" | "prefill" | "decode"

export interface PoolConfig {
  readonly name: string
  readonly role: PoolRole
  /** Instances (replicas) in the pool. */
  readonly instances: number
  /** The resolved configuration of one of its instances. */
  readonly config: SimConfig
  /** vLLM's kv_connector named in the file (recorded in summary.json). */
  readonly kvConnector?: string | undefined
}

export interface KvTransferConfig {
  /** Prefill and decode instances sit on different nodes: moves cross the scale-out NIC. */
  readonly crossNode: boolean
  /** Layer by layer, overlapped with the prefill (true), or the whole KV after it (false). */
  readonly layerwise: boolean
}

export interface ClusterConfig {
  readonly pools: ReadonlyArray<PoolConfig>
  /** Router of arrivals (over the colocated, or the prefill instances). */
  readonly router: RouterPolicy | RouterSpec
  /** Router of handed-off requests over the decode instances (disaggregation). */
  readonly decodeRouter: RouterPolicy | RouterSpec
  readonly kvTransfer: KvTransferConfig
  /** The file it was read from, if any. */
  readonly source?: string | undefined
}

/** A single colocated pool of `cfg.numInstances` instances (what plain flags describe). */
export const singlePool = (cfg: SimConfig, router: RouterPolicy | RouterSpec): ClusterConfig => ({
  pools: [{ name: "default", role: "colocated", instances: cfg.numInstances, config: cfg }],
  router,
  decodeRouter: router,
  kvTransfer: { crossNode: true, layerwise: false }
})

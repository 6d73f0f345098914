/**
 * MemoryService: the KV-cache capacity of an instance and a factory for its paged block manager
 * (each instance owns one KvCache).
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { NoKvMemory } from "../domain/errors.js"
import { type KvCapacity, kvCapacity } from "./capacity.js"
import { CountingKvCache, type KvCache } from "./KvCache.js"
import { CpuKvTier } from "./CpuKvTier.js"
import { PrefixCachingKvCache } from "./PrefixCachingKvCache.js"
import type { SimConfig } from "../domain/SimConfig.js"

export interface Memory {
  readonly capacity: KvCapacity
  /**
   * A fresh, empty KV cache: `capacity.numBlocks` blocks, or under pipeline parallelism one virtual
   * engine's share, floor(numBlocks / P) (vLLM V0 `Scheduler.__init__`: `num_gpu_blocks //= pipeline_parallel_size`).
   */
  readonly makeKvCache: () => KvCache
}

export class MemoryService extends Context.Tag("llmservingsim/MemoryService")<MemoryService, Memory>() {
  /** vLLM sizing from device memory, weights and activation reserve. Fails with NoKvMemory. */
  static readonly paged: Layer.Layer<MemoryService, NoKvMemory, ConfigService> = Layer.effect(
    MemoryService,
    Effect.gen(function*() {
      const cfg = yield* ConfigService
      const cap = kvCapacity(cfg.model, cfg.hardware, cfg.engine, cfg.pim === undefined ? undefined : cfg.pim.capacityGB * 1e9)
      if ("_tag" in cap) return yield* cap
      return fromCapacity(cap, cfg.engine.enablePrefixCaching, cfg.engine.pipelineParallelSize, offloadTier(cfg, cap))
    })
  )

  /** A fixed number of blocks per KV cache (tests; under PP, per virtual engine). */
  static readonly fixed = (numBlocks: number, blockSize: number, prefixCaching = false, offload?: OffloadSpec): Layer.Layer<MemoryService> =>
    Layer.succeed(MemoryService, fromCapacity({
      numBlocks, blockSize, blockBytes: 0, kvBytesPerToken: 0, weightBytes: 0, activationReserveBytes: 0, usableBytes: 0, overridden: true
    }, prefixCaching, 1, offload))
}

/** The host tier's size and load speed per instance (--kv-offloading-size), or undefined when off. */
export interface OffloadSpec {
  /** Host blocks per GPU: the GiB over the TP ranks, in blocks of `blockBytes` (one GPU's share of a block). */
  readonly capacityBlocks: number
  /** One block's copy host -> device, ns. */
  readonly loadNsPerBlock: number
}

/**
 * The CPU offloading tier of `cfg` on `cap`, or undefined without --kv-offloading-size. vLLM's
 * `kv_offloading_size` is the buffer summed over the TP ranks, each rank holding its shard of every
 * block; each GPU copies over its own host link at half its `hostLinkGBs` (the datasheet's
 * bidirectional PCIe figure; a load uses one direction), with no efficiency factor applied.
 */
export const offloadTier = (cfg: SimConfig, cap: KvCapacity): OffloadSpec | undefined => {
  const gib = cfg.engine.kvOffloadingSize
  const link = cfg.hardware.hostLinkGBs
  if (gib === undefined || link === undefined || cap.blockBytes <= 0) return undefined
  const perGpu = (gib * 2 ** 30) / cfg.engine.tensorParallelSize
  return { capacityBlocks: Math.floor(perGpu / cap.blockBytes), loadNsPerBlock: (cap.blockBytes / ((link / 2) * 1e9)) * 1e9 }
}

/** A fresh cache per call: with prefix caching (vLLM V1's default) or block counting only. */
const makeKvCache = (numBlocks: number, blockSize: number, prefixCaching: boolean, offload?: OffloadSpec): KvCache =>
  prefixCaching
    ? new PrefixCachingKvCache(numBlocks, blockSize, offload === undefined ? undefined : new CpuKvTier(offload.capacityBlocks, offload.loadNsPerBlock))
    : new CountingKvCache(numBlocks, blockSize)

const fromCapacity = (capacity: KvCapacity, prefixCaching: boolean, pp = 1, offload?: OffloadSpec): Memory => ({
  capacity,
  makeKvCache: () => makeKvCache(Math.floor(capacity.numBlocks / pp), capacity.blockSize, prefixCaching, offload)
})

/**
 * MemoryService: the KV-cache capacity of an instance and a factory for its paged block manager
 * (each instance owns one KvCache).
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { NoKvMemory } from "../domain/errors.js"
import { type KvCapacity, kvCapacity } from "./capacity.js"
import { CountingKvCache, type KvCache } from "./KvCache.js"
import { PrefixCachingKvCache } from "./PrefixCachingKvCache.js"

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
      return fromCapacity(cap, cfg.engine.enablePrefixCaching, cfg.engine.pipelineParallelSize)
    })
  )

  /** A fixed number of blocks per KV cache (tests; under PP, per virtual engine). */
  static readonly fixed = (numBlocks: number, blockSize: number, prefixCaching = false): Layer.Layer<MemoryService> =>
    Layer.succeed(MemoryService, fromCapacity({
      numBlocks, blockSize, blockBytes: 0, kvBytesPerToken: 0, weightBytes: 0, activationReserveBytes: 0, usableBytes: 0, overridden: true
    }, prefixCaching))
}

/** A fresh cache per call: with prefix caching (vLLM V1's default) or block counting only. */
const makeKvCache = (numBlocks: number, blockSize: number, prefixCaching: boolean): KvCache =>
  prefixCaching ? new PrefixCachingKvCache(numBlocks, blockSize) : new CountingKvCache(numBlocks, blockSize)

const fromCapacity = (capacity: KvCapacity, prefixCaching: boolean, pp = 1): Memory => ({
  capacity,
  makeKvCache: () => makeKvCache(Math.floor(capacity.numBlocks / pp), capacity.blockSize, prefixCaching)
})

/**
 * Paged KV cache of one instance, with vLLM V1's block semantics (vllm/v1/core/kv_cache_manager.py):
 * a request holds `ceil(tokens / block_size)` blocks for the tokens it has computed (or is
 * computing this step), allocated on demand as it grows and all released when it finishes or is
 * preempted.
 *
 * Two implementations share this interface:
 * - `CountingKvCache` (`--no-enable-prefix-caching`): block counts only, no block identities.
 * - `PrefixCachingKvCache` (`--enable-prefix-caching`, vLLM V1's default): block ids, content
 *   hashes and an LRU free queue, so released blocks stay reusable until evicted.
 */
import type { PromptContent } from "./blockHash.js"
import type { CpuKvTier } from "./CpuKvTier.js"

/** The per-request state a KV cache reads and updates (fields of SimRequest). */
export interface KvHolder {
  /** Blocks this request holds now. */
  blocks: number
  /** Unique id within the engine (keys the hashes of its content-unknown blocks). */
  readonly id: number
  readonly promptTokens: number
  /** Prompt + generated tokens so far (vLLM `num_tokens`). */
  readonly numTokens: number
  /** Times it was preempted (its lookups then count as preempted ones). */
  readonly preemptions: number
  /** What is known of the prompt's tokens (prefix caching); undefined = unique to this request. */
  readonly content: PromptContent | undefined
  /** Prefix caching: ids of the known-content blocks held, in token order. */
  blockTable: Int32Array | undefined
  /** Prefix caching: free-queue entry of its own blocks after a preemption, or -1. */
  ownRun: number
  /** Prefix caching: hash lanes (h1, h2 interleaved) of its full blocks computed so far. */
  hashes: Array<number> | undefined
  /** Prefix caching: its leading full blocks already offered to the cache. */
  cachedBlocks: number
}

/**
 * Prefix-cache counters, in tokens, per admission. As vLLM's PrefixCacheStats
 * (vllm/v1/metrics/stats.py), a request admitted again after a preemption counts apart, so a
 * victim finding its own blocks again does not inflate the hit rate; `queries` and `hits` are what
 * vLLM exports as `vllm:prefix_cache_queries` / `vllm:prefix_cache_hits`.
 */
export interface PrefixCacheStats {
  /** Tokens of the requests admitted for the first time (`request.num_tokens` at the lookup). */
  queries: number
  /** Of those, tokens whose KV was found in the cache. */
  hits: number
  /** The same for admissions after a preemption. */
  preemptedQueries: number
  preemptedHits: number
}

/** Add one admission's lookup to `s`. */
export const recordLookup = (s: PrefixCacheStats, preempted: boolean, tokens: number, hits: number): void => {
  if (preempted) {
    s.preemptedQueries += tokens
    s.preemptedHits += hits
  } else {
    s.queries += tokens
    s.hits += hits
  }
}

export const emptyPrefixCacheStats = (): PrefixCacheStats => ({ queries: 0, hits: 0, preemptedQueries: 0, preemptedHits: 0 })

export interface KvCache {
  /** The host-memory tier of vLLM's CPU offloading, when on (PrefixCachingKvCache only). */
  readonly offload?: CpuKvTier | undefined
  /** Load time of the host-tier blocks admitted since the last call, ns, then reset (with `offload`). */
  takeLoadNs?(): number
  /** Capacity in blocks (vLLM `num_gpu_blocks`). */
  readonly numBlocks: number
  /** Tokens per block (vLLM `block_size`). */
  readonly blockSize: number
  /** Blocks not held by any request (with prefix caching: including cached, evictable ones). */
  readonly free: number
  /** Blocks held by requests (0..numBlocks). */
  readonly usedBlocks: number
  readonly stats: PrefixCacheStats
  /**
   * Tokens of `r`'s known tokens whose KV is already cached: the longest run of full blocks whose
   * hashes are cached, capped below `r.numTokens` so at least one token is computed (vLLM
   * `get_computed_blocks`). 0 without prefix caching. The hit blocks are remembered for the
   * `admit` call that follows.
   */
  computedPrefix(r: KvHolder): number
  /**
   * Tokens of `r`'s prompt whose KV this cache holds now: the leading known-content full blocks
   * whose hashes are cached, capped as `computedPrefix` caps them (below `r.numTokens`), but
   * without its side effects: LRU order, reference counts, stats and the hit memo for `admit` are
   * untouched (only `r.hashes`, the request's own hash memo, may be extended). For routers that
   * compare instances before admission. Ignores the request's own blocks from a preemption (a new
   * arrival has none). 0 without prefix caching and, at once, for requests of unknown content.
   * Assumes every cache probed for one request has the same `block_size` (the memo is per request).
   */
  peekCachedPrefix(r: KvHolder): number
  /**
   * Admit a request that holds nothing (vLLM `allocate_slots` for a waiting request): take the
   * `hitTokens` blocks found by the preceding `computedPrefix(r)` and allocate blocks for
   * `totalTokens` tokens. When `fullTokens >= 0`, fail unless blocks for all `fullTokens` would
   * fit (`scheduler_reserve_full_isl`). Returns false, changing nothing, when blocks do not suffice.
   */
  admit(r: KvHolder, hitTokens: number, totalTokens: number, fullTokens: number): boolean
  /**
   * Grow `r` to cover `totalTokens` tokens (vLLM `allocate_slots` for a running request). Returns
   * false, changing nothing, when the free blocks do not suffice.
   */
  allocate(r: KvHolder, totalTokens: number): boolean
  /**
   * Return `r`'s blocks (vLLM `free`). With prefix caching they stay cached until evicted, the
   * last block first; `finished` also drops the request's hashes.
   */
  release(r: KvHolder, finished: boolean): void

  // ---- lazily advanced decoders (scheduler/DecodeCohort.ts): many requests growing by one token
  // per step, their blocks taken in bulk and their fields brought up to date only when read.

  /**
   * True when `r`, with `computedTokens` computed, holds exactly the blocks for them and growing it
   * one token at a time from there (allocate(r, computedTokens + 1), ...) would only take blocks
   * whose content is unique to it and cache no hash: each such allocation is then the same as
   * `takeBlocks` of the blocks it needs, with `settle` bringing `r`'s own fields up to date.
   */
  decodesLazily(r: KvHolder, computedTokens: number): boolean
  /** Take `n` (<= free) blocks for lazily grown requests, as their allocate() calls would. */
  takeBlocks(n: number): void
  /** Set `r`'s block fields as its allocate() calls up to `computedTokens` tokens would have (see decodesLazily). */
  settle(r: KvHolder, computedTokens: number): void
  /** Whether allocate(r, totalTokens) would cache hashes of `r`'s known-content blocks (false without prefix caching). */
  cachesOnAllocate(r: KvHolder, totalTokens: number): boolean
  /**
   * Whether taking `n` blocks from the free queue would evict a block cached under a hash (false
   * without prefix caching). When it would not, the order of the allocations that take them
   * within one step changes nothing but block ids.
   */
  evictsCached(n: number): boolean
}

/** Block counting only (prefix caching off). */
export class CountingKvCache implements KvCache {
  private freeBlocks: number
  readonly stats: PrefixCacheStats = emptyPrefixCacheStats()

  /**
   * @param numBlocks capacity in blocks (vLLM's `num_gpu_blocks`)
   * @param blockSize tokens per block (vLLM's `block_size`)
   */
  constructor(readonly numBlocks: number, readonly blockSize: number) {
    this.freeBlocks = numBlocks
  }

  get usedBlocks(): number {
    return this.numBlocks - this.freeBlocks
  }

  get free(): number {
    return this.freeBlocks
  }

  computedPrefix(): number {
    return 0
  }

  peekCachedPrefix(): number {
    return 0
  }

  admit(r: KvHolder, _hitTokens: number, totalTokens: number, fullTokens: number): boolean {
    if (fullTokens >= 0 && Math.ceil(fullTokens / this.blockSize) - r.blocks > this.freeBlocks) return false
    return this.allocate(r, totalTokens)
  }

  allocate(r: KvHolder, totalTokens: number): boolean {
    const need = Math.ceil(totalTokens / this.blockSize) - r.blocks
    if (need <= 0) return true
    if (need > this.freeBlocks) return false
    this.freeBlocks -= need
    r.blocks += need
    return true
  }

  release(r: KvHolder): void {
    this.freeBlocks += r.blocks
    r.blocks = 0
  }

  decodesLazily(r: KvHolder, computedTokens: number): boolean {
    return r.blocks === Math.ceil(computedTokens / this.blockSize)
  }

  takeBlocks(n: number): void {
    this.freeBlocks -= n
  }

  settle(r: KvHolder, computedTokens: number): void {
    r.blocks = Math.ceil(computedTokens / this.blockSize)
  }

  cachesOnAllocate(): boolean {
    return false
  }

  evictsCached(): boolean {
    return false
  }
}

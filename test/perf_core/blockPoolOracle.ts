/**
 * Test oracle: a per-block model of vLLM V1's BlockPool with prefix caching (every block an id in
 * one doubly linked LRU free list, as vLLM's FreeKVCacheBlockQueue). Simple and slow; the
 * simulator's PrefixCachingKvCache keeps runs of request-unique blocks as single queue entries and
 * must make the same decisions (test/perf_core/prefixCache.test.ts).
 */
import { blockHashesOf, knownLength } from "../../src/memory/blockHash.js"
import { emptyPrefixCacheStats, type KvCache, type KvHolder, type PrefixCacheStats, recordLookup } from "../../src/memory/KvCache.js"

/** Block states. */
const NONE = 0
const IN_MAP = 1
const OWNED = 2
/** Field offsets in the per-block record, and its width. */
const REF = 0
const PREV = 1
const NEXT = 2
const STATE = 3
const OWNER = 4
const IDX = 5
const H1 = 6
const H2 = 7
const W = 8

export class BlockPoolOracle implements KvCache {
  readonly stats: PrefixCacheStats = emptyPrefixCacheStats()
  /**
   * Per-block fields, 8 int32 per block so one block's state shares a cache line (block
   * numBlocks is the free list's sentinel: head = its NEXT, tail = its PREV).
   */
  private readonly m: Int32Array
  private readonly byHash = new Map<number, number>()
  private freeCount: number
  /** Hits found by the last computedPrefix() call, for the admit() that follows. */
  private hits = new Int32Array(64)
  private hitCount = 0
  private hitEvictable = 0
  private hitOwner: KvHolder | undefined = undefined
  /** Block tables of finished requests, reused (no garbage per request). */
  private readonly tablePool: Array<Int32Array> = []

  /**
   * @param numBlocks capacity in blocks (vLLM's `num_gpu_blocks`)
   * @param blockSize tokens per block (vLLM's `block_size`)
   */
  constructor(readonly numBlocks: number, readonly blockSize: number) {
    const m = this.m = new Int32Array((numBlocks + 1) * W)
    const S = numBlocks
    for (let b = 0; b <= numBlocks; b++) {
      m[b * W + NEXT] = b === S ? (numBlocks === 0 ? S : 0) : b + 1 === numBlocks ? S : b + 1
      m[b * W + PREV] = b === S ? (numBlocks === 0 ? S : numBlocks - 1) : b === 0 ? S : b - 1
    }
    this.freeCount = numBlocks
  }

  get free(): number {
    return this.freeCount
  }

  get usedBlocks(): number {
    return this.numBlocks - this.freeCount
  }

  /** Blocks registered in the hash map (cached, whether held or free). Tests and reports. */
  get cachedBlocks(): number {
    return this.byHash.size
  }

  private unlink(b: number): void {
    const p = this.m[b * W + PREV]!
    const n = this.m[b * W + NEXT]!
    this.m[p * W + NEXT] = n
    this.m[n * W + PREV] = p
    this.freeCount--
  }

  private append(b: number): void {
    const S = this.numBlocks
    const t = this.m[S * W + PREV]!
    this.m[t * W + NEXT] = b
    this.m[b * W + PREV] = t
    this.m[b * W + NEXT] = S
    this.m[S * W + PREV] = b
    this.freeCount++
  }

  /** Pop the least recently freed block, evicting its hash. */
  private popFree(): number {
    const b = this.m[this.numBlocks * W + NEXT]!
    this.unlink(b)
    if (this.m[b * W + STATE] === IN_MAP && this.byHash.get(this.m[b * W + H1]!) === b) this.byHash.delete(this.m[b * W + H1]!)
    this.m[b * W + STATE] = NONE
    this.m[b * W + REF] = 1
    return b
  }



  /** `r`'s block table with room for `n` ids (entries below r.blocks kept). */
  private tableFor(r: KvHolder, n: number): Int32Array {
    let t = r.blockTable
    if (t === undefined) t = r.blockTable = this.tablePool.pop() ?? new Int32Array(Math.max(16, n))
    if (t.length < n) {
      const g = new Int32Array(Math.max(n, 2 * t.length))
      g.set(t.subarray(0, r.blocks))
      t = r.blockTable = g
    }
    return t
  }

  /** Full blocks of `r` with known content (hashed, shareable). */
  private knownBlocks(r: KvHolder): number {
    return Math.floor(knownLength(r.content, r.promptTokens) / this.blockSize)
  }

  peekCachedPrefix(r: KvHolder): number {
    const known = Math.min(this.knownBlocks(r), Math.floor((r.numTokens - 1) / this.blockSize))
    if (r.content === undefined || known <= 0) return 0
    const hs = blockHashesOf(r, known, this.blockSize)
    let k = 0
    while (k < known) {
      const b = this.byHash.get(hs[2 * k]!)
      if (b === undefined || this.m[b * W + H2] !== hs[2 * k + 1]) break
      k++
    }
    return k * this.blockSize
  }

  computedPrefix(r: KvHolder): number {
    const bs = this.blockSize
    const maxBlocks = Math.floor((r.numTokens - 1) / bs)
    this.hitOwner = r
    this.hitCount = 0
    this.hitEvictable = 0
    if (maxBlocks <= 0) return 0
    if (this.hits.length < maxBlocks) this.hits = new Int32Array(Math.max(maxBlocks, 2 * this.hits.length))
    const known = Math.min(this.knownBlocks(r), maxBlocks)
    let k = 0
    let evictable = 0
    if (known > 0) {
      const hs = blockHashesOf(r, known, this.blockSize)
      for (; k < known; k++) {
        const b = this.byHash.get(hs[2 * k]!)
        if (b === undefined || this.m[b * W + H2] !== hs[2 * k + 1]) break
        this.hits[k] = b
        if (this.m[b * W + REF] === 0) evictable++
      }
    }
    const former = r.blockTable
    if (k === known && former !== undefined) {
      // its own blocks from before a preemption, while not evicted (they are all free)
      const end = Math.min(maxBlocks, former.length)
      for (; k < end; k++) {
        const b = former[k]!
        if (this.m[b * W + STATE] !== OWNED || this.m[b * W + OWNER] !== r.id || this.m[b * W + IDX] !== k) break
        this.hits[k] = b
        evictable++
      }
    }
    this.hitCount = k
    this.hitEvictable = evictable
    return k * bs
  }

  admit(r: KvHolder, hitTokens: number, totalTokens: number, fullTokens: number): boolean {
    const bs = this.blockSize
    const h = this.hitOwner === r && hitTokens === this.hitCount * bs ? this.hitCount : 0
    if (h * bs !== hitTokens) throw new Error("admit: hitTokens do not match the preceding computedPrefix()")
    const extra = h === 0 ? 0 : this.hitEvictable
    if (fullTokens >= 0 && Math.ceil(fullTokens / bs) - h + extra > this.freeCount) return false
    const fresh = Math.ceil(totalTokens / bs) - h
    if (fresh + extra > this.freeCount) return false
    // (ids from before a preemption are overwritten: the hits among them are in `hits`)
    const table = this.tableFor(r, h + fresh)
    for (let k = 0; k < h; k++) {
      const b = this.hits[k]!
      if (this.m[b * W + REF] === 0) this.unlink(b)
      this.m[b * W + REF]++
      table[k] = b
    }
    for (let k = h; k < h + fresh; k++) table[k] = this.popFree()
    r.blocks = h + fresh
    r.cachedBlocks = h
    this.hitOwner = undefined
    recordLookup(this.stats, r.preemptions > 0, r.numTokens, hitTokens)
    this.cacheFull(r, totalTokens)
    return true
  }

  allocate(r: KvHolder, totalTokens: number): boolean {
    const need = Math.ceil(totalTokens / this.blockSize) - r.blocks
    if (need > this.freeCount) return false
    if (need > 0) {
      const have = r.blocks
      const table = this.tableFor(r, have + need)
      for (let k = have; k < have + need; k++) table[k] = this.popFree()
      r.blocks = have + need
    }
    this.cacheFull(r, totalTokens)
    return true
  }

  /** Register `r`'s full blocks among its first min(tokens, numTokens) tokens. */
  private cacheFull(r: KvHolder, tokens: number): void {
    const upTo = Math.floor((tokens < r.numTokens ? tokens : r.numTokens) / this.blockSize)
    let k = r.cachedBlocks
    if (upTo <= k) return
    const table = r.blockTable!
    const known = Math.min(this.knownBlocks(r), upTo)
    if (k < known) {
      const hs = blockHashesOf(r, known, this.blockSize)
      for (; k < known; k++) {
        const b = table[k]!
        const a = hs[2 * k]!
        if (this.m[b * W + STATE] === NONE && !this.byHash.has(a)) {
          this.byHash.set(a, b)
          this.m[b * W + H1] = a
          this.m[b * W + H2] = hs[2 * k + 1]!
          this.m[b * W + STATE] = IN_MAP
        }
      }
    }
    for (; k < upTo; k++) {
      const b = table[k]!
      if (this.m[b * W + STATE] !== NONE) continue
      this.m[b * W + STATE] = OWNED
      this.m[b * W + OWNER] = r.id
      this.m[b * W + IDX] = k
    }
    r.cachedBlocks = upTo
  }

  release(r: KvHolder, finished: boolean): void {
    const table = r.blockTable
    if (table !== undefined && r.blocks > 0) {
      for (let k = r.blocks - 1; k >= 0; k--) {
        const b = table[k]!
        if (--this.m[b * W + REF] === 0) this.append(b)
      }
      // a preempted request keeps the ids to find its own blocks again (computedPrefix)
    }
    r.blocks = 0
    r.cachedBlocks = 0
    if (finished) {
      if (table !== undefined) this.tablePool.push(table)
      r.hashes = undefined
      r.blockTable = undefined
    }
  }

  // Every block here has an id and an owner, so no request is ever grown lazily: the engine steps
  // each of its decoders through allocate().
  decodesLazily(): boolean {
    return false
  }

  takeBlocks(n: number): void {
    if (n > 0) throw new Error("BlockPoolOracle: no lazily grown requests")
  }

  settle(): void {}

  cachesOnAllocate(): boolean {
    return true
  }

  evictsCached(): boolean {
    return true
  }
}

/**
 * Paged KV cache with automatic prefix caching, after vLLM V1's BlockPool
 * (vllm/v1/core/block_pool.py) and KVCacheManager:
 *
 * - Full blocks are cached under a chained hash of their tokens (blockHash.ts) when they are
 *   allocated for tokens about to be computed (`cache_full_blocks`); a hash already cached keeps
 *   its first block.
 * - Free blocks sit in an LRU queue. Releasing a request appends its blocks last-block-first, so a
 *   request's tail is evicted before its prefix. Allocation pops from the head and evicts what it
 *   pops (`_maybe_evict_cached_block`).
 * - A waiting request looks up its full blocks in order and stops at the first miss
 *   (`find_longest_cache_hit`), capped at num_tokens - 1. Admission "touches" the hit blocks
 *   (reference count + 1, out of the free queue if they were free): a hit block that was free
 *   still costs a free block, exactly as vLLM counts `num_evictable_computed_blocks`.
 *
 * Two kinds of blocks, so that a request whose content is unknown costs O(1), not O(blocks):
 * - Known-content blocks (the full blocks of a prompt's known tokens, see PromptContent) can be
 *   shared by any request. Each has an id, a reference count and a hash, and a queue entry of its
 *   own while free.
 * - Every other block (content unique to its request: unknown prompts, every block past the known
 *   part, all output) can only ever be hit by its own request, after a preemption. These are
 *   anonymous: a request holds a count of them, and releasing it appends one queue entry, a run
 *   covering its block indices [lo, hi) of which the first `full - lo` are hittable. Popping takes
 *   units from the run's top (its last block first, as vLLM's per-block order would), so the blocks
 *   the request can find again are always the run's bottom part.
 *
 * The queue is a doubly linked list of entries in typed arrays; a run's owner is a reference kept
 * beside it. The free queue holds exactly the blocks vLLM's would, in the same order, so hits,
 * evictions and admission decisions match a per-block model (tested against one).
 */
import { blockHashesOf, knownLength } from "./blockHash.js"
import { BlockHashTable } from "./BlockHashTable.js"
import type { CpuKvTier } from "./CpuKvTier.js"
import { emptyPrefixCacheStats, type KvCache, type KvHolder, type PrefixCacheStats, recordLookup } from "./KvCache.js"

/** Queue entry kind (eBlock): a run of anonymous blocks, or else the id of one known block. */
const RUN = -1
/** Entry 0 is the list's sentinel: head = eNext[0], tail = ePrev[0]. */
const S = 0

export class PrefixCachingKvCache implements KvCache {
  readonly stats: PrefixCacheStats = emptyPrefixCacheStats()
  private freeCount: number

  // queue entries (index 0 = sentinel); at most one per free block, so numBlocks + 1 suffice
  private readonly ePrev: Int32Array
  private readonly eNext: Int32Array
  private readonly eBlock: Int32Array
  private readonly eLo: Int32Array
  private readonly eHi: Int32Array
  private readonly eFull: Int32Array
  private readonly eOwner: Array<KvHolder | null>
  private readonly freeEntries: Int32Array
  private freeEntryTop: number

  // known blocks, by id
  private readonly refCnt: Int32Array
  private readonly entryOf: Int32Array
  private readonly h1: Int32Array
  private readonly h2: Int32Array
  private readonly inMap: Uint8Array
  private readonly byHash: BlockHashTable
  private readonly freeIds: Int32Array
  private freeIdTop: number

  /** Known-block hits of the last computedPrefix() call, plus own anonymous hits, for admit(). */
  private hits = new Int32Array(64)
  private hitKnown = 0
  private hitOwn = 0
  private hitEvictable = 0
  private hitOwner: KvHolder | undefined = undefined
  /** Blocks of the last computedPrefix() found in the host tier after the GPU hits (to load on admit). */
  private hitCpu = 0
  /** Host-tier blocks admitted since the last takeLoadNs(). */
  private pendingLoads = 0
  private readonly tablePool: Array<Int32Array> = []

  /**
   * @param numBlocks capacity in blocks (vLLM's `num_gpu_blocks`)
   * @param blockSize tokens per block (vLLM's `block_size`)
   * @param offload the host-memory tier of vLLM's CPU offloading (`--kv-offloading-size`), if any
   */
  constructor(readonly numBlocks: number, readonly blockSize: number, readonly offload?: CpuKvTier) {
    const n = numBlocks + 1
    this.ePrev = new Int32Array(n)
    this.eNext = new Int32Array(n)
    this.eBlock = new Int32Array(n)
    this.eLo = new Int32Array(n)
    this.eHi = new Int32Array(n)
    this.eFull = new Int32Array(n)
    this.eOwner = new Array<KvHolder | null>(n).fill(null)
    this.freeEntries = new Int32Array(n)
    this.freeEntryTop = 0
    for (let e = n - 1; e >= 1; e--) this.freeEntries[this.freeEntryTop++] = e
    this.refCnt = new Int32Array(numBlocks)
    this.entryOf = new Int32Array(numBlocks)
    this.h1 = new Int32Array(numBlocks)
    this.h2 = new Int32Array(numBlocks)
    this.inMap = new Uint8Array(numBlocks)
    this.byHash = new BlockHashTable(numBlocks)
    this.freeIds = new Int32Array(numBlocks)
    this.freeIdTop = 0
    for (let b = numBlocks - 1; b >= 0; b--) this.freeIds[this.freeIdTop++] = b
    this.ePrev[S] = this.eNext[S] = S
    this.freeCount = 0
    // the never-used blocks: one ownerless run
    if (numBlocks > 0) this.appendRun(null, 0, numBlocks, 0)
  }

  get free(): number {
    return this.freeCount
  }

  get usedBlocks(): number {
    return this.numBlocks - this.freeCount
  }

  /** Known blocks cached under their hash (held or free). Tests and reports. */
  get cachedBlocks(): number {
    return this.byHash.size
  }

  // ---- the free queue

  private link(e: number): void {
    const t = this.ePrev[S]!
    this.eNext[t] = e
    this.ePrev[e] = t
    this.eNext[e] = S
    this.ePrev[S] = e
  }

  private unlink(e: number): void {
    const p = this.ePrev[e]!
    const n = this.eNext[e]!
    this.eNext[p] = n
    this.ePrev[n] = p
    this.eOwner[e] = null
    this.freeEntries[this.freeEntryTop++] = e
  }

  private appendRun(owner: KvHolder | null, lo: number, hi: number, full: number): number {
    const e = this.freeEntries[--this.freeEntryTop]!
    this.eBlock[e] = RUN
    this.eLo[e] = lo
    this.eHi[e] = hi
    this.eFull[e] = full
    this.eOwner[e] = owner
    this.link(e)
    this.freeCount += hi - lo
    return e
  }

  private appendKnown(b: number): void {
    const e = this.freeEntries[--this.freeEntryTop]!
    this.eBlock[e] = b
    this.entryOf[b] = e
    this.link(e)
    this.freeCount++
  }

  /** Take `n` (<= free) blocks from the head of the queue, evicting what they cached. */
  private popBlocks(n: number): void {
    this.freeCount -= n
    while (n > 0) {
      const e = this.eNext[S]!
      const b = this.eBlock[e]!
      if (b === RUN) {
        const size = this.eHi[e]! - this.eLo[e]!
        const t = size < n ? size : n
        this.eHi[e]! -= t
        n -= t
        if (t === size) {
          const owner = this.eOwner[e]
          if (owner !== null) owner.ownRun = -1
          this.unlink(e)
        }
      } else {
        if (this.inMap[b] === 1) {
          this.byHash.deleteIf(this.h1[b]!, b)
          this.inMap[b] = 0
        }
        this.freeIds[this.freeIdTop++] = b
        this.unlink(e)
        n--
      }
    }
  }

  // ---- requests

  /** Full blocks of `r` with known content (hashed, shareable). */
  private knownBlocks(r: KvHolder): number {
    return r.content === undefined ? 0 : Math.floor(knownLength(r.content, r.promptTokens) / this.blockSize)
  }



  /** `r`'s table of known block ids with room for `n` (entries below `keep` kept). */
  private tableFor(r: KvHolder, n: number, keep: number): Int32Array {
    let t = r.blockTable
    if (t === undefined) t = r.blockTable = this.tablePool.pop() ?? new Int32Array(Math.max(16, n))
    if (t.length < n) {
      const g = new Int32Array(Math.max(n, 2 * t.length))
      g.set(t.subarray(0, keep))
      t = r.blockTable = g
    }
    return t
  }

  /** Known blocks `r` holds when it holds `blocks` blocks. */
  private heldKnown(r: KvHolder, blocks: number): number {
    const k = this.knownBlocks(r)
    return blocks < k ? blocks : k
  }

  /** Give `r` blocks [from, to): pop them from the queue; known positions get ids. */
  private grow(r: KvHolder, from: number, to: number): void {
    this.popBlocks(to - from)
    const known = this.knownBlocks(r)
    if (from < known) {
      const end = to < known ? to : known
      const table = this.tableFor(r, end, from)
      for (let k = from; k < end; k++) {
        const b = this.freeIds[--this.freeIdTop]!
        this.refCnt[b] = 1
        table[k] = b
      }
    }
    r.blocks = to
  }

  computedPrefix(r: KvHolder): number {
    const bs = this.blockSize
    const maxBlocks = Math.floor((r.numTokens - 1) / bs)
    this.hitOwner = r
    this.hitKnown = 0
    this.hitOwn = 0
    this.hitEvictable = 0
    this.hitCpu = 0
    if (maxBlocks <= 0) return 0
    const knownAll = this.knownBlocks(r)
    const known = knownAll < maxBlocks ? knownAll : maxBlocks
    let k = 0
    let evictable = 0
    if (known > 0) {
      if (this.hits.length < known) this.hits = new Int32Array(Math.max(known, 2 * this.hits.length))
      const hs = blockHashesOf(r, known, this.blockSize)
      for (; k < known; k++) {
        const b = this.byHash.get(hs[2 * k]!)
        if (b < 0 || this.h2[b] !== hs[2 * k + 1]) break
        this.hits[k] = b
        if (this.refCnt[b] === 0) evictable++
      }
      // vLLM's offloading connector: the blocks after the GPU hits that the host tier holds
      const off = this.offload
      if (off !== undefined && k < known) {
        let c = k
        while (c < known && off.has(hs[2 * c]!, hs[2 * c + 1]!)) c++
        if (c > k) {
          this.hitKnown = k
          this.hitCpu = c - k
          this.hitEvictable = evictable
          return c * bs
        }
      }
    }
    this.hitKnown = k
    // its own anonymous blocks from before a preemption: the bottom of its run, while not evicted
    const e = r.ownRun
    if (k === knownAll && e >= 0 && this.eLo[e] === k) {
      let top = this.eHi[e]!
      if (this.eFull[e]! < top) top = this.eFull[e]!
      if (maxBlocks < top) top = maxBlocks
      if (top > k) {
        this.hitOwn = top - k
        evictable += top - k
        k = top
      }
    }
    this.hitEvictable = evictable
    return k * bs
  }

  peekCachedPrefix(r: KvHolder): number {
    if (r.content === undefined) return 0
    const bs = this.blockSize
    const maxBlocks = Math.floor((r.numTokens - 1) / bs)
    const knownAll = this.knownBlocks(r)
    const known = knownAll < maxBlocks ? knownAll : maxBlocks
    if (known <= 0) return 0
    const hs = blockHashesOf(r, known, bs)
    let k = 0
    for (; k < known; k++) {
      const b = this.byHash.get(hs[2 * k]!)
      if (b === undefined || this.h2[b] !== hs[2 * k + 1]) break
    }
    return k * bs
  }

  admit(r: KvHolder, hitTokens: number, totalTokens: number, fullTokens: number): boolean {
    const bs = this.blockSize
    const mine = this.hitOwner === r
    const cpu = mine ? this.hitCpu : 0
    // hits held on the GPU; the host-tier hits after them need blocks like computed tokens do
    const h = mine ? this.hitKnown + this.hitOwn : 0
    if ((h + cpu) * bs !== hitTokens) throw new Error("admit: hitTokens do not match the preceding computedPrefix()")
    const extra = h === 0 ? 0 : this.hitEvictable
    if (fullTokens >= 0 && Math.ceil(fullTokens / bs) - h + extra > this.freeCount) return false
    const total = Math.ceil(totalTokens / bs)
    if (total - h + extra > this.freeCount) return false
    const hk = h === 0 ? 0 : this.hitKnown
    if (hk > 0) {
      const table = this.tableFor(r, hk, 0)
      for (let k = 0; k < hk; k++) {
        const b = this.hits[k]!
        if (this.refCnt[b] === 0) {
          this.unlink(this.entryOf[b]!)
          this.freeCount--
        }
        this.refCnt[b]++
        table[k] = b
      }
    }
    const e = r.ownRun
    if (e >= 0) {
      // take the hit part of its old run; what is left of the run is no longer its own
      const own = h === 0 ? 0 : this.hitOwn
      this.eLo[e]! += own
      this.freeCount -= own
      if (this.eLo[e] === this.eHi[e]) this.unlink(e)
      else this.eOwner[e] = null
      r.ownRun = -1
    }
    r.blocks = h
    this.grow(r, h, total)
    r.cachedBlocks = h
    this.hitOwner = undefined
    this.hitCpu = 0
    recordLookup(this.stats, r.preemptions > 0, r.numTokens, h * bs)
    if (cpu > 0) {
      const off = this.offload!
      const hs = r.hashes!
      for (let k = h; k < h + cpu; k++) off.touch(hs[2 * k]!, hs[2 * k + 1]!)
      off.loaded += cpu
      this.pendingLoads += cpu
    }
    this.cacheFull(r, totalTokens)
    return true
  }

  allocate(r: KvHolder, totalTokens: number): boolean {
    const total = Math.ceil(totalTokens / this.blockSize)
    const need = total - r.blocks
    if (need > this.freeCount) return false
    if (need > 0) this.grow(r, r.blocks, total)
    this.cacheFull(r, totalTokens)
    return true
  }

  /** Cache `r`'s full blocks among its first min(tokens, numTokens) tokens. */
  private cacheFull(r: KvHolder, tokens: number): void {
    const upTo = Math.floor((tokens < r.numTokens ? tokens : r.numTokens) / this.blockSize)
    const k0 = r.cachedBlocks
    if (upTo <= k0) return
    const knownAll = this.knownBlocks(r)
    const known = knownAll < upTo ? knownAll : upTo
    if (k0 < known) {
      const hs = blockHashesOf(r, known, this.blockSize)
      const table = r.blockTable!
      for (let k = k0; k < known; k++) {
        const b = table[k]!
        const a = hs[2 * k]!
        if (this.inMap[b] === 0 && this.byHash.setIfAbsent(a, b)) {
          this.h1[b] = a
          this.h2[b] = hs[2 * k + 1]!
          this.inMap[b] = 1
          this.offload?.store(a, hs[2 * k + 1]!)
        }
      }
    }
    r.cachedBlocks = upTo
  }

  /**
   * Time to load the host-tier blocks admitted since the last call, ns (0 without offloading), and
   * reset: the instance adds it to the step that admitted them (the load is synchronous here; vLLM's
   * connector loads asynchronously while the request waits, so this is exact for the request and
   * pessimistic for the others in its batch).
   */
  takeLoadNs(): number {
    const n = this.pendingLoads
    if (n === 0) return 0
    this.pendingLoads = 0
    return n * this.offload!.loadNsPerBlock
  }

  decodesLazily(r: KvHolder, computedTokens: number): boolean {
    const bs = this.blockSize
    const full = Math.floor(computedTokens / bs)
    return r.blocks === Math.ceil(computedTokens / bs) && r.cachedBlocks === full && full >= this.knownBlocks(r)
  }

  takeBlocks(n: number): void {
    this.popBlocks(n)
  }

  settle(r: KvHolder, computedTokens: number): void {
    const bs = this.blockSize
    r.blocks = Math.ceil(computedTokens / bs)
    r.cachedBlocks = Math.floor(computedTokens / bs)
  }

  cachesOnAllocate(r: KvHolder, totalTokens: number): boolean {
    const upTo = Math.floor((totalTokens < r.numTokens ? totalTokens : r.numTokens) / this.blockSize)
    if (upTo <= r.cachedBlocks) return false
    const knownAll = this.knownBlocks(r)
    return r.cachedBlocks < (knownAll < upTo ? knownAll : upTo)
  }

  evictsCached(n: number): boolean {
    let e = this.eNext[S]!
    while (n > 0 && e !== S) {
      const b = this.eBlock[e]!
      if (b === RUN) n -= this.eHi[e]! - this.eLo[e]!
      else {
        if (this.inMap[b] === 1) return true
        n--
      }
      e = this.eNext[e]!
    }
    return false
  }

  release(r: KvHolder, finished: boolean): void {
    const blocks = r.blocks
    if (blocks > 0) {
      // vLLM frees in reverse: the anonymous tail first (one run), then the known blocks
      const hk = this.heldKnown(r, blocks)
      if (blocks > hk) {
        const full = r.cachedBlocks < blocks ? r.cachedBlocks : blocks
        const e = this.appendRun(finished ? null : r, hk, blocks, full)
        if (!finished) r.ownRun = e
      }
      const table = r.blockTable
      for (let k = hk - 1; k >= 0; k--) {
        const b = table![k]!
        if (--this.refCnt[b] === 0) this.appendKnown(b)
      }
    } else if (r.ownRun >= 0) {
      if (finished) {
        this.eOwner[r.ownRun] = null
        r.ownRun = -1
      }
    }
    r.blocks = 0
    r.cachedBlocks = 0
    if (finished) {
      if (r.blockTable !== undefined) this.tablePool.push(r.blockTable)
      r.blockTable = undefined
      r.hashes = undefined
    }
  }
}

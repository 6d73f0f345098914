/**
 * The prefix cache's index: block hash (int32, already well mixed by blockHash.ts's fmix) -> block
 * id (int32 >= 0), an open-addressing table with linear probing and backward-shift deletion in two
 * typed arrays. It does what a `Map<number, number>` did in PrefixCachingKvCache, without the
 * Map's boxing and rehashing: on the Mooncake trace (about 750 blocks per prompt) the Map's get/set
 * were the largest share of a run's time.
 *
 * Capacity is fixed at construction (at least `maxEntries`, a power of two with load <= 1/2), so a
 * cache of `numBlocks` blocks, which indexes each block at most once, never fills it.
 */
export class BlockHashTable {
  private readonly keys: Int32Array
  /** Block id per slot; -1 = empty. */
  private readonly vals: Int32Array
  private readonly mask: number
  private count = 0

  /** @param maxEntries the most entries held at once (the cache's block count) */
  constructor(maxEntries: number) {
    let cap = 16
    while (cap < 2 * maxEntries) cap *= 2
    this.keys = new Int32Array(cap)
    this.vals = new Int32Array(cap).fill(-1)
    this.mask = cap - 1
  }

  /** Entries held. */
  get size(): number {
    return this.count
  }

  /** The block id stored under `key`, or -1. */
  get(key: number): number {
    const m = this.mask
    for (let i = key & m; ; i = (i + 1) & m) {
      const v = this.vals[i]!
      if (v < 0) return -1
      if (this.keys[i] === key) return v
    }
  }

  /** Store `val` (>= 0) under `key` unless the key is present; true when stored. */
  setIfAbsent(key: number, val: number): boolean {
    const m = this.mask
    let i = key & m
    for (; this.vals[i]! >= 0; i = (i + 1) & m) if (this.keys[i] === key) return false
    this.keys[i] = key
    this.vals[i] = val
    this.count++
    return true
  }

  /** Remove `key` when it maps to `val` (a block evicted from the cache); true when removed. */
  deleteIf(key: number, val: number): boolean {
    const m = this.mask
    let i = key & m
    for (;; i = (i + 1) & m) {
      const v = this.vals[i]!
      if (v < 0) return false
      if (this.keys[i] === key) {
        if (v !== val) return false
        break
      }
    }
    // backward-shift: move later entries of the probe run into the hole so lookups never stop early
    let hole = i
    for (let j = (i + 1) & m; this.vals[j]! >= 0; j = (j + 1) & m) {
      const home = this.keys[j]! & m
      // the entry at j may move to the hole when its home is not in (hole, j] (cyclically)
      if (hole <= j ? home <= hole || home > j : home <= hole && home > j) {
        this.keys[hole] = this.keys[j]!
        this.vals[hole] = this.vals[j]!
        hole = j
      }
    }
    this.vals[hole] = -1
    this.count--
    return true
  }
}

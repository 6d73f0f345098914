/**
 * The host-memory KV tier of vLLM's native CPU offloading (`--kv-offloading-size GiB
 * --kv-offloading-backend native`, vllm/v1/kv_offload: the OffloadingConnector with its CPU
 * backend and LRU policy): every full KV block the GPU prefix cache registers is also stored in
 * host memory, up to `capacityBlocks` blocks, the least recently used evicted first. A request whose
 * GPU prefix-cache lookup stops at a miss goes on looking here; the blocks found are loaded back
 * over the host link instead of being recomputed.
 *
 * Stores run on their own copy stream in the device-to-host direction while the GPU computes
 * (vLLM schedules them asynchronously after each step), so they are not charged to any step; a
 * load (host to device) of `n` blocks takes `n x loadNsPerBlock` (PrefixCachingKvCache charges it to
 * the step that admits the request; see takeLoadNs).
 *
 * Only blocks of known content (blockHash.ts) are kept: a block unique to its request can never be
 * found by another request, so the simulator leaves it out, where vLLM would store it too and spend
 * host capacity and link time on it (the tier here holds more reusable blocks than vLLM's of the
 * same size would).
 *
 * An LRU list over slots in typed arrays, indexed by the hash's first lane (BlockHashTable) and
 * checked on the second, as the GPU cache does: O(1) per store, lookup and touch.
 */
import { BlockHashTable } from "./BlockHashTable.js"

export class CpuKvTier {
  private readonly h1: Int32Array
  private readonly h2: Int32Array
  private readonly prev: Int32Array
  private readonly next: Int32Array
  private readonly index: BlockHashTable
  /** Slots in use (they are taken in order until the tier is full, then the LRU one is reused). */
  private used = 0
  /** LRU list: head = least recently used; slot `capacityBlocks` is the sentinel. */
  private readonly s: number
  /** Blocks stored (copies to host memory), loaded (copies back) and evicted, for the summary. */
  stored = 0
  loaded = 0
  evicted = 0

  /**
   * @param capacityBlocks host blocks (`--kv-offloading-size` per GPU / the GPU block's bytes)
   * @param loadNsPerBlock time to copy one block host -> device, ns
   */
  constructor(readonly capacityBlocks: number, readonly loadNsPerBlock: number) {
    const n = capacityBlocks + 1
    this.h1 = new Int32Array(n)
    this.h2 = new Int32Array(n)
    this.prev = new Int32Array(n)
    this.next = new Int32Array(n)
    this.index = new BlockHashTable(Math.max(1, capacityBlocks))
    this.s = capacityBlocks
    this.prev[this.s] = this.next[this.s] = this.s
  }

  private unlink(i: number): void {
    this.next[this.prev[i]!] = this.next[i]!
    this.prev[this.next[i]!] = this.prev[i]!
  }

  private append(i: number): void {
    const t = this.prev[this.s]!
    this.next[t] = i
    this.prev[i] = t
    this.next[i] = this.s
    this.prev[this.s] = i
  }

  /** The slot holding block hash (a, b), or -1. */
  private find(a: number, b: number): number {
    const i = this.index.get(a)
    return i >= 0 && this.h2[i] === b ? i : -1
  }

  /** Whether block hash (a, b) is held (no change to the LRU order). */
  has(a: number, b: number): boolean {
    return this.find(a, b) >= 0
  }

  /** Mark (a, b) as just used (a hit being loaded back); no-op when absent. */
  touch(a: number, b: number): void {
    const i = this.find(a, b)
    if (i < 0) return
    this.unlink(i)
    this.append(i)
  }

  /** Store block hash (a, b) (or refresh it when held), evicting the least recently used block when full. */
  store(a: number, b: number): void {
    if (this.capacityBlocks === 0) return
    const held = this.index.get(a)
    if (held >= 0) {
      if (this.h2[held] === b) {
        this.unlink(held)
        this.append(held)
        return
      }
      // another block under the same first lane (a 32-bit collision): keep the held one
      return
    }
    let i: number
    if (this.used < this.capacityBlocks) i = this.used++
    else {
      i = this.next[this.s]!
      this.unlink(i)
      this.index.deleteIf(this.h1[i]!, i)
      this.evicted++
    }
    this.h1[i] = a
    this.h2[i] = b
    this.index.setIfAbsent(a, i)
    this.append(i)
    this.stored++
  }

  /** Blocks held now. */
  get size(): number {
    return this.index.size
  }
}

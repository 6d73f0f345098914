import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { PromptContent } from "../../src/memory/blockHash.js"
import { CountingKvCache, type KvCache, type KvHolder } from "../../src/memory/KvCache.js"
import { PrefixCachingKvCache } from "../../src/memory/PrefixCachingKvCache.js"
import { RequestQueue } from "../../src/scheduler/RequestQueue.js"

let nextId = 0
/** A request-like KV holder whose numTokens can be set. */
const holder = (promptTokens: number, content?: PromptContent) => {
  const h = {
    blocks: 0, id: nextId++, promptTokens, numTokens: promptTokens, preemptions: 0, content,
    blockTable: undefined as Int32Array | undefined, ownRun: -1, hashes: undefined as Array<number> | undefined, cachedBlocks: 0
  }
  return h satisfies KvHolder
}
const tokens = (n: number, salt = 0) => ({ kind: "tokens", ids: Int32Array.from({ length: n }, (_, i) => i * 7 + salt) }) as const

/** Admit `r` the way the scheduler does: prefix lookup, then allocation for `n` new tokens. */
const admit = (kv: KvCache, r: KvHolder, n: number, full = -1) => {
  const hit = kv.computedPrefix(r)
  return { ok: kv.admit(r, hit, hit + n, full), hit }
}

describe.each([
  ["counting", (n: number, bs: number): KvCache => new CountingKvCache(n, bs)],
  ["prefix caching", (n: number, bs: number): KvCache => new PrefixCachingKvCache(n, bs)]
])("paged KV cache (%s)", (_name, make) => {
  it("allocates on demand in whole blocks and frees everything", () => {
    const kv = make(10, 16)
    const r = holder(300)
    expect(kv.allocate(r, 1)).toBe(true)
    expect(r.blocks).toBe(1)
    expect(kv.allocate(r, 16)).toBe(true)
    expect(r.blocks).toBe(1)
    expect(kv.allocate(r, 17)).toBe(true)
    expect(r.blocks).toBe(2)
    expect(kv.allocate(r, 200)).toBe(false) // needs 13 > 8 free: nothing changes
    expect(r.blocks).toBe(2)
    expect(kv.usedBlocks).toBe(2)
    kv.release(r, true)
    expect(kv.usedBlocks).toBe(0)
  })

  it.prop("blocks in use never exceed capacity and equal the holders' sum (no shared content)", [
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2000 }), fc.boolean()), { maxLength: 200, size: "max" })
  ], ([capacity, ops]) => {
    const kv = make(capacity, 16)
    const holders = Array.from({ length: 8 }, () => holder(2000))
    for (const [h, n, free] of ops) {
      const r = holders[h]!
      if (free) kv.release(r, false)
      else if (r.blocks === 0) admit(kv, r, Math.max(1, n))
      else kv.allocate(r, n)
      expect(kv.usedBlocks).toBeLessThanOrEqual(capacity)
      expect(kv.usedBlocks).toBe(holders.reduce((a, x) => a + x.blocks, 0))
    }
  })

  it("scheduler_reserve_full_isl: admission needs blocks for the whole sequence", () => {
    const kv = make(4, 4)
    const a = holder(8)
    expect(admit(kv, a, 8, 8).ok).toBe(true)
    const b = holder(12)
    expect(admit(kv, b, 4, 12).ok).toBe(false) // 3 blocks for 12 tokens, 2 free
    expect(admit(kv, b, 4, -1).ok).toBe(true)
  })
})

describe("prefix caching", () => {
  it("a request sharing a prompt prefix starts at the cached full blocks, at most num_tokens - 1", () => {
    const kv = new PrefixCachingKvCache(100, 16)
    const a = holder(50, tokens(50))
    expect(admit(kv, a, 50).hit).toBe(0)
    // b shares a's first 40 tokens: 2 full blocks (32 tokens) are cached
    const ids = tokens(60).ids.slice()
    ids[40] = -1
    const b = holder(60, { kind: "tokens", ids })
    const { ok, hit } = admit(kv, b, 60 - 32)
    expect([ok, hit]).toEqual([true, 32])
    expect(b.blocks).toBe(4) // 2 shared + 2 new
    expect(kv.usedBlocks).toBe(4 + 2) // a's 4 blocks, b's 2 new ones
    // an identical 48-token prompt hits 2 blocks, not 3: the last token must be computed
    const c = holder(48, tokens(48))
    expect(admit(kv, c, 16).hit).toBe(32)
    expect(kv.stats).toEqual({ queries: 50 + 60 + 48, hits: 64, preemptedQueries: 0, preemptedHits: 0 })
  })

  it("released blocks stay cached until evicted, the request's tail first (LRU)", () => {
    const kv = new PrefixCachingKvCache(6, 4)
    const a = holder(16, tokens(16, 1))
    admit(kv, a, 16)
    kv.release(a, true) // all 4 blocks free but cached
    expect(kv.free).toBe(6)
    expect(kv.cachedBlocks).toBe(4)
    // a 12-token unique request takes the 2 never-used blocks, then evicts a's last block
    const x = holder(12)
    admit(kv, x, 12)
    expect(kv.cachedBlocks).toBe(3) // x's blocks are unique to it: tagged with their owner, not hashed
    const again = holder(17, tokens(17, 1))
    expect(kv.computedPrefix(again)).toBe(12) // blocks 0-2 survived; block 3 was evicted
  })

  it("a preempted request finds its own blocks again, even without known content", () => {
    const kv = new PrefixCachingKvCache(20, 16)
    const r = holder(100)
    admit(kv, r, 100)
    ;(r as { numTokens: number }).numTokens = 105 // five tokens generated
    kv.allocate(r, 105)
    kv.release(r, false) // preempted: recompute from the cache
    ;(r as { preemptions: number }).preemptions++
    expect(kv.computedPrefix(r)).toBe(96) // 6 full blocks of 105 tokens
    expect(kv.admit(r, 96, 105, -1)).toBe(true)
    // its re-admission counts apart, as vLLM's preempted_queries / preempted_hits
    expect(kv.stats).toEqual({ queries: 100, hits: 0, preemptedQueries: 105, preemptedHits: 96 })
    kv.release(r, false)
    const other = holder(105)
    expect(kv.computedPrefix(other)).toBe(0) // unknown content never matches another request
    kv.release(r, true) // aborted while waiting: it holds nothing, nothing is freed twice
    expect(kv.free).toBe(20)
    expect(kv.usedBlocks).toBe(0)
  })

  it("a hit on a free cached block costs a free block (vLLM's evictable computed blocks)", () => {
    const kv = new PrefixCachingKvCache(4, 4)
    const a = holder(9, tokens(9))
    admit(kv, a, 9)
    kv.release(a, true) // 3 blocks free, 2 of them full and cached
    const b = holder(17, tokens(17))
    // hit 8 tokens (2 free cached blocks) + 9 new tokens = 3 new blocks: 5 > 4 free
    expect(admit(kv, b, 9).ok).toBe(false)
    expect(kv.free).toBe(4)
    const c = holder(13, tokens(13))
    expect(admit(kv, c, 5)).toEqual({ ok: true, hit: 8 })
    expect(kv.usedBlocks).toBe(4)
  })

  it("Mooncake hash ids: equal ids mean equal 512-token blocks", () => {
    const kv = new PrefixCachingKvCache(1000, 16)
    const a = holder(1100, { kind: "hash-blocks", ids: Float64Array.of(11, 12, 13), blockTokens: 512 })
    admit(kv, a, 1100)
    const b = holder(1500, { kind: "hash-blocks", ids: Float64Array.of(11, 99, 13), blockTokens: 512 })
    expect(kv.computedPrefix(b)).toBe(512)
    const c = holder(700, { kind: "hash-blocks", ids: Float64Array.of(11, 12), blockTokens: 512 })
    expect(kv.computedPrefix(c)).toBe(688) // 43 full blocks of 16 below 700
  })

  it.prop("shared blocks are counted once; used + free = capacity; every block returns when all finish", [
    fc.integer({ min: 8, max: 80 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 2 }), fc.boolean()), { maxLength: 150, size: "max" })
  ], ([capacity, ops]) => {
    const kv = new PrefixCachingKvCache(capacity, 4)
    const live: Array<KvHolder | undefined> = Array.from({ length: 6 })
    for (const [slot, len, family, finish] of ops) {
      const cur = live[slot]
      if (cur !== undefined) {
        kv.release(cur, finish)
        live[slot] = undefined
      } else {
        const r = holder(len, tokens(len, family))
        if (admit(kv, r, len - kv.computedPrefix(r)).ok) live[slot] = r
      }
      expect(kv.usedBlocks + kv.free).toBe(capacity)
      expect(kv.usedBlocks).toBeLessThanOrEqual(live.reduce((a, x) => a + (x?.blocks ?? 0), 0))
    }
    for (const r of live) if (r !== undefined) kv.release(r, true)
    expect(kv.free).toBe(capacity)
  })
})

describe("waiting queue", () => {
  it("is FCFS with preempted requests at the front", () => {
    const q = new RequestQueue<number>(2)
    for (let i = 0; i < 5; i++) q.pushBack(i)
    q.pushFront(-1)
    expect(q.popFront()).toBe(-1)
    expect(q.remove(3)).toBe(true)
    const out: Array<number> = []
    while (q.length > 0) out.push(q.popFront()!)
    expect(out).toEqual([0, 1, 2, 4])
  })
})

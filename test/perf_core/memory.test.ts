import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { KvCache } from "../../src/memory/KvCache.js"
import { RequestQueue } from "../../src/scheduler/RequestQueue.js"

describe("paged KV cache", () => {
  it("allocates on demand in whole blocks and frees everything", () => {
    const kv = new KvCache(10, 16)
    const r = { blocks: 0 }
    expect(kv.allocate(r, 1)).toBe(true)
    expect(r.blocks).toBe(1)
    expect(kv.allocate(r, 16)).toBe(true)
    expect(r.blocks).toBe(1)
    expect(kv.allocate(r, 17)).toBe(true)
    expect(r.blocks).toBe(2)
    expect(kv.allocate(r, 200)).toBe(false) // needs 13 > 8 free: nothing changes
    expect(r.blocks).toBe(2)
    expect(kv.usedBlocks).toBe(2)
    kv.release(r)
    expect(kv.usedBlocks).toBe(0)
  })

  it.prop("blocks in use never exceed capacity and always equal the holders' sum", [
    fc.integer({ min: 1, max: 64 }),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2000 }), fc.boolean()), { maxLength: 200 })
  ], ([capacity, ops]) => {
    const kv = new KvCache(capacity, 16)
    const holders = Array.from({ length: 8 }, () => ({ blocks: 0 }))
    for (const [h, tokens, free] of ops) {
      if (free) kv.release(holders[h]!)
      else kv.allocate(holders[h]!, tokens)
      expect(kv.usedBlocks).toBeLessThanOrEqual(capacity)
      expect(kv.usedBlocks).toBe(holders.reduce((a, x) => a + x.blocks, 0))
    }
  })

  it("the waiting queue is FCFS with preempted requests at the front", () => {
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

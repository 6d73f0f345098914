/** InstanceHeap: after any sequence of key changes, top is the (key, id) minimum and secondKey the next smallest key. */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { InstanceHeap } from "../../src/cluster/InstanceHeap.js"

describe("InstanceHeap", () => {
  it.prop("top and secondKey match a sort by (next event, id)", [
    fc.integer({ min: 1, max: 40 }),
    fc.array(fc.tuple(fc.nat(100), fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(Infinity))), { minLength: 1, maxLength: 300, size: "max" })
  ], ([n, ops]) => {
    const items = Array.from({ length: n }, (_, id) => ({ id, t: (id * 7) % 13, nextEventNs() { return this.t } }))
    const heap = new InstanceHeap(items)
    for (const [k, t] of ops) {
      const x = items[k % n]!
      x.t = t
      heap.update(x)
      const sorted = [...items].sort((a, b) => a.t - b.t || a.id - b.id || 0)
      expect(heap.top!.id).toBe(sorted[0]!.id)
      expect(heap.topKey).toBe(sorted[0]!.t)
      expect(heap.secondKey).toBe(n > 1 ? sorted[1]!.t : Infinity)
    }
  })
})

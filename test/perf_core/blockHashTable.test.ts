/** The prefix cache's int32 -> int32 index agrees with a Map under any sequence of operations. */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { BlockHashTable } from "../../src/memory/BlockHashTable.js"

// keys drawn from a few values whose low bits collide, so probe runs wrap and deletions shift
const key = fc.oneof(fc.integer({ min: 0, max: 7 }).map((k) => k * 32), fc.integer({ min: 0, max: 40 }), fc.integer({ min: -2147483648, max: 2147483647 }), fc.constantFrom(31, 63, -1, -33))
const op = fc.tuple(fc.constantFrom("set", "delete", "get"), key, fc.integer({ min: 0, max: 11 }))

describe("BlockHashTable", () => {
  it.prop("setIfAbsent / deleteIf / get match a Map", [fc.array(op, { maxLength: 300 })], ([ops]) => {
    const t = new BlockHashTable(12)
    const m = new Map<number, number>()
    for (const [kind, k, v] of ops) {
      if (kind === "set") {
        if (m.size >= 12 && !m.has(k)) continue
        expect(t.setIfAbsent(k, v)).toBe(!m.has(k))
        if (!m.has(k)) m.set(k, v)
      } else if (kind === "delete") {
        const removed = m.get(k) === v
        expect(t.deleteIf(k, v)).toBe(removed)
        if (removed) m.delete(k)
      }
      for (const [mk, mv] of m) expect(t.get(mk)).toBe(mv)
      expect(t.get(k)).toBe(m.get(k) ?? -1)
      expect(t.size).toBe(m.size)
    }
  })

  it("a deletion inside a wrapped probe run keeps the later keys reachable", () => {
    const t = new BlockHashTable(8) // 16 slots
    for (const k of [15, 31, 47, 14]) t.setIfAbsent(k, k & 0xff) // 15, 31, 47 probe 15 -> 0 -> 1; 14 at 14
    expect(t.deleteIf(15, 15)).toBe(true)
    expect([t.get(31), t.get(47), t.get(14), t.get(15)]).toEqual([31, 47, 14, -1])
  })

  it("an entry already at its home stays when an earlier slot empties", () => {
    const t = new BlockHashTable(8) // 16 slots: 3 -> 3, 4 -> 4, 19 (home 3) -> 5
    for (const k of [3, 4, 19]) t.setIfAbsent(k, k)
    expect(t.deleteIf(3, 3)).toBe(true)
    expect([t.get(4), t.get(19), t.get(3)]).toEqual([4, 19, -1])
  })
})

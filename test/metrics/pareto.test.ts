import { describe, expect, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { dominates, paretoFront } from "../../src/metrics/pareto.js"

const pt = (x: number, y: number) => ({ x, y })
const front = (ps: ReadonlyArray<{ x: number; y: number }>) => paretoFront(ps, (p) => p.x, (p) => p.y)

describe("paretoFront", () => {
  it("keeps the non-dominated points, sorted by x", () => {
    const ps = [pt(1, 10), pt(2, 8), pt(2, 5), pt(3, 3), pt(0.5, 9), pt(4, 1), pt(3, 2), pt(NaN, 100)]
    expect(front(ps)).toEqual([pt(1, 10), pt(2, 8), pt(3, 3), pt(4, 1)])
  })

  it("drops a point tied on x but worse on y, and keeps one of identical points", () => {
    expect(front([pt(1, 1), pt(1, 2), pt(1, 2)])).toEqual([pt(1, 2)])
  })

  it.prop("no front point is dominated, and every other point is dominated by a front point", [
    FastCheck.array(FastCheck.tuple(FastCheck.integer({ min: 0, max: 20 }), FastCheck.integer({ min: 0, max: 20 })), { maxLength: 40 })
  ], ([raw]) => {
    const ps = raw.map(([x, y]) => pt(x, y))
    const f = front(ps)
    for (const a of f) expect(ps.some((b) => dominates(b.x, b.y, a.x, a.y))).toBe(false)
    for (const b of ps) {
      if (f.includes(b)) continue
      expect(f.some((a) => dominates(a.x, a.y, b.x, b.y) || (a.x === b.x && a.y === b.y))).toBe(true)
    }
  })
})

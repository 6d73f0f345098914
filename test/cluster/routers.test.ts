/** Each policy on hand-built instance states picks what its definition says. */
import { describe, expect, it } from "@effect/vitest"
import { makeRouter } from "../../src/cluster/Router.js"
import { fakeInstance, req } from "./fakes.js"

describe("routers on hand-built states", () => {
  it("round-robin cycles over the candidates", () => {
    const route = makeRouter("round-robin", 0)
    const c = [0, 1, 2].map((i) => fakeInstance(i))
    expect([0, 1, 2, 3, 4].map(() => route(req(), c, 0))).toEqual([0, 1, 2, 0, 1])
  })

  it("least-outstanding and least-loaded differ where waiting counts 4x", () => {
    // A: 0 waiting + 5 running (outstanding 5, load 5); B: 2 waiting + 1 running (outstanding 3, load 9)
    const c = [fakeInstance(0, { running: 5 }), fakeInstance(1, { waiting: 2, running: 1 })]
    expect(makeRouter("least-outstanding", 0)(req(), c, 0)).toBe(1)
    expect(makeRouter("least-loaded", 0)(req(), c, 0)).toBe(0)
  })

  it("least-outstanding picks the fewest waiting + running, lowest index on ties", () => {
    const c = [fakeInstance(0, { waiting: 1, running: 3 }), fakeInstance(1, { running: 2 }), fakeInstance(2, { waiting: 2 })]
    expect(makeRouter("least-outstanding", 0)(req(), c, 0)).toBe(1)
  })

  it("least-kv picks the lowest used/total blocks, ties by outstanding requests", () => {
    const c = [fakeInstance(0, { usedBlocks: 50 }), fakeInstance(1, { usedBlocks: 40, numBlocks: 200 }), fakeInstance(2, { usedBlocks: 30 })]
    expect(makeRouter("least-kv", 0)(req(), c, 0)).toBe(1) // 0.5, 0.2, 0.3
    const t = [fakeInstance(0, { usedBlocks: 20, running: 3 }), fakeInstance(1, { usedBlocks: 20, running: 1 })]
    expect(makeRouter("least-kv", 0)(req(), t, 0)).toBe(1)
  })

  it("prefix-aware picks the longest cached prefix even on a busier instance; no hit -> least outstanding", () => {
    const c = [fakeInstance(0, { hit: 0 }), fakeInstance(1, { hit: 64, running: 9 }), fakeInstance(2, { hit: 32 })]
    expect(makeRouter("prefix-aware", 0)(req(), c, 0)).toBe(1)
    const none = [fakeInstance(0, { running: 2 }), fakeInstance(1, { running: 1 }), fakeInstance(2, { running: 3 })]
    expect(makeRouter("prefix-aware", 0)(req(), none, 0)).toBe(1)
  })

  it("weighted: llm-d's normalised queue, KV and prefix scores under the given weights", () => {
    // queue scores 1, 0, 0.5; kv scores 0.1, 0.9, 0.5; prefix scores 0, 0, 1 (all 100 prompt tokens hit)
    const c = () => [
      fakeInstance(0, { waiting: 0, usedBlocks: 90 }),
      fakeInstance(1, { waiting: 4, usedBlocks: 10 }),
      fakeInstance(2, { waiting: 2, usedBlocks: 50, hit: 100 })
    ]
    const w = (queue: number, kv: number, prefix: number) => makeRouter({ policy: "weighted", weights: { queue, kv, prefix }, stalenessMs: 0 }, 0)
    expect(makeRouter("weighted", 0)(req(), c(), 0)).toBe(2) // defaults 2/2/3: 2.2, 1.8, 5
    expect(w(2, 2, 0)(req(), c(), 0)).toBe(0) // 2.2, 1.8, 2.0
    expect(w(0, 1, 0)(req(), c(), 0)).toBe(1)
    expect(w(1, 0, 0)(req(), c(), 0)).toBe(0)
    // partial prefix: 50 of 100 tokens -> 0.5
    const p = [fakeInstance(0, { hit: 50 }), fakeInstance(1, { hit: 60 })]
    expect(w(0, 0, 1)(req(), p, 0)).toBe(1)
  })

  it("weighted: equal queues score neutral 1 (the KV score decides); exact ties are drawn at random, reproducibly", () => {
    const c = [fakeInstance(0, { waiting: 3, usedBlocks: 60 }), fakeInstance(1, { waiting: 3, usedBlocks: 20 })]
    expect(makeRouter("weighted", 0)(req(), c, 0)).toBe(1)
    const tied = [0, 1, 2].map((i) => fakeInstance(i))
    const draws = (seed: number) => {
      const route = makeRouter("weighted", seed)
      return Array.from({ length: 300 }, () => route(req(), tied, 0))
    }
    const a = draws(7)
    expect(draws(7)).toEqual(a)
    for (const i of [0, 1, 2]) expect(a.filter((x) => x === i).length).toBeGreaterThan(60)
  })

  it("random is reproducible by seed, differs across seeds, and spreads evenly", () => {
    const c = [0, 1, 2, 3].map((i) => fakeInstance(i))
    const draws = (seed: number) => {
      const route = makeRouter("random", seed)
      return Array.from({ length: 4000 }, () => route(req(), c, 0))
    }
    const a = draws(1)
    expect(draws(1)).toEqual(a)
    expect(draws(2)).not.toEqual(a)
    for (const i of [0, 1, 2, 3]) {
      const n = a.filter((x) => x === i).length
      expect(n).toBeGreaterThan(850)
      expect(n).toBeLessThan(1150)
    }
  })
})

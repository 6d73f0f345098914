/** Each policy on hand-built instance states picks what its definition says. */
import { describe, expect, it } from "@effect/vitest"
import { makeRouter } from "../../src/cluster/Router.js"
import { toRouterSpec } from "../../src/cluster/RouterSpec.js"
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
    const w = (queue: number, kv: number, prefix: number) => makeRouter({ ...toRouterSpec("weighted"), weights: { queue, kv, prefix } }, 0)
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

  it("cache-aware: by prefix when balanced and the hit is over the threshold, else the smallest tree; shortest queue when imbalanced", () => {
    // balanced (outstanding 3 vs 0: not over 64 apart): 40 of 100 tokens cached > 0.3 -> the holder
    const held = () => [fakeInstance(0), fakeInstance(1, { running: 3, hit: 40 }), fakeInstance(2)]
    expect(makeRouter("cache-aware", 0)(req(), held(), 0)).toBe(1)
    // 30 of 100 is not over 0.3: the smallest tree (none yet: fewest outstanding of the ties)
    const weak = [fakeInstance(0, { running: 2 }), fakeInstance(1, { running: 3, hit: 30 }), fakeInstance(2, { running: 1 })]
    expect(makeRouter("cache-aware", 0)(req(), weak, 0)).toBe(2)
    // with no hits a run of requests fills the trees evenly: each goes where the fewest tokens went
    const route = makeRouter("cache-aware", 3)
    const idle = [0, 1, 2, 3].map((i) => fakeInstance(i))
    const picks = Array.from({ length: 8 }, () => route(req(), idle, 0))
    expect(new Set(picks.slice(0, 4)).size).toBe(4)
    expect(new Set(picks.slice(4, 8)).size).toBe(4)
    // imbalanced needs both: 100 - 10 > 64 and 100 > 1.5 x 10 -> the least outstanding, whatever it caches
    const hot = (hotLoad: number, coldLoad: number) => [fakeInstance(0, { running: hotLoad, hit: 100 }), fakeInstance(1, { running: coldLoad })]
    expect(makeRouter("cache-aware", 0)(req(), hot(100, 10), 0)).toBe(1)
    expect(makeRouter("cache-aware", 0)(req(), hot(75, 10), 0)).toBe(1) // 65 apart
    expect(makeRouter("cache-aware", 0)(req(), hot(60, 10), 0)).toBe(0) // 50 apart: balanced
    expect(makeRouter("cache-aware", 0)(req(), hot(150, 100), 0)).toBe(0) // 150 < 1.5 x 100: balanced
    // thresholds are the spec's
    const strict = makeRouter({ ...toRouterSpec("cache-aware"), cacheAware: { cacheThreshold: 0.5, balanceAbs: 64, balanceRel: 1.5 } }, 0)
    expect(strict(req(), held(), 0)).not.toBe(1) // 0.4 is not over 0.5: an idle instance (0 or 2, drawn)
  })
})

/**
 * The side-effect-free prefix lookup, and prefix-aware routing sending a request to the instance
 * that holds its prefix.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import type { PromptContent } from "../../src/memory/blockHash.js"
import { CountingKvCache, type KvHolder } from "../../src/memory/KvCache.js"
import { PrefixCachingKvCache } from "../../src/memory/PrefixCachingKvCache.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { runRouted } from "./sim.js"

const holder = (id: number, prompt: number, content: PromptContent | undefined): KvHolder & { numTokens: number } => ({
  blocks: 0, id, promptTokens: prompt, numTokens: prompt, preemptions: 0, content, blockTable: undefined, ownRun: -1, hashes: undefined, cachedBlocks: 0
})
const tokens = (family: number, n: number, shared = 0): PromptContent =>
  ({ kind: "tokens", ids: Int32Array.from({ length: n }, (_, i) => (i < shared ? 7 + i : family * 100_000 + i)) })

describe("KvCache.peekCachedPrefix", () => {
  it("reports the cached prefix; 0 for unknown content and for the counting cache", () => {
    const kv = new PrefixCachingKvCache(100, 16)
    const a = holder(0, 200, tokens(1, 200, 100))
    expect(kv.admit(a, kv.computedPrefix(a), 200, 200)).toBe(true)
    kv.release(a, true)
    expect(kv.peekCachedPrefix(holder(1, 300, tokens(2, 300, 100)))).toBe(96) // 6 full blocks of the 100 shared tokens
    expect(kv.peekCachedPrefix(holder(2, 200, tokens(1, 200, 100)))).toBe(192) // all 12 full blocks, below numTokens
    expect(kv.peekCachedPrefix(holder(3, 200, undefined))).toBe(0)
    expect(new CountingKvCache(100, 16).peekCachedPrefix()).toBe(0)
  })

  it.prop("equals computedPrefix for a new request and changes nothing the cache decides on", [
    fc.array(fc.record({ prompt: fc.integer({ min: 1, max: 120 }), family: fc.integer({ min: 0, max: 3 }), shared: fc.integer({ min: 0, max: 120 }) }), { minLength: 5, maxLength: 60 }),
    fc.integer({ min: 4, max: 60 })
  ], ([reqs, numBlocks]) => {
    // the same admissions on two caches; one is peeked at before every admission
    const peeked = new PrefixCachingKvCache(numBlocks, 4)
    const plain = new PrefixCachingKvCache(numBlocks, 4)
    const held: Array<[KvHolder, KvHolder]> = []
    reqs.forEach((q, i) => {
      const content = q.family === 0 ? undefined : tokens(q.family, q.prompt, q.shared)
      const a = holder(i, q.prompt, content)
      const b = holder(i, q.prompt, content)
      const peek = peeked.peekCachedPrefix(a)
      peeked.peekCachedPrefix(holder(1000 + i, q.prompt, tokens(1, q.prompt, 120))) // an unrelated probe too
      const hitA = peeked.computedPrefix(a)
      const hitB = plain.computedPrefix(b)
      expect(peek).toBe(hitA)
      expect(hitA).toBe(hitB)
      const okA = peeked.admit(a, hitA, q.prompt, q.prompt)
      expect(okA).toBe(plain.admit(b, hitB, q.prompt, q.prompt))
      if (okA) held.push([a, b])
      // finish the oldest now and then, so cached blocks get freed, reused and evicted
      if (i % 3 === 2 && held.length > 0) {
        const [x, y] = held.shift()!
        peeked.release(x, true)
        plain.release(y, true)
      }
      expect(peeked.free).toBe(plain.free)
      expect(peeked.stats).toEqual(plain.stats)
    })
  })
})

describe("prefix-aware routing", () => {
  it.effect("a request sharing a prefix goes to the instance holding it; round-robin misses it", () =>
    Effect.gen(function*() {
      const ms = 1_000_000
      const shared = (f: number) => tokens(f, 512, 480)
      const arrivals = [
        { arrivalNs: 0, promptTokens: 512, outputTokens: 4, content: shared(1) },
        { arrivalNs: 1 * ms, promptTokens: 512, outputTokens: 4, content: tokens(2, 512) },
        { arrivalNs: 2 * ms, promptTokens: 512, outputTokens: 4, content: tokens(3, 512) },
        // long after the first three finished: shares 480 tokens with the first
        { arrivalNs: 1000 * ms, promptTokens: 512, outputTokens: 4, content: shared(4) }
      ]
      const pa = yield* runRouted(arrivals, "prefix-aware", 4)
      const rr = yield* runRouted(arrivals, "round-robin", 4)
      expect(pa.instanceOf[3]).toBe(pa.instanceOf[0])
      expect(rr.instanceOf[3]).not.toBe(rr.instanceOf[0])
      expect(pa.summary.prefix_cache_hit_rate).toBeGreaterThan(0)
      expect(rr.summary.prefix_cache_hit_rate).toBe(0)
    }))

  it.effect("a short prefix every request shares: prefix-aware herds them onto one instance, cache-aware spreads them and still follows a long prefix", () =>
    Effect.gen(function*() {
      const ms = 1_000_000
      // 8 prompts of 512 tokens sharing their first 64 (4 blocks of 16: 12.5% of the prompt, under
      // cache-aware's 30% threshold), 20 ms apart, so each is cached before the next arrives
      const arrivals: Array<Arrival> = Array.from({ length: 8 }, (_, i) => ({ arrivalNs: i * 20 * ms, promptTokens: 512, outputTokens: 2, content: tokens(10 + i, 512, 64) }))
      // then one sharing 480 tokens (94%) with the third
      arrivals.push({ arrivalNs: 1000 * ms, promptTokens: 512, outputTokens: 2, content: { kind: "tokens", ids: Int32Array.from({ length: 512 }, (_, i) => (i < 64 ? 7 + i : i < 480 ? 12 * 100_000 + i : 99 * 100_000 + i)) } })
      const pa = yield* runRouted(arrivals, "prefix-aware", 4)
      const ca = yield* runRouted(arrivals, "cache-aware", 4)
      expect(new Set(pa.instanceOf.slice(1, 8)).size).toBe(1)
      expect(new Set(ca.instanceOf.slice(0, 4)).size).toBe(4)
      expect(new Set(ca.instanceOf.slice(4, 8)).size).toBe(4)
      expect(ca.instanceOf[8]).toBe(ca.instanceOf[2])
    }))
})

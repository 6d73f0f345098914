/**
 * The simulator's prefix cache (runs of request-unique blocks as single free-queue entries) must
 * decide exactly as a per-block model of vLLM's BlockPool: same hits, same admission and
 * allocation outcomes, same free counts, over random request lives (admit, grow, preempt,
 * re-admit, finish, abort) with shared and unique prompt content.
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import type { PromptContent } from "../../src/memory/blockHash.js"
import type { KvCache, KvHolder } from "../../src/memory/KvCache.js"
import { PrefixCachingKvCache } from "../../src/memory/PrefixCachingKvCache.js"
import { BlockPoolOracle } from "./blockPoolOracle.js"

interface Req extends KvHolder {
  numTokens: number
  preemptions: number
  /** 0 waiting (never or preempted), 1 running, 2 done */
  phase: number
}

const mkReq = (id: number, prompt: number, content: PromptContent | undefined): Req => ({
  blocks: 0, id, promptTokens: prompt, numTokens: prompt, preemptions: 0, content, blockTable: undefined, ownRun: -1, hashes: undefined, cachedBlocks: 0, phase: 0
})

// 3 shared token sequences: family f > 0 shares its first 40 tokens with every family, then its own
const families = [1, 2, 3].map((f) => Int32Array.from({ length: 600 }, (_, i) => (i < 40 ? 5 : f * 10_000 + i)))
const contentOf = (family: number, prompt: number): PromptContent | undefined =>
  family === 0 ? undefined : family === 4
    ? { kind: "hash-blocks", ids: Float64Array.from({ length: Math.ceil(prompt / 8) }, (_, i) => (i < 3 ? 77 + i : 1000 * prompt + i)), blockTokens: 8 }
    : { kind: "tokens", ids: families[family - 1]!.subarray(0, prompt) }

const op = fc.oneof(
  fc.record({ t: fc.constant("arrive" as const), prompt: fc.integer({ min: 1, max: 300 }), family: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ t: fc.constant("admit" as const), pick: fc.nat(), chunk: fc.integer({ min: 1, max: 400 }), reserve: fc.boolean() }),
  fc.record({ t: fc.constant("grow" as const), pick: fc.nat(), tokens: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ t: fc.constant("preempt" as const), pick: fc.nat() }),
  fc.record({ t: fc.constant("finish" as const), pick: fc.nat() })
)

describe("prefix cache vs per-block model", () => {
  it.prop("identical decisions", [fc.integer({ min: 1, max: 120 }), fc.constantFrom(1, 4, 16), fc.array(op, { minLength: 40, maxLength: 200, size: "max" })], ([numBlocks, bs, ops]) => {
    const caches: Array<KvCache> = [new PrefixCachingKvCache(numBlocks, bs), new BlockPoolOracle(numBlocks, bs)]
    const reqs: Array<Array<Req>> = [[], []]
    const pick = (phase: number, i: number) => {
      const ids = reqs[0]!.map((r, k) => (r.phase === phase ? k : -1)).filter((k) => k >= 0)
      return ids.length === 0 ? -1 : ids[i % ids.length]!
    }
    for (const o of ops) {
      const outs: Array<Array<unknown>> = [[], []]
      // which request the op applies to, chosen once for both (from the state before the op)
      const target = o.t === "admit" ? pick(0, o.pick)
        : o.t === "grow" || o.t === "preempt" ? pick(1, o.pick)
        : o.t === "finish" ? (pick(1, o.pick) >= 0 ? pick(1, o.pick) : pick(0, o.pick))
        : -1
      for (let s = 0; s < 2; s++) {
        const kv = caches[s]!
        const list = reqs[s]!
        const out = outs[s]!
        switch (o.t) {
          case "arrive":
            list.push(mkReq(list.length, o.prompt, contentOf(o.family, o.prompt)))
            break
          case "admit": {
            const k = target
            if (k < 0) break
            const r = list[k]!
            const hit = kv.computedPrefix(r)
            const n = Math.min(o.chunk, r.numTokens - hit)
            const ok = kv.admit(r, hit, hit + n, o.reserve ? r.numTokens : -1)
            if (ok) r.phase = 1
            out.push(hit, ok)
            break
          }
          case "grow": {
            const k = target
            if (k < 0) break
            const r = list[k]!
            const want = Math.max(r.numTokens, r.blocks * bs) + o.tokens
            const ok = kv.allocate(r, want)
            if (ok) r.numTokens = Math.max(r.numTokens, want)
            out.push(ok)
            break
          }
          case "preempt": {
            const k = target
            if (k < 0) break
            kv.release(list[k]!, false)
            list[k]!.phase = 0
            list[k]!.preemptions++
            break
          }
          case "finish": {
            // a running request finishes; a waiting one is aborted
            const k = target
            if (k < 0) break
            kv.release(list[k]!, true)
            list[k]!.phase = 2
            break
          }
        }
        out.push(kv.free, kv.usedBlocks, { ...kv.stats }, list.map((r) => r.blocks).join(","))
        expect(kv.free + kv.usedBlocks).toBe(numBlocks)
        expect(kv.free).toBeGreaterThanOrEqual(0)
      }
      expect(outs[0]).toEqual(outs[1])
    }
  }, { fastCheck: { numRuns: 400 } })
})

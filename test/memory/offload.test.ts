/**
 * CPU KV offloading (--kv-offloading-size): the host tier's LRU (memory/CpuKvTier.ts) and a
 * hand-computed run where a prompt's blocks, evicted from the GPU cache, are loaded back from host
 * memory instead of recomputed, the load time added to the step that admits the request.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Arrival } from "../../src/engine/Engine.js"
import { CpuKvTier } from "../../src/memory/CpuKvTier.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { ms, runScenario } from "../helpers.js"

describe("CpuKvTier", () => {
  it("holds at most its capacity, evicting the least recently used; a touch or a store refreshes", () => {
    const t = new CpuKvTier(3, 1000)
    t.store(1, 10)
    t.store(2, 20)
    t.store(3, 30)
    t.touch(1, 10) // 2 is now the least recently used
    t.store(4, 40)
    expect([t.has(1, 10), t.has(2, 20), t.has(3, 30), t.has(4, 40)]).toEqual([true, false, true, true])
    t.store(3, 30) // refresh: 1 is the least recently used now
    t.store(5, 50)
    expect([t.has(1, 10), t.has(3, 30), t.has(4, 40), t.has(5, 50)]).toEqual([false, true, true, true])
    expect(t.has(4, 41)).toBe(false) // the second lane is checked
    expect({ size: t.size, stored: t.stored, evicted: t.evicted }).toEqual({ size: 3, stored: 5, evicted: 2 })
  })
})

describe("CPU offloading in a run", () => {
  // A: 64 known tokens (4 blocks of 16), done in one step. B: 128 unique tokens, which need all 8 GPU
  // blocks and so evict A's cached blocks. C: A's prompt again: its GPU lookup misses, the host
  // tier has A's blocks; a hit is capped below the prompt's end (3 blocks, 48 tokens), loaded at
  // 1 ms a block, so C's prefill step takes 10 + 3 ms.
  const ids = Int32Array.from({ length: 64 }, (_, i) => 1000 + i)
  const arrivals: ReadonlyArray<Arrival> = [
    { arrivalNs: 0, promptTokens: 64, outputTokens: 1, content: { kind: "tokens", ids } },
    { arrivalNs: ms(100), promptTokens: 127, outputTokens: 1 },
    { arrivalNs: ms(200), promptTokens: 64, outputTokens: 1, content: { kind: "tokens", ids } }
  ]
  const run = (offload: boolean) =>
    runScenario(arrivals, {
      stepNs: ms(10),
      numBlocks: 8,
      engine: { enablePrefixCaching: true, blockSize: 16 },
      ...(offload ? { offload: { capacityBlocks: 100, loadNsPerBlock: ms(1) } } : {})
    })

  it.effect("blocks evicted from the GPU are found in host memory and loaded, not recomputed", () =>
    Effect.gen(function*() {
      const on = yield* run(true)
      const rows = on.store.requests.map((r) => r.request).sort((a, b) => a.id - b.id)
      expect(rows.map((r) => r.cachedPromptTokens)).toEqual([0, 0, 48])
      expect(rows[2]!.firstTokenNs).toBe(ms(213))
      expect(on.summary.kv_offload).toMatchObject({ stored_blocks: 4, loaded_blocks: 3, hit_tokens: 48, load_time_s: 0.003 })
      expect(on.summary.prefix_cache_hits).toBe(0) // the GPU cache had nothing: vLLM counts connector hits apart
      const off = yield* run(false)
      const plain = off.store.requests.map((r) => r.request).sort((a, b) => a.id - b.id)
      expect(plain.map((r) => r.cachedPromptTokens)).toEqual([0, 0, 0])
      expect(plain[2]!.firstTokenNs).toBe(ms(210))
      expect(off.summary.kv_offload).toBeUndefined()
    }))

  it.effect("flags: refused where it cannot work, named", () =>
    Effect.gen(function*() {
      const err = (f: Record<string, unknown>) => resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", ...f }).pipe(Effect.flip, Effect.map((e) => e.message))
      expect(yield* err({ kvOffloadingSize: 0 })).toMatch(/--kv-offloading-size: expected GiB/)
      expect(yield* err({ kvOffloadingSize: 8, enablePrefixCaching: false })).toMatch(/--kv-offloading-size: .*prefix caching/)
      expect(yield* err({ kvOffloadingBackend: "native" })).toMatch(/--kv-offloading-backend: needs --kv-offloading-size/)
      expect(yield* err({ kvOffloadingSize: 8, kvOffloadingBackend: "lmcache" })).toMatch(/--kv-offloading-backend: expected native/)
      const ok = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", kvOffloadingSize: 8 })
      expect(ok.engine).toMatchObject({ kvOffloadingSize: 8, kvOffloadingBackend: "native" })
    }))
})

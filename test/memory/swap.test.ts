/**
 * Swap preemption (--preemption-mode swap, scheduler/SwapSpace.ts) against recompute on a
 * hand-computed run, and a property: over random memory-starved workloads with swap space and a
 * host tier, every request finishes and neither tier ever holds more than its capacity.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import type { SimRequest } from "../../src/domain/SimRequest.js"
import type { Arrival } from "../../src/engine/Engine.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { ms, runScenario } from "../helpers.js"

// A and B: 16-token prompts, 40 output tokens, both at t = 0, 4 blocks of 16 tokens; a step that
// computes prompt tokens takes 20 ms, a decode-only step 10 ms.
// Step 1 prefills both (1 block each); steps 2-17 decode (2 blocks each: the cache is full). Step 18
// (at 170 ms) needs a third block for A: B, last in the running list, is preempted with 32 computed
// tokens and 17 outputs. A runs alone to its 40th token at step 40; B waits for 3 free blocks, which
// come when A finishes, and produces its 23 remaining tokens in steps 41-63.
// Recompute: B's own blocks were evicted by A's growth, so step 41 computes its 33 tokens again
// (a 20 ms step): A done at 20 + 39 x 10 = 410 ms, B at 410 + 20 + 22 x 10 = 650 ms.
// Swap (1 ms a block): B's 2 blocks go out in step 18 and come back in step 41 (+2 ms each), and
// B keeps its 32 computed tokens, so step 41 is a decode: A at 412, B at 412 + 12 + 220 = 644 ms.
const arrivals: ReadonlyArray<Arrival> = [
  { arrivalNs: 0, promptTokens: 16, outputTokens: 40 },
  { arrivalNs: 0, promptTokens: 16, outputTokens: 40 }
]
const rowsOf = (store: { requests: Array<{ request: SimRequest }> }) => store.requests.map((r) => r.request).sort((a, b) => a.id - b.id)

describe("swap preemption", () => {
  it.effect("a victim's KV goes to host memory and back; it resumes where it stopped (hand-computed, against recompute)", () =>
    Effect.gen(function*() {
      const base = { stepNs: (b: BatchShape) => (b.prefillTokens > 0 ? ms(20) : ms(10)), numBlocks: 4, engine: { enablePrefixCaching: true, blockSize: 16 } }
      const swap = yield* runScenario(arrivals, { ...base, swap: { capacityBlocks: 100, nsPerBlock: ms(1) } })
      const s = rowsOf(swap.store)
      expect(s.map((r) => [r.finishNs, r.preemptions, r.numOutput])).toEqual([[ms(412), 0, 40], [ms(644), 1, 40]])
      expect(swap.summary.swap).toMatchObject({ swap_outs: 1, swap_ins: 1, blocks_out: 2, blocks_in: 2, peak_blocks: 2, recompute_fallbacks: 0, copy_time_s: 0.004 })
      const rec = yield* runScenario(arrivals, base)
      const r = rowsOf(rec.store)
      expect(r.map((x) => [x.finishNs, x.preemptions, x.numOutput])).toEqual([[ms(410), 0, 40], [ms(650), 1, 40]])
      expect(rec.summary.swap).toBeUndefined()
      // no room in the swap space: the victim is recomputed, as without swap
      const full = yield* runScenario(arrivals, { ...base, swap: { capacityBlocks: 1, nsPerBlock: ms(1) } })
      expect(rowsOf(full.store).map((x) => x.finishNs)).toEqual([ms(410), ms(650)])
      expect(full.summary.swap).toMatchObject({ swap_outs: 0, recompute_fallbacks: 1 })
    }))

  it.effect.prop("memory-starved runs with swap and a host tier: everything finishes, no tier above capacity", [
    FastCheck.array(FastCheck.record({
      gapMs: FastCheck.integer({ min: 0, max: 30 }),
      prompt: FastCheck.integer({ min: 1, max: 60 }),
      output: FastCheck.integer({ min: 1, max: 60 }),
      shared: FastCheck.boolean()
    }), { minLength: 1, maxLength: 25 }),
    FastCheck.integer({ min: 8, max: 16 }),
    FastCheck.integer({ min: 0, max: 12 }),
    FastCheck.integer({ min: 1, max: 20 })
  ], ([reqs, numBlocks, swapBlocks, hostBlocks]) =>
    Effect.gen(function*() {
      let t = 0
      const prefix = Int32Array.from({ length: 48 }, (_, i) => 7 + i)
      const arr: Array<Arrival> = reqs.map((q) => {
        t += ms(q.gapMs)
        return q.shared && q.prompt <= 48
          ? { arrivalNs: t, promptTokens: q.prompt, outputTokens: q.output, content: { kind: "tokens" as const, ids: prefix.subarray(0, q.prompt) } }
          : { arrivalNs: t, promptTokens: q.prompt, outputTokens: q.output }
      })
      let overGpu = false
      const { summary, result } = yield* runScenario(arr, {
        stepNs: ms(10),
        numBlocks,
        engine: { enablePrefixCaching: true, blockSize: 16, maxModelLen: numBlocks * 16 },
        swap: { capacityBlocks: swapBlocks, nsPerBlock: ms(1) },
        offload: { capacityBlocks: hostBlocks, loadNsPerBlock: ms(1) },
        observer: { onStep: (s) => { if (s.kvBlocksUsed > s.kvBlocksTotal) overGpu = true } }
      })
      expect(overGpu).toBe(false)
      expect(summary.completed + summary.rejected).toBe(arr.length)
      const inst = result.engine.instances[0]!
      expect(inst.scheduler.swap!.peak).toBeLessThanOrEqual(swapBlocks)
      expect(inst.scheduler.swap!.used).toBe(0)
      expect(inst.scheduler.kv.offload!.size).toBeLessThanOrEqual(hostBlocks)
    }), { fastCheck: { numRuns: 60 } })

  it.effect("flags", () =>
    Effect.gen(function*() {
      const err = (f: Record<string, unknown>) => resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", ...f }).pipe(Effect.flip, Effect.map((e) => e.message))
      expect(yield* err({ swapSpace: 4 })).toMatch(/--swap-space: applies to --preemption-mode swap/)
      expect(yield* err({ preemptionMode: "swap", swapSpace: -1 })).toMatch(/--swap-space: expected GiB/)
      expect(yield* err({ preemptionMode: "evict" })).toMatch(/--preemption-mode: expected recompute or swap/)
      const ok = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", preemptionMode: "swap" })
      expect(ok.engine).toMatchObject({ preemptionMode: "swap", swapSpace: 4 })
    }))
})

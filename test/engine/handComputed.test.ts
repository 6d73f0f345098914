/**
 * Hand-computable scenarios: a constant 10 ms step, so every time below follows from the vLLM V1
 * rules by hand (see the comments).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { ms, runScenario } from "../helpers.js"

const byId = (store: { requests: Array<{ request: { id: number } }> }) =>
  [...store.requests].sort((a, b) => a.request.id - b.request.id).map((r) => r.request as never as {
    id: number; firstScheduledNs: number; firstTokenNs: number; finishNs: number; numOutput: number; preemptions: number
  })

describe("hand-computed timings (10 ms per step)", () => {
  it.effect("one request: prefill step, then one decode step per remaining token", () =>
    Effect.gen(function*() {
      // step 1 [0,10) prefills 100 tokens -> token 1 at 10 ms; tokens 2..5 at 20, 30, 40, 50 ms
      const { store, summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 100, outputTokens: 5 }])
      const [r] = byId(store)
      expect(r!.firstTokenNs).toBe(ms(10))
      expect(r!.finishNs).toBe(ms(50))
      expect(summary.mean_ttft_ms).toBe(10)
      expect(summary.mean_tpot_ms).toBe(10)
      expect(summary.mean_e2el_ms).toBe(50)
      expect(summary.mean_itl_ms).toBeCloseTo(10, 9)
      expect(summary.num_steps).toBe(5)
      expect(summary.duration).toBe(0.05)
    }))

  it.effect("chunked prefill shares the token budget with a later arrival", () =>
    Effect.gen(function*() {
      // budget 2048. A (3000 in, 2 out) at 0: step [0,10) prefills 2048 of A.
      // B (10 in, 3 out) arrives at 5 ms and waits. Step [10,20): A's last 952 tokens, then B's 10
      // -> both get token 1 at 20 ms. Step [20,30): A token 2 (A done at 30), B token 2.
      // Step [30,40): B token 3 (B done at 40).
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 3000, outputTokens: 2 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 3 }
      ])
      const [a, b] = byId(store)
      expect([a!.firstScheduledNs, a!.firstTokenNs, a!.finishNs]).toEqual([0, ms(20), ms(30)])
      expect([b!.firstScheduledNs, b!.firstTokenNs, b!.finishNs]).toEqual([ms(10), ms(20), ms(40)])
      expect(summary.mean_ttft_ms).toBe((20 + 15) / 2)
      expect(summary.mean_e2el_ms).toBe((30 + 35) / 2)
      expect(summary.mean_tpot_ms).toBe(10)
      expect(summary.num_steps).toBe(4)
      expect(store.steps.map((s) => [s.shape.prefillTokens, s.shape.numDecode])).toEqual([[2048, 0], [962, 0], [0, 2], [0, 1]])
    }))

  it.effect("without chunked prefill a prompt that exceeds the remaining budget waits a step", () =>
    Effect.gen(function*() {
      // budget 100, no chunking. A (60 in, 2 out) and B (60 in, 2 out) both at 0:
      // step [0,10): A prefill (60), B does not fit the 40 left -> waits.
      // step [10,20): A decode (1) + B prefill (60). step [20,30): B decode.
      const { store } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 60, outputTokens: 2 },
        { arrivalNs: 0, promptTokens: 60, outputTokens: 2 }
      ], { engine: { maxNumBatchedTokens: 100, enableChunkedPrefill: false } })
      const [a, b] = byId(store)
      expect([a!.firstTokenNs, a!.finishNs]).toEqual([ms(10), ms(20)])
      expect([b!.firstScheduledNs, b!.firstTokenNs, b!.finishNs]).toEqual([ms(10), ms(20), ms(30)])
    }))

  it.effect("max_num_seqs caps the running batch", () =>
    Effect.gen(function*() {
      // max 1 running: B starts only after A (1 token) finishes at 10 ms
      const { store } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 10, outputTokens: 1 },
        { arrivalNs: 0, promptTokens: 10, outputTokens: 1 }
      ], { engine: { maxNumSeqs: 1 } })
      const [a, b] = byId(store)
      expect(a!.finishNs).toBe(ms(10))
      expect([b!.firstScheduledNs, b!.finishNs]).toEqual([ms(10), ms(20)])
    }))

  it.effect("recompute preemption from the tail when blocks run out", () =>
    Effect.gen(function*() {
      // block 16, 3 blocks. A (16 in, 20 out) and B (16 in, 20 out) at 0, 1 block each after prefill
      // (16 tokens). Step [0,10): both prefill -> token 1 each (17 tokens known, 16 computed).
      // Step [10,20): A needs a 2nd block (17 tokens): takes the free one. B needs a 2nd block: none
      // free -> B (tail) preempted, blocks freed, back to waiting; nothing admitted this step.
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 16, outputTokens: 20 },
        { arrivalNs: 0, promptTokens: 16, outputTokens: 20 }
      ], { numBlocks: 3, engine: { blockSize: 16 } })
      const [a, b] = byId(store)
      expect(summary.num_preemptions).toBeGreaterThan(0)
      expect(b!.preemptions).toBeGreaterThan(0)
      expect(a!.preemptions).toBe(0)
      expect(a!.numOutput).toBe(20)
      expect(b!.numOutput).toBe(20)
      // A runs alone from step 2 on: its 20 tokens at 10, 20, ..., 200 ms
      expect(a!.finishNs).toBe(ms(200))
      expect(store.steps[1]!.preempted).toBe(1)
      for (const s of store.steps) expect(s.kvBlocksUsed).toBeLessThanOrEqual(3)
    }))

  it.effect("requests longer than max_model_len are rejected with a reason, not dropped", () =>
    Effect.gen(function*() {
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 90, outputTokens: 20 },
        { arrivalNs: 0, promptTokens: 50, outputTokens: 10 }
      ], { engine: { maxModelLen: 100 } })
      expect(summary.completed).toBe(1)
      expect(summary.rejected).toBe(1)
      expect(summary.rejections[0]!.reason).toContain("max_model_len 100")
      const rejected = store.requests.find((r) => r.reason !== "")!
      expect(rejected.row).toContain(",rejected,")
    }))
})

/**
 * Multi-step scheduling (`--num-scheduler-steps`, vLLM 0.6.0), hand-computed with a constant
 * 10 ms step: an all-decode batch runs N passes per scheduler call, arrivals wait for the block to
 * end, each request's tokens of a block reach the client together (one ITL gap per block), a
 * finished request stays priced until the block ends, the per-step overhead is paid once per
 * block, and a block ends early when the KV cache cannot take the next pass.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { ms, runScenario } from "../helpers.js"

type Req = { id: number; firstScheduledNs: number; firstTokenNs: number; finishNs: number; numOutput: number; preemptions: number; lastTokenNs: number }
const byId = (store: { requests: Array<{ request: { id: number } }> }) =>
  [...store.requests].sort((a, b) => a.request.id - b.request.id).map((r) => r.request as never as Req)

const noChunk = (steps: number) => ({ engine: { numSchedulerSteps: steps, enableChunkedPrefill: false, maxNumBatchedTokens: 4096 } })

describe("multi-step scheduling (10 ms per pass)", () => {
  it.effect("a decode block of N passes; tokens arrive at its end; the last block stops when nothing is left to generate", () =>
    Effect.gen(function*() {
      // A (10 in, 6 out) at 0, N = 4. [0,10): prefill, token 1 at 10 (prompt steps run alone).
      // Block at 10: 4 passes [10,50) -> tokens 2..5 all at 50. Block at 50: pass [50,60) makes
      // token 6; nothing is left to generate, so the block ends at 60.
      const { store, summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 6 }], noChunk(4))
      const [a] = byId(store)
      expect([a!.firstTokenNs, a!.finishNs, a!.numOutput]).toEqual([ms(10), ms(60), 6])
      expect(store.steps.map((s) => s.startNs / 1e6)).toEqual([0, 10, 20, 30, 40, 50])
      expect(summary.num_steps).toBe(6)
      expect(summary.mean_tpot_ms).toBe(10) // (60 - 10) / 5
      // ITL: one gap per chunk: 50 - 10 and 60 - 50
      expect(summary.mean_itl_ms).toBeCloseTo(25, 6)
      expect(summary.mean_e2el_ms).toBe(60)
    }))

  it.effect("an arrival waits for the block to end; a request done mid-block is priced and finishes at the block's end", () =>
    Effect.gen(function*() {
      // A (10 in, 9 out) at 0; B (10 in, 2 out) at 15 ms; N = 4.
      // [0,10) A prefill -> A1 at 10. Block [10,50): A2..A5 at 50 (B waits from 15).
      // At 50: A decodes and B is admitted (a step with a prompt: one pass) [50,60): A6, B1 at 60.
      // Block at 60: [60,70) A7 B2 (B done), [70,80) A8 (B still in the batch), [80,90) A9 (A done);
      // nothing left -> ends at 90. B finishes at 90, not 70.
      const seen: Array<number> = []
      const { store } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 10, outputTokens: 9 },
        { arrivalNs: ms(15), promptTokens: 10, outputTokens: 2 }
      ], { ...noChunk(4), stepNs: (b: BatchShape) => { seen.push(b.numDecode); return b.prefillTokens + b.numDecode === 0 ? 0 : ms(10) } })
      const [a, b] = byId(store)
      expect([b!.firstScheduledNs, b!.firstTokenNs, b!.finishNs]).toEqual([ms(50), ms(60), ms(90)])
      expect([a!.firstTokenNs, a!.finishNs]).toEqual([ms(10), ms(90)])
      expect(store.steps.map((s) => s.startNs / 1e6)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80])
      // the passes after B's last token still price both requests
      expect(seen.slice(-3)).toEqual([2, 2, 2])
    }))

  it.effect("the per-step overhead is paid by the first pass of a block only", () =>
    Effect.gen(function*() {
      // every step: 10 ms + a declared 2 ms step overhead. A (10 in, 5 out), N = 4.
      // [0,12) prefill -> A1 at 12. Block: first pass 12 ms, then 3 x 10 ms -> A2..A5 at 54.
      const { store } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 5 }], {
        ...noChunk(4),
        stepNs: (b: BatchShape) => (b.prefillTokens + b.numDecode === 0 ? 0 : ms(12)),
        stepOverheadNs: ms(2)
      })
      const [a] = byId(store)
      expect([a!.firstTokenNs, a!.finishNs]).toEqual([ms(12), ms(54)])
      expect(store.steps.map((s) => s.durationNs / 1e6)).toEqual([12, 12, 10, 10, 10])
    }))

  it.effect("a block ends early when the KV cache cannot take the next pass; the next scheduler call preempts", () =>
    Effect.gen(function*() {
      // block 16, 4 blocks; A and B (16 in, 40 out) at 0; N = 20. [0,10): both prefill (1 block
      // each), token 1 at 10. Block at 10: both grow to 17 tokens (2 blocks each, none free). Pass k
      // (k >= 2) needs 16 + k tokens: pass 17 would need a third block -> the block is passes 1..16,
      // [10,170), tokens 2..17 at 170. At 170 A needs a block: B (the tail) is preempted.
      const { store } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 16, outputTokens: 40 },
        { arrivalNs: 0, promptTokens: 16, outputTokens: 40 }
      ], { ...noChunk(20), numBlocks: 4 })
      const starts = store.steps.map((s) => s.startNs / 1e6)
      expect(starts.slice(0, 18)).toEqual([0, ...Array.from({ length: 17 }, (_, k) => 10 + 10 * k)])
      expect(store.steps[17]!.preempted).toBe(1)
      const [a, b] = byId(store)
      expect(b!.preemptions).toBe(1)
      expect(a!.preemptions).toBe(0)
      expect([a!.numOutput, b!.numOutput]).toEqual([40, 40])
    }))

  it.effect("fast-forward is off under multi-step: exact and default runs agree", () =>
    Effect.gen(function*() {
      const arrivals = Array.from({ length: 20 }, (_, i) => ({ arrivalNs: ms(7 * i), promptTokens: 20 + i, outputTokens: 30 + (i % 7) }))
      const fast = yield* runScenario(arrivals, noChunk(8))
      const exact = yield* runScenario(arrivals, { ...noChunk(8), exactSteps: true })
      expect(fast.summary.mean_e2el_ms).toBe(exact.summary.mean_e2el_ms)
      expect(fast.summary.num_steps).toBe(exact.summary.num_steps)
    }))

  it.effect("--num-scheduler-steps turns chunked prefill off by default and refuses it when asked for", () =>
    Effect.gen(function*() {
      const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", numSchedulerSteps: 10, maxModelLen: 4096 })
      expect(cfg.engine.numSchedulerSteps).toBe(10)
      expect(cfg.engine.enableChunkedPrefill).toBe(false)
      expect(cfg.engine.maxNumBatchedTokens).toBe(4096) // raised to max_model_len without chunking, as vLLM 0.6
      const e = yield* Effect.flip(resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", numSchedulerSteps: 10, enableChunkedPrefill: true }))
      expect(e.message).toContain("--num-scheduler-steps")
      const e0 = yield* Effect.flip(resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", numSchedulerSteps: 0 }))
      expect(e0.message).toContain("positive integer")
    }))
})

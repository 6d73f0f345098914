/**
 * Invariants over random workloads and engine settings: every request finishes or is rejected
 * exactly once; KV blocks never exceed capacity; time never goes back; tokens are conserved.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { runScenario } from "../helpers.js"

const workload = fc.array(
  fc.record({ gapUs: fc.integer({ min: 0, max: 50_000 }), prompt: fc.integer({ min: 1, max: 600 }), output: fc.integer({ min: 1, max: 60 }) }),
  { minLength: 1, maxLength: 40, size: "max" }
)
const settings = fc.record({
  blockSize: fc.constantFrom(1, 4, 16),
  numBlocks: fc.integer({ min: 8, max: 400 }),
  budget: fc.integer({ min: 16, max: 1024 }),
  maxSeqs: fc.integer({ min: 1, max: 32 }),
  chunked: fc.boolean(),
  threshold: fc.constantFrom(0, 0, 32, 200),
  reserveFull: fc.boolean(),
  prefixCaching: fc.boolean(),
  instances: fc.integer({ min: 1, max: 3 }),
  // pipeline stages (virtual engines per instance); 1 = none
  pp: fc.constantFrom(1, 1, 2, 4)
})

describe("engine invariants", () => {
  it.effect.prop("finish-once, KV bound, monotonic time, token conservation", [workload, settings], ([w, s]) =>
    Effect.gen(function*() {
      let t = 0
      const arrivals = w.map((x) => {
        t += x.gapUs * 1000
        return { arrivalNs: t, promptTokens: x.prompt, outputTokens: x.output }
      })
      const capacityTokens = s.numBlocks * s.blockSize
      // vLLM refuses to start unless max_model_len fits the cache; without chunking it must also fit the budget
      const maxModelLen = s.chunked ? capacityTokens : Math.min(capacityTokens, s.budget)
      const steps: Array<StepInfo & { endNs: number; tokens: number }> = []
      let tokenEvents = 0
      let lost = 0
      const { store, summary } = yield* runScenario(arrivals, {
        engine: {
          blockSize: s.blockSize, maxNumBatchedTokens: s.budget, maxNumSeqs: s.maxSeqs, enableChunkedPrefill: s.chunked,
          longPrefillTokenThreshold: s.threshold, schedulerReserveFullIsl: s.reserveFull, enablePrefixCaching: s.prefixCaching, maxModelLen
        },
        numBlocks: s.numBlocks,
        numInstances: s.instances,
        stepNs: (b) => 1_000_000 + 10_000 * (b.prefillTokens + b.numDecode) + 7 * b.decodeContextSum,
        ...(s.pp > 1 ? { pipeline: { stages: s.pp, sendNs: 30_000 } } : {}),
        observer: {
          onStep: (i) => steps.push({ ...i, endNs: i.startNs + i.durationNs, tokens: i.shape.prefillTokens + i.shape.numDecode }), // shape is reused: copy
          onToken: () => {
            tokenEvents++
          },
          onPreempt: (r) => {
            lost += r.numComputed
          }
        }
      })

      // every request exactly once
      const ids = store.requests.map((r) => r.request.id).sort((a, b) => a - b)
      expect(ids).toEqual(arrivals.map((_, i) => i))
      expect(summary.completed + summary.rejected).toBe(arrivals.length)

      // KV never above capacity; time per instance (per virtual engine under PP) never goes back;
      // under PP a replica's micro-batches enter stage 0 in order, one stage time apart at least
      const lastEnd = new Map<string, number>()
      const lastStart = new Map<number, { start: number; stage0: number }>()
      for (const st of steps) {
        const key = `${st.instance}/${st.virtualEngine}`
        expect(st.kvBlocksUsed).toBeLessThanOrEqual(s.numBlocks)
        expect(st.durationNs).toBeGreaterThan(0)
        expect(st.startNs).toBeGreaterThanOrEqual(lastEnd.get(key) ?? 0)
        lastEnd.set(key, st.endNs)
        if (s.pp > 1) {
          const prev = lastStart.get(st.instance)
          if (prev !== undefined) expect(st.startNs).toBeGreaterThanOrEqual(prev.start + prev.stage0)
          // every stage takes the step time here, and the micro-batch's latency is P of them plus P-1 sends
          const stage0 = (st.durationNs - (s.pp - 1) * 30_000) / s.pp
          expect(stage0).toBeGreaterThanOrEqual(1_000_000)
          lastStart.set(st.instance, { start: st.startNs, stage0: 1_000_000 + 10_000 * st.tokens }) // a lower bound of its stage time
        }
        expect(st.tokens).toBeLessThanOrEqual(s.budget)
        expect(st.running).toBeLessThanOrEqual(s.maxSeqs)
      }

      // per request: ordered times, exact output, no blocks left
      let expectedWork = 0
      let outputs = 0
      let cacheHits = 0
      for (const { request: r, reason } of store.requests) {
        if (reason !== "") {
          expect(r.promptTokens + r.outputTokens).toBeGreaterThan(maxModelLen)
          continue
        }
        expect(r.numOutput).toBe(r.outputTokens)
        expect(r.blocks).toBe(0)
        expect(r.firstScheduledNs).toBeGreaterThanOrEqual(r.arrivalNs)
        expect(r.firstTokenNs).toBeGreaterThan(r.firstScheduledNs)
        expect(r.finishNs).toBeGreaterThanOrEqual(r.firstTokenNs)
        expectedWork += r.promptTokens + r.outputTokens - 1
        outputs += r.numOutput
        cacheHits += r.cachedPromptTokens
      }
      // tokens conserved: each computed once, plus what preemption threw away, less prefix-cache hits
      const computed = steps.reduce((acc, st) => acc + st.tokens, 0)
      expect(computed).toBe(expectedWork + lost - cacheHits)
      if (!s.prefixCaching) expect(cacheHits).toBe(0)
      expect(tokenEvents).toBe(outputs)
      expect(summary.total_output_tokens).toBe(outputs)
    }), { fastCheck: { numRuns: 150 } })
})

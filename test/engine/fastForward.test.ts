/**
 * Fast-forward of steady decode runs must give exactly what stepping one step at a time gives:
 * identical requests.csv rows, step rows and summaries, over random workloads and engine settings.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import type { Arrival } from "../../src/engine/Engine.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { stepRow } from "../../src/trace/format.js"
import { runScenario } from "../helpers.js"

const workload = fc.array(
  // `family` > 0: the prompt's tokens follow one of 3 shared sequences (prefix-cache hits across requests)
  fc.record({ gapUs: fc.integer({ min: 0, max: 200_000 }), prompt: fc.integer({ min: 1, max: 400 }), output: fc.integer({ min: 1, max: 300 }), family: fc.integer({ min: 0, max: 3 }) }),
  { minLength: 1, maxLength: 40, size: "max" }
)
const settings = fc.record({
  blockSize: fc.constantFrom(1, 3, 16),
  numBlocks: fc.integer({ min: 30, max: 600 }),
  budget: fc.integer({ min: 64, max: 2048 }),
  maxSeqs: fc.integer({ min: 1, max: 24 }),
  chunked: fc.boolean(),
  reserveFull: fc.boolean(),
  prefixCaching: fc.boolean(),
  instances: fc.integer({ min: 1, max: 2 }),
  slope: fc.integer({ min: 0, max: 50 }),
  // pipeline stages (virtual engines per instance); 1 = no pipeline parallelism
  pp: fc.constantFrom(1, 1, 2, 3)
})

const run = (arrivals: ReadonlyArray<Arrival>, s: fc.RecordValue<typeof settings> extends never ? never : any, exactSteps: boolean) =>
  Effect.gen(function*() {
    const steps: Array<string> = []
    const capacity = s.numBlocks * s.blockSize
    const { store, summary, result } = yield* runScenario(arrivals, {
      engine: { blockSize: s.blockSize, maxNumBatchedTokens: s.budget, maxNumSeqs: s.maxSeqs, enableChunkedPrefill: s.chunked, schedulerReserveFullIsl: s.reserveFull, enablePrefixCaching: s.prefixCaching, maxModelLen: s.chunked ? capacity : Math.min(capacity, s.budget) },
      numBlocks: s.numBlocks,
      numInstances: s.instances,
      // piecewise-linear in the context, like the roofline's max(compute, memory)
      stepNs: (b) => 500_000 + 3_000 * b.numDecode + Math.max(40 * b.prefillTokens, s.slope * b.decodeContextSum),
      ...(s.pp > 1 ? { pipeline: { stages: s.pp, sendNs: 50_000, stageNs: (b: BatchShape, st: number) => 200_000 * (st + 1) + 2_000 * b.numDecode + 20 * b.prefillTokens + s.slope * b.decodeContextSum } } : {}),
      observer: { onStep: (i: StepInfo) => steps.push(stepRow(i)) },
      exactSteps
    })
    return { rows: store.requests.map((r) => r.row), steps, summary, skipped: result.engine.instances.reduce((a, i) => a + i.fastForwardedSteps, 0) }
  })

describe("fast-forward", () => {
  it.effect.prop("identical to exact stepping", [workload, settings], ([w, s]) =>
    Effect.gen(function*() {
      let t = 0
      const families = [1, 2, 3].map((f) => Int32Array.from({ length: 400 }, (_, i) => (i < 100 ? 7 : f * 1000 + i)))
      const arrivals: Array<Arrival> = w.map((x) => ({
        arrivalNs: (t += x.gapUs * 1000), promptTokens: x.prompt, outputTokens: x.output,
        content: x.family === 0 ? undefined : { kind: "tokens", ids: families[x.family - 1]!.subarray(0, x.prompt) }
      }))
      const exact = yield* run(arrivals, s, true)
      const fast = yield* run(arrivals, s, false)
      expect(fast.rows).toEqual(exact.rows)
      expect(fast.steps).toEqual(exact.steps)
      expect(fast.summary).toEqual(exact.summary)
      // under PP the virtual engines interleave on the shared stages: fast-forward stays off
      if (s.pp > 1) expect(fast.skipped).toBe(0)
    }), { fastCheck: { numRuns: 200 } })

  it.effect("skips work: a long decode-only run takes one step() per finish, not per token", () =>
    Effect.gen(function*() {
      const arrivals = Array.from({ length: 8 }, (_, i) => ({ arrivalNs: 0, promptTokens: 100, outputTokens: 500 + i }))
      const exact = yield* run(arrivals, { blockSize: 16, numBlocks: 10_000, budget: 2048, maxSeqs: 16, chunked: true, reserveFull: true, prefixCaching: true, instances: 1, slope: 10, pp: 1 }, true)
      const fast = yield* run(arrivals, { blockSize: 16, numBlocks: 10_000, budget: 2048, maxSeqs: 16, chunked: true, reserveFull: true, prefixCaching: true, instances: 1, slope: 10, pp: 1 }, false)
      expect(fast.rows).toEqual(exact.rows)
      expect(exact.summary.num_steps).toBe(507)
      expect(exact.skipped).toBe(0)
      expect(fast.skipped).toBeGreaterThan(480)
    }))

  it.effect("arrivals queued behind a request that cannot be admitted do not end a fast-forward", () =>
    Effect.gen(function*() {
      // one sequence slot: request 0 decodes for ~1.5 s (0.5 ms steps) while 99 more arrive
      const arrivals = [{ arrivalNs: 0, promptTokens: 50, outputTokens: 3000 },
        ...Array.from({ length: 99 }, (_, i) => ({ arrivalNs: 100_000_000 + i * 5_000_000 + 123_457, promptTokens: 50, outputTokens: 5 }))]
      const s = { blockSize: 16, numBlocks: 10_000, budget: 2048, maxSeqs: 1, chunked: true, reserveFull: false, prefixCaching: true, instances: 1, slope: 0, pp: 1 }
      const exact = yield* run(arrivals, s, true)
      const fast = yield* run(arrivals, s, false)
      expect(fast.rows).toEqual(exact.rows)
      expect(fast.steps).toEqual(exact.steps)
      // full steps: 3 per request after the first (its admission, the step after it, its finish: ~297),
      // none per arrival (ending the fast-forward at each would add 99)
      expect(exact.summary.num_steps - fast.skipped).toBeLessThanOrEqual(300)
    }))
})

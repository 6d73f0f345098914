/**
 * timeseries.csv: hand-computed buckets from step events (a step across a bucket boundary, a
 * fast-forwarded run reported as one event, first tokens, preemptions, prefix-cache counters, an
 * idle instance), and from the engine: totals equal the summary's, fast-forward = exact stepping.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { RequestStatus, SimRequest } from "../../src/domain/SimRequest.js"
import type { Arrival } from "../../src/engine/Engine.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { emptyPrefixCacheStats } from "../../src/memory/KvCache.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { Timeseries, TIMESERIES_HEADER, type TimeseriesTable, timeseriesCsv } from "../../src/trace/Timeseries.js"
import { runScenario } from "../helpers.js"

const S = 1e9

const step = (o: Partial<StepInfo> & { prefill?: number; decodes?: number }): StepInfo => ({
  instance: 0, pool: "default", virtualEngine: 0, startNs: 0, durationNs: 0, running: 0, waiting: 0, kvBlocksUsed: 0, kvBlocksTotal: 100, preempted: 0,
  shape: batchShapeOf(o.prefill === undefined ? [] : [[o.prefill, 0]], Array.from({ length: o.decodes ?? 0 }, () => 10)),
  ...o
})

const column = (tb: TimeseriesTable, name: keyof TimeseriesTable, instance: number): Array<number> => {
  const out: Array<number> = []
  for (let i = 0; i < tb.rows; i++) if (tb.instance[i] === instance) out.push((tb[name] as Float64Array)[i]!)
  return out
}
const close = (xs: ReadonlyArray<number>) => xs.map((x) => Math.round(x * 1e9) / 1e9)
const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0)

describe("timeseries", () => {
  it("hand-computed buckets", () => {
    const ts = new Timeseries(1 * S)
    const stats0 = emptyPrefixCacheStats()
    ts.attach([
      { id: 0, virtualEngine: 0, poolName: "default", scheduler: { kv: { numBlocks: 100, stats: stats0 } } },
      { id: 1, virtualEngine: 0, poolName: "idle", scheduler: { kv: { numBlocks: 50, stats: emptyPrefixCacheStats() } } }
    ])
    const o = ts.observer
    stats0.queries += 100 // looked up while scheduling step A
    stats0.hits += 40
    // A: [0.2, 0.5) s, 100 prompt tokens and 2 decodes
    o.onStep!(step({ startNs: 0.2 * S, durationNs: 0.3 * S, prefill: 100, decodes: 2, running: 3, waiting: 1, kvBlocksUsed: 10 }))
    // a request with output is preempted while scheduling B: its recomputation will give a token
    const victim = new SimRequest(9, 0, 10, 10)
    victim.numOutput = 3
    o.onPreempt!(victim, 0.9 * S)
    // B: [0.9, 1.1) s across the boundary, 4 decodes, one preemption
    o.onStep!(step({ startNs: 0.9 * S, durationNs: 0.2 * S, decodes: 4, running: 4, kvBlocksUsed: 20, preempted: 1 }))
    // C: a fast-forwarded run of 4 steps over [1.5, 2.5) s as one event: ends at 1.75, 2.0, 2.25, 2.5
    o.onStep!(step({ startNs: 1.5 * S, durationNs: 1 * S, decodes: 8, running: 8, kvBlocksUsed: 30, steps: 4 }))
    // a request whose first token came at 0.5 s and last at 2.5 s
    const r = new SimRequest(1, 0, 100, 20)
    r.numOutput = 20
    r.status = RequestStatus.Finished
    r.firstTokenNs = 0.5 * S
    r.lastTokenNs = r.finishNs = 2.5 * S
    o.onFinish!(r)
    const tb = ts.table()
    expect(tb.rows).toBe(6)
    expect(Array.from(tb.t)).toEqual([1, 1, 2, 2, 3, 3])
    expect(Array.from(tb.instance)).toEqual([0, 1, 0, 1, 0, 1])
    expect(tb.pool).toEqual(["default", "idle", "default", "idle", "default", "idle"])
    expect(column(tb, "steps", 0)).toEqual([1, 2, 3])
    expect(close(column(tb, "busyPct", 0))).toEqual([40, 60, 50])
    expect(column(tb, "promptTokens", 0)).toEqual([100, 0, 0])
    // bucket 0: A's 2 decodes + the first token + the preempted request's next token
    expect(column(tb, "generationTokens", 0)).toEqual([4, 4 + 8, 24])
    expect(column(tb, "genThroughput", 0)).toEqual([4, 12, 24])
    expect(close(column(tb, "running", 0))).toEqual([1.3, 4.4, 4]) // 3 x 0.3 + 4 x 0.1, 4 x 0.1 + 8 x 0.5, 8 x 0.5
    expect(close(column(tb, "waiting", 0))).toEqual([0.3, 0, 0])
    expect(close(column(tb, "kvCachePct", 0))).toEqual([5, 17, 15])
    expect(column(tb, "prefixCacheQueries", 0)).toEqual([100, 0, 0])
    expect(column(tb, "prefixCacheHits", 0)).toEqual([40, 0, 0])
    expect(column(tb, "preemptions", 0)).toEqual([1, 0, 0])
    expect(column(tb, "requestsFinished", 0)).toEqual([0, 0, 1])
    for (const c of ["steps", "busyPct", "generationTokens", "running", "kvCachePct"] as const) expect(column(tb, c, 1)).toEqual([0, 0, 0])
    const csv = timeseriesCsv(tb).split("\n")
    expect(csv[0] + "\n").toBe(TIMESERIES_HEADER)
    expect(csv[0]).toBe("t,instance,pool,steps,busy_pct,prompt_throughput,gen_throughput,running,waiting,kv_cache_pct,prompt_tokens,generation_tokens,prefix_cache_queries,prefix_cache_hits,preemptions,requests_finished")
    expect(csv[1]).toBe("1,0,default,1,40.000,100.000,4.000,1.300,0.300,5.000,100,4,100,40,1,0")
    expect(csv[6]).toBe("3,1,idle,0,0.000,0.000,0.000,0.000,0.000,0.000,0,0,0,0,0,0")
  })

  it("a fast-forwarded run reported as one event gives the buckets of its steps one by one", () => {
    const one = new Timeseries(0.3 * S)
    const many = new Timeseries(0.3 * S)
    one.observer.onStep!(step({ startNs: 0.1 * S, durationNs: 1.2 * S, decodes: 5, running: 5, steps: 12 }))
    for (let j = 0; j < 12; j++) many.observer.onStep!(step({ startNs: 0.1 * S + j * 0.1 * S, durationNs: 0.1 * S, decodes: 5, running: 5 }))
    const a = one.table()
    const b = many.table()
    expect(Array.from(a.steps)).toEqual(Array.from(b.steps))
    expect(Array.from(a.generationTokens)).toEqual(Array.from(b.generationTokens))
    expect(close(Array.from(a.busyPct))).toEqual(close(Array.from(b.busyPct)))
    expect(sum(a.generationTokens)).toBe(60)
  })

  const run = (arrivals: ReadonlyArray<Arrival>, o: { numBlocks: number; prefixCaching: boolean; chunked: boolean; budget: number }, exactSteps: boolean, interval = 0.05) =>
    runScenario(arrivals, {
      engine: { blockSize: 16, maxNumBatchedTokens: o.budget, maxNumSeqs: 16, enableChunkedPrefill: o.chunked, enablePrefixCaching: o.prefixCaching, maxModelLen: o.chunked ? o.numBlocks * 16 : Math.min(o.numBlocks * 16, o.budget) },
      numBlocks: o.numBlocks,
      stepNs: (b) => 400_000 + 3_000 * b.numDecode + 30 * b.prefillTokens + 5 * b.decodeContextSum,
      timeseriesIntervalS: interval,
      exactSteps
    })

  it.effect("from the engine: tokens, steps, finishes and preemptions add up to the summary's", () =>
    Effect.gen(function*() {
      const arrivals: Array<Arrival> = Array.from({ length: 200 }, (_, i) => ({ arrivalNs: i * 3_000_000, promptTokens: 33 + ((i * 37) % 300), outputTokens: 1 + ((i * 53) % 120) }))
      for (const numBlocks of [100_000, 120]) {
        const { store, summary } = yield* run(arrivals, { numBlocks, prefixCaching: false, chunked: true, budget: 512 }, false)
        const tb = store.timeseries!.table()
        expect(sum(tb.generationTokens)).toBe(summary.total_output_tokens)
        expect(sum(tb.steps)).toBe(summary.num_steps)
        expect(sum(tb.requestsFinished)).toBe(summary.completed)
        expect(sum(tb.preemptions)).toBe(summary.num_preemptions)
        expect(sum(tb.promptTokens)).toBe(store.steps.reduce((a, s) => a + s.shape.prefillTokens, 0))
        if (numBlocks === 120) expect(summary.num_preemptions).toBeGreaterThan(0)
        // the busy time is the steps' total
        expect(Math.round(sum(tb.busyPct) / 100 * tb.intervalNs)).toBe(store.steps.reduce((a, s) => a + s.durationNs, 0))
      }
    }))

  it.effect("prefix-cache counters are the KV cache's", () =>
    Effect.gen(function*() {
      const shared = Int32Array.from({ length: 400 }, (_, i) => (i < 256 ? 5 : i))
      const arrivals: Array<Arrival> = Array.from({ length: 60 }, (_, i) => ({ arrivalNs: i * 20_000_000, promptTokens: 300, outputTokens: 20, content: { kind: "tokens", ids: shared.subarray(0, 300) } }))
      const { store, summary } = yield* run(arrivals, { numBlocks: 100_000, prefixCaching: true, chunked: true, budget: 2048 }, false)
      const tb = store.timeseries!.table()
      expect(sum(tb.prefixCacheQueries)).toBe(60 * 300)
      expect(sum(tb.prefixCacheHits)).toBeGreaterThan(0)
      expect(sum(tb.prefixCacheHits) / sum(tb.prefixCacheQueries)).toBeCloseTo(summary.prefix_cache_hit_rate as number, 9)
    }))

  it.effect.prop("fast-forward gives the same series as exact stepping", [
    fc.array(fc.record({ gapUs: fc.integer({ min: 0, max: 100_000 }), prompt: fc.integer({ min: 1, max: 400 }), output: fc.integer({ min: 1, max: 300 }) }), { minLength: 1, maxLength: 30 }),
    fc.record({ numBlocks: fc.integer({ min: 40, max: 400 }), prefixCaching: fc.boolean(), chunked: fc.boolean(), budget: fc.integer({ min: 64, max: 1024 }) }),
    fc.constantFrom(0.001, 0.01, 0.1)
  ], ([w, o, interval]) =>
    Effect.gen(function*() {
      let t = 0
      const arrivals = w.map((x) => ({ arrivalNs: (t += x.gapUs * 1000), promptTokens: x.prompt, outputTokens: x.output }))
      const exact = yield* run(arrivals, o, true, interval)
      const fast = yield* run(arrivals, o, false, interval)
      expect(timeseriesCsv(fast.store.timeseries!.table())).toBe(timeseriesCsv(exact.store.timeseries!.table()))
      // every output token once, but for a last prompt chunk of one token (priced as a decode)
      const gen = sum(exact.store.timeseries!.table().generationTokens)
      expect(gen).toBeGreaterThanOrEqual(exact.summary.total_output_tokens)
      expect(gen).toBeLessThanOrEqual(exact.summary.total_output_tokens + exact.summary.completed + exact.summary.num_preemptions)
    }), { fastCheck: { numRuns: 60 } })
})

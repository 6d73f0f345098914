/**
 * The closed-loop client (--max-concurrency, vLLM bench's semaphore): hand-computed send times,
 * TTFT and E2E on a constant 10 ms step; time order across instances; no phase-locking with a
 * think time; an unlimited client equals the open loop.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Arrival } from "../../src/engine/Engine.js"
import { Rng } from "../../src/workload/Rng.js"
import { ms, runScenario } from "../helpers.js"

type Row = { id: number; arrivalNs: number; firstTokenNs: number; finishNs: number; clientQueueNs: number; instance: number }
const byId = (store: { requests: Array<{ request: unknown }> }) =>
  (store.requests.map((r) => r.request) as Array<Row>).sort((a, b) => a.id - b.id)
const at0 = (outputs: ReadonlyArray<number>, prompt = 10): Array<Arrival> => outputs.map((o) => ({ arrivalNs: 0, promptTokens: prompt, outputTokens: o }))
const client = (maxConcurrency: number, extra: { thinkTimeMeanNs?: number; allAtOnce?: boolean } = {}) =>
  ({ maxConcurrency, thinkTimeMeanNs: extra.thinkTimeMeanNs ?? 0, seed: 0, allAtOnce: extra.allAtOnce ?? false })

describe("closed-loop client (10 ms per step)", () => {
  it.effect("N=2, rate inf: the next request goes when a slot frees; send, TTFT, E2E by hand", () =>
    Effect.gen(function*() {
      // 5 requests at t=0, 10 prompt tokens, outputs 2, 4, 3, 1, 2; at most 2 in flight.
      // [0,10): R0, R1 prefill -> token 1 at 10. [10,20): R0 token 2 (done at 20), R1 token 2.
      // R2 sent at 20. [20,30): R1 token 3, R2 prefill -> token 1 at 30. [30,40): R1 token 4 (done at 40), R2 token 2.
      // R3 sent at 40. [40,50): R2 token 3 (done at 50), R3 prefill -> its only token (done at 50).
      // R4 sent at 50 (two slots free, one used). [50,60): R4 token 1. [60,70): R4 token 2 (done at 70).
      const { store, summary } = yield* runScenario(at0([2, 4, 3, 1, 2]), { client: client(2, { allAtOnce: true }) })
      const rows = byId(store)
      expect(rows.map((r) => r.arrivalNs)).toEqual([0, 0, ms(20), ms(40), ms(50)])
      expect(rows.map((r) => r.clientQueueNs)).toEqual([0, 0, ms(20), ms(40), ms(50)])
      expect(rows.map((r) => r.firstTokenNs)).toEqual([ms(10), ms(10), ms(30), ms(50), ms(60)])
      expect(rows.map((r) => r.finishNs)).toEqual([ms(20), ms(40), ms(50), ms(50), ms(70)])
      // TTFT and E2E count from the send
      expect(summary.mean_ttft_ms).toBe(10)
      expect(summary.mean_e2el_ms).toBe((20 + 40 + 30 + 10 + 20) / 5)
      expect(summary.max_concurrency).toBe(2)
      expect(summary.mean_client_queue_time_ms).toBe((0 + 0 + 20 + 40 + 50) / 5)
      expect(summary.median_client_queue_time_ms).toBe(20)
      expect(summary.p90_client_queue_time_ms).toBeCloseTo(46, 9) // numpy linear: 40 + 0.6 x (50 - 40)
      // rate inf: vLLM bench writes no queue-inclusive E2E
      expect(summary.mean_e2el_including_client_queue_ms).toBeUndefined()
      expect(summary.max_concurrent_requests).toBe(2)
      expect(summary.num_steps).toBe(7)
      expect(summary.duration).toBe(0.07)
    }))

  it.effect("N=1 with arrivals in time: send = max(arrival, slot free); an idle slot sends at the arrival", () =>
    Effect.gen(function*() {
      // R0 at 0: tokens at 10, 20, 30 (done at 30). R1 due at 5 waits until 30: tokens at 40..60.
      // R2 due at 100, the slot is free since 60: sent at 100, tokens at 110..130.
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 10, outputTokens: 3 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 3 },
        { arrivalNs: ms(100), promptTokens: 10, outputTokens: 3 }
      ], { client: client(1) })
      const rows = byId(store)
      expect(rows.map((r) => r.arrivalNs)).toEqual([0, ms(30), ms(100)])
      expect(rows.map((r) => r.clientQueueNs)).toEqual([0, ms(25), 0])
      expect(rows.map((r) => r.finishNs)).toEqual([ms(30), ms(60), ms(130)])
      expect(summary.mean_e2el_ms).toBe(30)
      expect(summary.mean_client_queue_time_ms).toBe(25 / 3)
      expect(summary.mean_e2el_including_client_queue_ms).toBe((30 + 55 + 30) / 3)
      expect(summary.p99_e2el_including_client_queue_ms).toBeCloseTo(54.5, 9)
    }))

  it.effect("a rejected request frees its slot at once", () =>
    Effect.gen(function*() {
      // max_model_len 100: R0 (90 + 20) is refused when it is sent at 0, so R1 goes at 0 too
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 90, outputTokens: 20 },
        { arrivalNs: 0, promptTokens: 10, outputTokens: 2 },
        { arrivalNs: 0, promptTokens: 10, outputTokens: 2 }
      ], { client: client(1, { allAtOnce: true }), engine: { maxModelLen: 100 } })
      const rows = byId(store)
      expect(summary.rejected).toBe(1)
      expect(rows.map((r) => r.arrivalNs)).toEqual([0, 0, ms(20)])
      expect(rows.map((r) => r.finishNs)).toEqual([0, ms(20), ms(40)])
      // queue statistics cover finished requests only, as vLLM bench's successful outputs
      expect(summary.mean_client_queue_time_ms).toBe(10)
    }))

  it.effect("two instances: the engine stops at the first finish anywhere, so a freed slot is used then", () =>
    Effect.gen(function*() {
      // round robin, N=2, outputs 3, 1, 2, 2 at t=0. R0 -> instance 0 (tokens 10, 20, 30), R1 -> instance 1
      // (done at 10). R2 is sent at 10 to instance 0, which must not have run past 10: [10,20) R0 token 2 +
      // R2 prefill -> R2 token 1 at 20, token 2 at 30 (done). R3 sent at 30 -> instance 1: tokens 40, 50.
      const { store } = yield* runScenario(at0([3, 1, 2, 2]), { client: client(2, { allAtOnce: true }), numInstances: 2 })
      const rows = byId(store)
      expect(rows.map((r) => r.instance)).toEqual([0, 1, 0, 1])
      expect(rows.map((r) => r.arrivalNs)).toEqual([0, 0, ms(10), ms(30)])
      expect(rows.map((r) => r.firstTokenNs)).toEqual([ms(10), ms(10), ms(20), ms(40)])
      expect(rows.map((r) => r.finishNs)).toEqual([ms(30), ms(10), ms(30), ms(50)])
    }))

  it.effect("fast-forward and exact stepping give the same closed loop, on 1 and 3 instances", () =>
    Effect.gen(function*() {
      const rng = new Rng(7)
      const arrivals = Array.from({ length: 300 }, (_, i) => ({ arrivalNs: i * 3_000_000, promptTokens: rng.int(1, 400), outputTokens: rng.int(1, 120) }))
      const stepNs = (b: { prefillTokens: number; numDecode: number; decodeContextSum: number }) =>
        b.prefillTokens + b.numDecode === 0 ? 0 : 5_000_000 + 2_000 * b.prefillTokens + 40_000 * b.numDecode + 3 * b.decodeContextSum
      for (const numInstances of [1, 3]) {
        for (const c of [client(16), client(16, { thinkTimeMeanNs: ms(20) })]) {
          const fast = yield* runScenario(arrivals, { client: c, numInstances, stepNs })
          const exact = yield* runScenario(arrivals, { client: c, numInstances, stepNs, exactSteps: true })
          expect(fast.store.requests.map((r) => r.row).sort()).toEqual(exact.store.requests.map((r) => r.row).sort())
          expect(fast.summary.max_concurrent_requests).toBeLessThanOrEqual(16)
          expect(fast.result.engine.instances.reduce((n, x) => n + x.fastForwardedSteps, 0)).toBeGreaterThan(0)
        }
      }
    }))

  it.effect("a limit no arrival reaches gives the open loop's results (the time-ordered engine changes nothing)", () =>
    Effect.gen(function*() {
      const rng = new Rng(3)
      let t = 0
      const arrivals = Array.from({ length: 400 }, () => {
        t += Math.round(rng.exponential(4_000_000))
        return { arrivalNs: t, promptTokens: rng.int(1, 600), outputTokens: rng.int(1, 200) }
      })
      const stepNs = (b: { prefillTokens: number; numDecode: number; decodeContextSum: number }) =>
        b.prefillTokens + b.numDecode === 0 ? 0 : 4_000_000 + 1_500 * b.prefillTokens + 30_000 * b.numDecode + 2 * b.decodeContextSum
      for (const numInstances of [1, 4]) {
        const open = yield* runScenario(arrivals, { numInstances, stepNs })
        const closed = yield* runScenario(arrivals, { numInstances, stepNs, client: client(100_000) })
        const strip = (row: string) => row.split(",").slice(0, -2).join(",") // all but client_queue_ms and reason
        // the same rows; the time-ordered engine reports finishes across instances in time order
        expect(closed.store.requests.map((r) => strip(r.row)).sort()).toEqual(open.store.requests.map((r) => strip(r.row)).sort())
        expect(closed.summary.mean_client_queue_time_ms).toBe(0)
        const { max_concurrency, ...rest } = closed.summary as unknown as Record<string, unknown>
        expect(max_concurrency).toBe(100_000)
        for (const k of Object.keys(rest).filter((k) => k.includes("client_queue"))) delete rest[k]
        expect(rest).toEqual(open.summary)
      }
    }))
})

describe("phase-locking of fixed-length closed loops", () => {
  /** How many requests share each first-token time (the end of the step that gave it). */
  const groups = (store: { requests: Array<{ request: unknown }> }) => {
    const n = new Map<number, number>()
    for (const r of byId(store)) n.set(r.firstTokenNs, (n.get(r.firstTokenNs) ?? 0) + 1)
    return [...n.values()]
  }
  const arrivals = at0(Array.from({ length: 160 }, () => 32), 200)

  it.effect("without think time every wave of N prefills lands on one step; with it first tokens spread over steps", () =>
    Effect.gen(function*() {
      const locked = yield* runScenario(arrivals, { client: client(8, { allAtOnce: true }) })
      const g0 = groups(locked.store)
      expect(g0.length).toBe(160 / 8) // 20 waves
      expect(g0.every((k) => k === 8)).toBe(true)

      const spread = yield* runScenario(arrivals, { client: { maxConcurrency: 8, thinkTimeMeanNs: ms(50), seed: 1, allAtOnce: true } })
      const g1 = groups(spread.store)
      // the first wave is sent at t=0 together; afterwards the slots drift apart
      expect(g1.length).toBeGreaterThan(100)
      const lone = g1.filter((k) => k === 1).length
      expect(lone).toBeGreaterThan(60)
      expect(Math.max(...g1.slice(1))).toBeLessThan(8)
      // still a closed loop: never more than 8 in flight
      expect(spread.summary.max_concurrent_requests).toBe(8)
      // think time is waiting at the client, not in the engine
      expect(spread.summary.mean_client_queue_time_ms!).toBeGreaterThan(locked.summary.mean_client_queue_time_ms!)
    }))

  it.effect("the think-time draws follow the seed", () =>
    Effect.gen(function*() {
      const a = yield* runScenario(arrivals, { client: { maxConcurrency: 8, thinkTimeMeanNs: ms(50), seed: 1 } })
      const b = yield* runScenario(arrivals, { client: { maxConcurrency: 8, thinkTimeMeanNs: ms(50), seed: 1 } })
      const c = yield* runScenario(arrivals, { client: { maxConcurrency: 8, thinkTimeMeanNs: ms(50), seed: 2 } })
      expect(a.store.requests.map((r) => r.row)).toEqual(b.store.requests.map((r) => r.row))
      expect(a.store.requests.map((r) => r.row)).not.toEqual(c.store.requests.map((r) => r.row))
    }))
})

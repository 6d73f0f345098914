/** Prefill/decode disaggregation: hand-computed timelines, KV transfer pricing, decode-side stalls, fast-forward exactness. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import type { ClientSpec } from "../../src/engine/ClosedLoopClient.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { type PoolRun, runPools } from "../../src/engine/simulate.js"
import type { PoolRole } from "../../src/domain/Cluster.js"
import type { Network } from "../../src/domain/Network.js"
import { MemoryService } from "../../src/memory/MemoryService.js"
import { alphaBeta, zeroNetwork } from "../../src/network/NetworkService.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { SchedulerService } from "../../src/scheduler/SchedulerService.js"
import { makeInMemoryTrace, TraceWriter } from "../../src/trace/TraceWriter.js"
import { ms, testConfig } from "../helpers.js"

interface PoolOpts {
  readonly role: PoolRole
  readonly instances?: number
  readonly numBlocks?: number
  readonly stepNs?: (b: BatchShape) => number
  readonly network?: Network
  readonly maxNumSeqs?: number
  readonly maxModelLen?: number
}

const pools = (specs: ReadonlyArray<PoolOpts>) =>
  Effect.gen(function*() {
    const out: Array<PoolRun> = []
    for (const [i, s] of specs.entries()) {
      const cfg = testConfig({
        enablePrefixCaching: false,
        ...(s.maxNumSeqs === undefined ? {} : { maxNumSeqs: s.maxNumSeqs }),
        ...(s.maxModelLen === undefined ? {} : { maxModelLen: s.maxModelLen })
      }, s.instances ?? 1)
      const memory = yield* MemoryService.pipe(Effect.provide(MemoryService.fixed(s.numBlocks ?? 100_000, cfg.engine.blockSize)))
      const policy = yield* SchedulerService.pipe(Effect.provide(SchedulerService.vllmV1With(cfg.engine)))
      out.push({
        name: `${s.role}${i}`, role: s.role, instances: s.instances ?? 1, config: cfg, memory, policy,
        perf: { name: "fn", stepTimeNs: s.stepNs ?? (() => ms(10)) },
        network: s.network ?? zeroNetwork
      })
    }
    return out
  })

const run = (arrivals: ReadonlyArray<Arrival>, specs: ReadonlyArray<PoolOpts>, o: { layerwise?: boolean; exactSteps?: boolean; crossNode?: boolean; client?: ClientSpec } = {}) =>
  Effect.gen(function*() {
    const store = makeInMemoryTrace()
    const ps = yield* pools(specs)
    const result = yield* runPools(Stream.fromIterable(arrivals), ps, {
      router: "round-robin", decodeRouter: "round-robin", kvTransfer: { crossNode: o.crossNode ?? true, layerwise: o.layerwise ?? false }
    }, { exactSteps: o.exactSteps ?? false, ...(o.client === undefined ? {} : { client: o.client }) }).pipe(Effect.provide(Layer.mergeAll(TraceWriter.inMemory(store))))
    const byId = new Map(store.requests.map((x) => [x.request.id, x.request]))
    return { store, result, byId }
  })

/** A network whose KV transfer takes a fixed time (ns), recording the bytes it was asked to move. */
const fixedKv = (ns: number, seen: Array<number> = []): Network => ({ ...zeroNetwork, kvTransferNs: (bytes) => (seen.push(bytes), ns) })

describe("prefill/decode disaggregation", () => {
  it.effect("1P1D timeline by hand: prefill step, transfer, first token on the decode instance", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const { byId, result } = yield* run([{ arrivalNs: 0, promptTokens: 100, outputTokens: 3 }], [
        { role: "prefill" },
        { role: "decode", network: fixedKv(ms(5), seen) }
      ])
      const r = byId.get(0)!
      // prefill [0, 10] ms; transfer [10, 15]; decode steps [15, 25], [25, 35], [35, 45]
      expect(r.prefillInstance).toBe(0)
      expect(r.instance).toBe(1)
      expect(r.prefillDoneNs).toBe(ms(10))
      expect(r.kvTransferStartNs).toBe(ms(10))
      expect(r.kvTransferEndNs).toBe(ms(15))
      expect(r.firstTokenNs).toBe(ms(25))
      expect(r.finishNs).toBe(ms(45))
      expect(r.numOutput).toBe(3)
      expect(result.summary.mean_ttft_ms).toBeCloseTo(25, 9)
      // the whole prompt's KV (2 x layers x kv_heads x head_dim x 2 bytes per token), one shard (TP 1)
      expect(seen).toEqual([100 * 2 * 4 * 2 * 64 * 2])
      const sum = result.summary as unknown as { instances: Array<{ role: string; completed: number; prefilled: number }> }
      expect(sum.instances.map((x) => [x.role, x.completed, x.prefilled])).toEqual([["prefill", 0, 1], ["decode", 1, 0]])
    }))

  it.effect("KV transfer time grows with the prompt and shrinks with the link's speed", () =>
    Effect.gen(function*() {
      const xfer = (prompt: number, linkGBs: number) =>
        Effect.map(run([{ arrivalNs: 0, promptTokens: prompt, outputTokens: 2 }], [{ role: "prefill" }, { role: "decode", network: alphaBeta(linkGBs) }]), ({ byId }) => {
          const r = byId.get(0)!
          return r.kvTransferEndNs - r.kvTransferStartNs
        })
      const short = yield* xfer(1_000, 100)
      const long = yield* xfer(8_000, 100)
      const fast = yield* xfer(8_000, 800)
      expect(short).toBeGreaterThan(0)
      expect(long).toBeGreaterThan(short)
      expect(fast).toBeLessThan(long)
    }))

  it.effect("a full decode instance stalls the transfer until blocks free up; the prefill side holds its blocks meanwhile", () =>
    Effect.gen(function*() {
      // decode KV: 10 blocks of 16 tokens = 160 tokens: one 100-token prompt (+ output) at a time
      const { byId } = yield* run([
        { arrivalNs: 0, promptTokens: 100, outputTokens: 4 },
        { arrivalNs: 0, promptTokens: 100, outputTokens: 4 }
      ], [{ role: "prefill" }, { role: "decode", numBlocks: 10, network: fixedKv(ms(1)) }])
      const a = byId.get(0)!
      const b = byId.get(1)!
      expect(a.kvReservedNs).toBe(a.prefillDoneNs)
      expect(b.kvReservedNs).toBeGreaterThanOrEqual(a.finishNs)
      expect(b.firstTokenNs).toBeGreaterThan(a.finishNs)
    }))

  it.effect("a prefill instance full of blocks held for hand-offs waits for the transfers instead of failing", () =>
    Effect.gen(function*() {
      // prefill KV: 20 blocks = 320 tokens (three 100-token prompts); decode runs one request at a time
      const arrivals = Array.from({ length: 6 }, () => ({ arrivalNs: 0, promptTokens: 100, outputTokens: 5 }))
      const specs: Array<PoolOpts> = [{ role: "prefill", numBlocks: 20 }, { role: "decode", maxNumSeqs: 1, network: fixedKv(ms(1)) }]
      const fast = yield* run(arrivals, specs)
      const exact = yield* run(arrivals, specs, { exactSteps: true })
      expect(fast.result.summary.completed).toBe(6)
      expect(fast.store.requests.map((x) => x.row)).toEqual(exact.store.requests.map((x) => x.row))
      // the fourth prompt is computed only after a hand-off's transfer freed prefill blocks
      const fourth = [...fast.byId.values()].map((r) => r.prefillDoneNs).sort((a, b) => a - b)[3]!
      const firstEnd = Math.min(...[...fast.byId.values()].map((r) => r.kvTransferEndNs))
      expect(fourth).toBeGreaterThan(firstEnd)
    }))

  it.effect("layer-wise: a decode cache full of reservations for prefills still running waits for them; layers never move before their prefill starts", () =>
    Effect.gen(function*() {
      // decode: 30 blocks (480 tokens) hold four 100-token prompts; the prefill computes 2 prompts a step
      const arrivals = Array.from({ length: 30 }, (_, i) => ({ arrivalNs: i * ms(1), promptTokens: 100, outputTokens: 3 + (i % 5) }))
      const specs: Array<PoolOpts> = [
        { role: "prefill", stepNs: (b) => ms(5) + b.prefillTokens * 100_000 },
        { role: "decode", numBlocks: 30, network: fixedKv(ms(4)) }
      ]
      const fast = yield* run(arrivals, specs, { layerwise: true })
      const exact = yield* run(arrivals, specs, { layerwise: true, exactSteps: true })
      expect(fast.result.summary.completed).toBe(30)
      expect(fast.store.requests.map((x) => x.row)).toEqual(exact.store.requests.map((x) => x.row))
      for (const r of fast.byId.values()) {
        expect(r.kvTransferStartNs).toBeGreaterThanOrEqual(r.firstScheduledNs)
        expect(r.kvTransferStartNs).toBeGreaterThanOrEqual(r.kvReservedNs)
        expect(r.firstTokenNs).toBeGreaterThan(r.kvTransferEndNs)
      }
    }))

  it.effect("a request no decode instance can hold is rejected on arrival, before any prefill", () =>
    Effect.gen(function*() {
      const { store, result } = yield* run([{ arrivalNs: 0, promptTokens: 900, outputTokens: 200 }, { arrivalNs: 0, promptTokens: 100, outputTokens: 2 }], [
        { role: "prefill" },
        { role: "decode", maxModelLen: 1000 }
      ])
      expect(result.summary.rejected).toBe(1)
      expect(result.summary.completed).toBe(1)
      const rejected = store.requests.find((x) => x.request.id === 0)!
      expect(rejected.reason).toContain("exceed every decode instance's max_model_len")
      expect(rejected.request.firstScheduledNs).toBe(-1)
      expect(result.engine.instances[0]!.steps).toBe(1)
    }))

  it.effect("the slower end of a transfer sets its time", () =>
    Effect.gen(function*() {
      const arrivals = [{ arrivalNs: 0, promptTokens: 100, outputTokens: 2 }]
      for (const [p, d] of [[2, 7], [7, 2]]) {
        const { byId } = yield* run(arrivals, [{ role: "prefill", network: fixedKv(ms(p!)) }, { role: "decode", network: fixedKv(ms(d!)) }])
        const r = byId.get(0)!
        expect(r.kvTransferEndNs - r.kvTransferStartNs).toBe(ms(7))
      }
    }))

  it.effect("layer-wise transfer overlaps the prefill: TTFT below the whole-KV transfer's", () =>
    Effect.gen(function*() {
      const arrivals = [{ arrivalNs: 0, promptTokens: 2000, outputTokens: 2 }]
      const specs: Array<PoolOpts> = [{ role: "prefill" }, { role: "decode", network: fixedKv(ms(8)) }]
      const whole = yield* run(arrivals, specs)
      const layer = yield* run(arrivals, specs, { layerwise: true })
      const w = whole.byId.get(0)!
      const l = layer.byId.get(0)!
      // whole: the transfer starts at the prefill's end (10 ms) and takes 8 ms
      expect(w.kvTransferEndNs).toBe(ms(18))
      // layer-wise: from the prefill's start, ending no earlier than the last layer's share (8/4 ms) after it
      expect(l.kvTransferEndNs).toBe(ms(12))
      expect(l.firstTokenNs).toBeLessThan(w.firstTokenNs)
    }))

  it.effect("fast-forward gives the same requests and steps as --exact-steps under disaggregation", () =>
    Effect.gen(function*() {
      const arrivals: Array<Arrival> = []
      let t = 0
      for (let i = 0; i < 120; i++) {
        t += ((i * 7919) % 13) * ms(3)
        arrivals.push({ arrivalNs: t, promptTokens: 50 + ((i * 31) % 400), outputTokens: 1 + ((i * 17) % 90) })
      }
      const stepNs = (b: BatchShape) => ms(2) + b.prefillTokens * 2_000 + b.numDecode * 50_000 + b.decodeContextSum * 10
      for (const [layerwise, decodeBlocks] of [[false, 200], [true, 200], [false, 45], [true, 45]] as const) {
        // 45 decode blocks: transfers stall on full decode instances and decodes get preempted
        const specs: Array<PoolOpts> = [
          { role: "prefill", instances: 2, stepNs, numBlocks: 120 },
          { role: "decode", instances: 3, numBlocks: decodeBlocks, stepNs, network: alphaBeta(50), maxNumSeqs: 16 }
        ]
        const fast = yield* run(arrivals, specs, { layerwise })
        const exact = yield* run(arrivals, specs, { layerwise, exactSteps: true })
        expect(fast.store.requests.map((x) => x.row)).toEqual(exact.store.requests.map((x) => x.row))
        expect(fast.store.steps.length).toBe(exact.store.steps.length)
        expect(JSON.stringify(fast.result.summary)).toBe(JSON.stringify(exact.result.summary))
        expect(fast.result.summary.completed).toBe(120)
        expect(fast.result.engine.instances.some((x) => x.fastForwardedSteps > 0)).toBe(true)
        if (decodeBlocks === 45) expect(fast.result.summary.num_preemptions).toBeGreaterThan(0)
      }
    }))

  it.effect("a closed-loop client (--max-concurrency 1): the next request is sent when the decode instance finishes", () =>
    Effect.gen(function*() {
      // R0: prefill [0, 10], transfer [10, 15], decode tokens at 25, 35, 45 (done). R1, due at 0, is sent
      // at 45: prefill [45, 55], transfer [55, 60], tokens at 70, 80, 90
      const { byId, result } = yield* run([
        { arrivalNs: 0, promptTokens: 100, outputTokens: 3 },
        { arrivalNs: 0, promptTokens: 100, outputTokens: 3 }
      ], [{ role: "prefill" }, { role: "decode", network: fixedKv(ms(5)) }], { client: { maxConcurrency: 1, thinkTimeMeanNs: 0, seed: 0, allAtOnce: true } })
      const [a, b] = [byId.get(0)!, byId.get(1)!]
      expect([a.arrivalNs, a.firstTokenNs, a.finishNs, a.clientQueueNs]).toEqual([0, ms(25), ms(45), 0])
      expect([b.arrivalNs, b.prefillDoneNs, b.kvTransferEndNs, b.firstTokenNs, b.finishNs, b.clientQueueNs]).toEqual([ms(45), ms(55), ms(60), ms(70), ms(90), ms(45)])
      expect(result.summary.mean_ttft_ms).toBe(25)
      expect(result.summary.mean_client_queue_time_ms).toBe(22.5)
    }))

  it.effect("closed loop on 2 prefill + 2 decode instances: fast-forward equals exact stepping, never more than N in flight", () =>
    Effect.gen(function*() {
      const arrivals = Array.from({ length: 120 }, (_, i) => ({ arrivalNs: i * ms(2), promptTokens: 50 + ((i * 37) % 300), outputTokens: 2 + ((i * 13) % 40) }))
      const specs: Array<PoolOpts> = [
        { role: "prefill", instances: 2, stepNs: (b) => ms(4) + b.prefillTokens * 20_000 },
        { role: "decode", instances: 2, network: fixedKv(ms(2)), stepNs: (b) => ms(3) + b.numDecode * 50_000 }
      ]
      const client: ClientSpec = { maxConcurrency: 6, thinkTimeMeanNs: ms(3), seed: 5 }
      const fast = yield* run(arrivals, specs, { client })
      const exact = yield* run(arrivals, specs, { client, exactSteps: true })
      expect(fast.result.summary.completed).toBe(120)
      expect(fast.result.summary.max_concurrent_requests).toBe(6)
      expect(fast.store.requests.map((x) => x.row)).toEqual(exact.store.requests.map((x) => x.row))
    }))
})

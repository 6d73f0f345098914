/**
 * The fast engine (decoders held lazily in a decode cohort, steady runs fast-forwarded) against the
 * exact-steps oracle (every step one by one, every request explicitly), byte for byte: requests.csv
 * rows, step rows and summary.json, over random workloads and engine settings chosen to reach every
 * path of the lazy scheduler: arrival rates from bursts to sparse, prompts longer than the token
 * budget (chunked prefill across steps, --long-prefill-token-threshold), prompts sharing prefixes
 * with prefix caching on and off (cached blocks evicted while a chunked prompt caches its own),
 * KV caches small enough to preempt, several instances and routers, pipeline parallelism, a front
 * end, a closed-loop client, and prefill/decode disaggregation.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer, Stream } from "effect"
import type { RouterPolicy } from "../../src/cluster/RouterSpec.js"
import type { PoolRole } from "../../src/domain/Cluster.js"
import type { Arrival } from "../../src/engine/Engine.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { type PoolRun, runPools } from "../../src/engine/simulate.js"
import { MemoryService } from "../../src/memory/MemoryService.js"
import { alphaBeta } from "../../src/network/NetworkService.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { SchedulerService } from "../../src/scheduler/SchedulerService.js"
import { stepRow } from "../../src/trace/format.js"
import { makeInMemoryTrace, TraceWriter } from "../../src/trace/TraceWriter.js"
import { runScenario, testConfig } from "../helpers.js"

const request = fc.record({
  gapUs: fc.integer({ min: 0, max: 60_000 }),
  prompt: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 1_500 })),
  output: fc.integer({ min: 1, max: 300 }),
  // > 0: the prompt follows one of 3 token sequences sharing their first 200 tokens (prefix-cache hits)
  family: fc.integer({ min: 0, max: 3 })
})
const workload = fc.record({
  requests: fc.array(request, { minLength: 1, maxLength: 60, size: "max" }),
  // scales every gap: 0 = a burst at t = 0, 1 = as drawn, 8 = sparse (instances idle in between)
  spread: fc.constantFrom(0, 0.2, 1, 1, 8)
})

const FAMILIES = [1, 2, 3].map((f) => Int32Array.from({ length: 1_500 }, (_, i) => (i < 200 ? 7 + i : f * 10_000 + i)))

const arrivalsOf = (w: typeof workload extends fc.Arbitrary<infer T> ? T : never): Array<Arrival> => {
  let t = 0
  return w.requests.map((x) => ({
    arrivalNs: (t += Math.round(x.gapUs * 1000 * w.spread)),
    promptTokens: x.prompt,
    outputTokens: x.output,
    content: x.family === 0 ? undefined : { kind: "tokens" as const, ids: FAMILIES[x.family - 1]!.subarray(0, x.prompt) }
  }))
}

const engineSettings = {
  blockSize: fc.constantFrom(1, 3, 16),
  // small caches preempt; large ones never do
  numBlocks: fc.constantFrom(12, 40, 90, 200, 600, 5_000),
  // below max-num-seqs the budget cuts decodes short
  budget: fc.constantFrom(6, 12, 32, 100, 512, 2_048),
  maxSeqs: fc.integer({ min: 1, max: 32 }),
  chunked: fc.boolean(),
  threshold: fc.constantFrom(0, 0, 0, 4, 24, 200),
  reserveFull: fc.boolean(),
  prefixCaching: fc.boolean(),
  slope: fc.integer({ min: 0, max: 50 })
}

const colocated = fc.record({
  ...engineSettings,
  instances: fc.integer({ min: 1, max: 3 }),
  router: fc.constantFrom<RouterPolicy>("round-robin", "least-loaded", "prefix-aware"),
  pp: fc.constantFrom(1, 1, 1, 2, 3),
  frontEnd: fc.boolean(),
  // a closed-loop client with this many slots (0 = open loop)
  client: fc.constantFrom(0, 0, 0, 1, 4)
})

/** Piecewise-linear in the context, like the roofline's max(compute, memory). */
const stepNs = (slope: number) => (b: BatchShape) => 500_000 + 3_000 * b.numDecode + Math.max(40 * b.prefillTokens, slope * b.decodeContextSum)

/** What a run wrote: requests.csv rows, steps.csv rows, summary.json. */
interface Written {
  readonly rows: ReadonlyArray<string>
  readonly steps: ReadonlyArray<string>
  readonly summary: string
  readonly fastForwarded: number
}

const runColocated = (arrivals: ReadonlyArray<Arrival>, s: typeof colocated extends fc.Arbitrary<infer T> ? T : never, exactSteps: boolean) =>
  Effect.gen(function*() {
    const steps: Array<string> = []
    const capacity = s.numBlocks * s.blockSize
    const { store, summary, result } = yield* runScenario(arrivals, {
      engine: {
        blockSize: s.blockSize, maxNumBatchedTokens: s.budget, maxNumSeqs: s.maxSeqs, enableChunkedPrefill: s.chunked,
        longPrefillTokenThreshold: s.threshold, schedulerReserveFullIsl: s.reserveFull, enablePrefixCaching: s.prefixCaching,
        maxModelLen: s.chunked ? capacity : Math.min(capacity, s.budget)
      },
      numBlocks: s.numBlocks,
      numInstances: s.instances,
      router: s.router,
      stepNs: stepNs(s.slope),
      ...(s.pp > 1 ? { pipeline: { stages: s.pp, sendNs: 50_000, stageNs: (b: BatchShape, st: number) => 200_000 * (st + 1) + 2_000 * b.numDecode + 20 * b.prefillTokens + s.slope * b.decodeContextSum } } : {}),
      ...(s.frontEnd ? { frontEnd: { ingressUs: 300, tokenizeUsPerToken: 2, egressUs: 150 } } : {}),
      ...(s.client > 0 ? { client: { maxConcurrency: s.client, thinkTimeMeanNs: 2_000_000, seed: 3 } } : {}),
      observer: { onStep: (i: StepInfo) => steps.push(stepRow(i)) },
      exactSteps
    })
    return {
      rows: store.requests.map((r) => r.row),
      steps,
      summary: JSON.stringify(summary),
      fastForwarded: result.engine.instances.reduce((a, i) => a + i.fastForwardedSteps, 0)
    } satisfies Written
  })

const disaggregated = fc.record({
  ...engineSettings,
  prefillInstances: fc.integer({ min: 1, max: 2 }),
  decodeInstances: fc.integer({ min: 1, max: 3 }),
  // decode pool's KV cache: small ones stall transfers and preempt
  decodeBlocks: fc.constantFrom(40, 120, 5_000),
  layerwise: fc.boolean()
})

const runDisaggregated = (arrivals: ReadonlyArray<Arrival>, s: typeof disaggregated extends fc.Arbitrary<infer T> ? T : never, exactSteps: boolean) =>
  Effect.gen(function*() {
    const store = makeInMemoryTrace()
    const capacity = Math.min(s.numBlocks, s.decodeBlocks) * s.blockSize
    const pools: Array<PoolRun> = []
    for (const [role, count, blocks] of [["prefill", s.prefillInstances, s.numBlocks], ["decode", s.decodeInstances, s.decodeBlocks]] as const) {
      const cfg = testConfig({
        blockSize: s.blockSize, maxNumBatchedTokens: s.budget, maxNumSeqs: s.maxSeqs, enableChunkedPrefill: s.chunked,
        longPrefillTokenThreshold: s.threshold, schedulerReserveFullIsl: s.reserveFull, enablePrefixCaching: s.prefixCaching,
        maxModelLen: s.chunked ? capacity : Math.min(capacity, s.budget)
      }, count)
      pools.push({
        name: role, role: role as PoolRole, instances: count, config: cfg,
        memory: yield* MemoryService.pipe(Effect.provide(MemoryService.fixed(blocks, s.blockSize, s.prefixCaching))),
        policy: yield* SchedulerService.pipe(Effect.provide(SchedulerService.vllmV1With(cfg.engine))),
        perf: { name: "fn", stepTimeNs: stepNs(s.slope) },
        network: alphaBeta(50)
      })
    }
    const steps: Array<string> = []
    const result = yield* runPools(Stream.fromIterable(arrivals), pools, {
      router: "round-robin", decodeRouter: "least-loaded", kvTransfer: { crossNode: true, layerwise: s.layerwise }
    }, { exactSteps, observer: { onStep: (i: StepInfo) => steps.push(stepRow(i)) } }).pipe(Effect.provide(Layer.mergeAll(TraceWriter.inMemory(store))))
    return {
      rows: store.requests.map((r) => r.row),
      steps,
      summary: JSON.stringify(result.summary),
      fastForwarded: result.engine.instances.reduce((a, i) => a + i.fastForwardedSteps, 0)
    } satisfies Written
  })

const same = (fast: Written, exact: Written) => {
  expect(fast.rows).toEqual(exact.rows)
  expect(fast.steps).toEqual(exact.steps)
  expect(fast.summary).toBe(exact.summary)
  expect(exact.fastForwarded).toBe(0)
}

/**
 * Prompts forming a tree of shared prefixes (families share their first 0-12 blocks of 16 tokens in
 * different combinations), chunked under a small threshold, in small caches: cached blocks are
 * evicted, missed and recomputed while chunked prompts cache theirs, so the order in which one step
 * takes its blocks matters (the cohort's blocks must be taken where its members stand).
 */
const TREE = Array.from({ length: 12 }, (_, f) =>
  Int32Array.from({ length: 600 }, (_, i) => (i < 64 * (f % 4) ? 7 + i : i < 48 * (f % 7) ? 900 + i : f * 10_000 + i)))
const treeWorkload = fc.array(
  fc.record({ gapUs: fc.integer({ min: 0, max: 8_000 }), prompt: fc.integer({ min: 20, max: 600 }), output: fc.integer({ min: 1, max: 60 }), family: fc.integer({ min: 0, max: 11 }) }),
  { minLength: 40, maxLength: 80, size: "max" }
)
const treeSettings = fc.record({
  numBlocks: fc.constantFrom(40, 60, 90),
  budget: fc.constantFrom(16, 32, 64),
  threshold: fc.constantFrom(8, 16, 32),
  blockSize: fc.constantFrom(4, 16)
})

const treeSame = (w: typeof treeWorkload extends fc.Arbitrary<infer T> ? T : never, s: typeof treeSettings extends fc.Arbitrary<infer T> ? T : never) =>
  Effect.gen(function*() {
    let t = 0
    const arrivals = w.map((x) => ({ arrivalNs: (t += x.gapUs * 1000), promptTokens: x.prompt, outputTokens: x.output, content: { kind: "tokens" as const, ids: TREE[x.family]!.subarray(0, x.prompt) } }))
    const run = (exactSteps: boolean) =>
      Effect.map(runScenario(arrivals, {
        engine: {
          blockSize: s.blockSize, maxNumBatchedTokens: s.budget, longPrefillTokenThreshold: s.threshold, maxNumSeqs: 16,
          enableChunkedPrefill: true, enablePrefixCaching: true, maxModelLen: s.numBlocks * s.blockSize
        },
        numBlocks: s.numBlocks,
        stepNs: (b) => 500_000 + 3_000 * b.numDecode + 40 * b.prefillTokens,
        exactSteps
      }), ({ store, summary }) => ({ rows: store.requests.map((r) => r.row), summary: JSON.stringify(summary) }))
    const fast = yield* run(false)
    const exact = yield* run(true)
    expect(fast.rows).toEqual(exact.rows)
    expect(fast.summary).toBe(exact.summary)
  })

describe("fast engine vs exact steps, byte for byte", () => {
  it.effect.prop("colocated: instances, routers, PP, front end, closed loop", [workload, colocated], ([w, s]) =>
    Effect.gen(function*() {
      const arrivals = arrivalsOf(w)
      same(yield* runColocated(arrivals, s, false), yield* runColocated(arrivals, s, true))
    }), { fastCheck: { numRuns: 150 } })

  it.effect.prop("prefill/decode disaggregation", [workload, disaggregated], ([w, s]) =>
    Effect.gen(function*() {
      const arrivals = arrivalsOf(w)
      // a deadlocked configuration (KV caches too small for what is in flight) must fail the same way
      const fast = yield* Effect.exit(runDisaggregated(arrivals, s, false))
      const exact = yield* Effect.exit(runDisaggregated(arrivals, s, true))
      expect(fast._tag).toBe(exact._tag)
      if (fast._tag === "Success" && exact._tag === "Success") same(fast.value, exact.value)
    }), { fastCheck: { numRuns: 80 } })

  it.effect.prop("prefix caching: a tree of shared prefixes, chunked prompts, evictions", [treeWorkload, treeSettings], ([w, s]) =>
    treeSame(w, s), { fastCheck: { numRuns: 150 } })

  it.effect("prefix caching: a step whose block order matters (found by the property above)", () => {
    // request i: [gap us, prompt, output, family]; the cohort's blocks must be taken in the running order here
    const w = [[0, 20, 1, 0], [0, 20, 1, 0], [0, 20, 1, 0], [0, 20, 1, 0], [0, 257, 29, 0], [0, 20, 1, 0], [0, 20, 1, 1], [2505, 285, 29, 1],
      [0, 20, 1, 0], [0, 20, 1, 0], [0, 359, 2, 0], [0, 181, 9, 1], [0, 20, 1, 4], [0, 220, 2, 2], [0, 304, 57, 0], [0, 92, 3, 4],
      [0, 310, 51, 0], [0, 42, 32, 1], [0, 349, 1, 0], [0, 20, 1, 0], [0, 244, 26, 5], [0, 20, 1, 0], [0, 341, 20, 0], [0, 158, 12, 2],
      [0, 20, 13, 0], [0, 201, 1, 3], [0, 75, 36, 2], [0, 305, 56, 0], [0, 140, 10, 6], [0, 301, 60, 0], [0, 297, 1, 2], [0, 20, 1, 0],
      [0, 20, 1, 0], [0, 20, 1, 0], [0, 20, 1, 0], [0, 20, 1, 0], [0, 20, 1, 0], [0, 212, 6, 10], [0, 20, 1, 0], [0, 20, 1, 0]]
    return treeSame(w.map(([gapUs, prompt, output, family]) => ({ gapUs: gapUs!, prompt: prompt!, output: output!, family: family! })), { numBlocks: 90, budget: 32, threshold: 8, blockSize: 4 })
  })
})

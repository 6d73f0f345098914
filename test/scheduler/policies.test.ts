/**
 * --scheduling-policy: one hand-computable schedule per policy (a constant 10 ms step, so every
 * time follows from the policy's rules by hand; see the comments), the fast path equal to
 * --exact-steps for every policy, the flag errors and the trace's priority field.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import { defaultEngineConfig, SCHEDULING_POLICIES, type SchedulingPolicyName } from "../../src/domain/EngineConfig.js"
import { SimRequest } from "../../src/domain/SimRequest.js"
import { CountingKvCache } from "../../src/memory/KvCache.js"
import { policyFor } from "../../src/scheduler/policies/index.js"
import { drawPriority } from "../../src/scheduler/policies/priority.js"
import { makeStepPlan } from "../../src/scheduler/StepPlan.js"
import { openTrace } from "../../src/workload/traces/TraceReader.js"
import { type BenchRun, runSettings } from "../../src/validate/bench.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { ms, runScenario } from "../helpers.js"
import { runCapture } from "../cli/capture.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

interface Row { id: number; firstScheduledNs: number; firstTokenNs: number; finishNs: number; preemptions: number }
const byId = (store: { requests: Array<{ request: { id: number } }> }): Array<Row> =>
  [...store.requests].sort((a, b) => a.request.id - b.request.id).map((r) => r.request as never as Row)
const run = (policy: SchedulingPolicyName, arrivals: ReadonlyArray<Arrival>, engine: Record<string, unknown> = {}, numBlocks?: number) =>
  runScenario(arrivals, { engine: { schedulingPolicy: policy, ...engine }, ...(numBlocks === undefined ? {} : { numBlocks }) }).pipe(Effect.map(({ store, summary }) => ({ rows: byId(store), summary, store })))
const finishes = (rows: ReadonlyArray<Row>) => rows.map((r) => r.finishNs / 1e6)

describe("scheduling policies: hand-computed schedules (10 ms per step)", () => {
  it.effect("sjf: the shorter waiting prompt is admitted first", () =>
    Effect.gen(function*() {
      // budget 90. A (50 in, 1 out) at 0: [0,10) A -> done at 10. B (80 in) and C (20 in) arrive
      // at 5 ms. sjf [10,20): C's 20, then B's first 70 -> C done at 20; [20,30): B's last 10 -> 30.
      // fcfs [10,20): B's 80, then C's first 10 -> B done at 20; [20,30): C's last 10 -> 30.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 50, outputTokens: 1 },
        { arrivalNs: ms(5), promptTokens: 80, outputTokens: 1 },
        { arrivalNs: ms(5), promptTokens: 20, outputTokens: 1 }
      ]
      const sjf = yield* run("sjf", arrivals, { maxNumBatchedTokens: 90 })
      expect(finishes(sjf.rows)).toEqual([10, 30, 20])
      expect(sjf.rows[1]!.firstScheduledNs).toBe(ms(10))
      const fcfs = yield* run("fcfs", arrivals, { maxNumBatchedTokens: 90 })
      expect(finishes(fcfs.rows)).toEqual([10, 20, 30])
    }))

  it.effect("priority: a lower value is admitted first, whatever its arrival", () =>
    Effect.gen(function*() {
      // budget 90. A (50 in, 1 out) at 0 -> done at 10. B (20 in, priority 1) at 5 ms, C (80 in,
      // priority 0) at 6 ms. [10,20): C's 80, then B's first 10 -> C done at 20; [20,30): B's last 10.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 50, outputTokens: 1 },
        { arrivalNs: ms(5), promptTokens: 20, outputTokens: 1, priority: 1 },
        { arrivalNs: ms(6), promptTokens: 80, outputTokens: 1, priority: 0 }
      ]
      expect(finishes((yield* run("priority", arrivals, { maxNumBatchedTokens: 90 })).rows)).toEqual([10, 30, 20])
      // fcfs ignores priorities: B first (done at 20), C's last 10 tokens at [20,30)
      expect(finishes((yield* run("fcfs", arrivals, { maxNumBatchedTokens: 90 })).rows)).toEqual([10, 20, 30])
    }))

  it.effect("priority: out of KV, the lowest-priority running request is preempted, not the tail", () =>
    Effect.gen(function*() {
      // block 16, 3 blocks. A (16 in, 20 out, priority 5) at 0, B (16 in, 20 out, priority 0) at 5 ms.
      // [0,10): A's prompt (1 block) -> A token 1 at 10. [10,20): A's 17th token takes a 2nd block,
      // B is admitted (1 block) -> A token 2, B token 1 at 20; no block is free.
      // [20,30): A fits its 2 blocks; B's 17th token needs a block: the victim is max(priority) = A
      // (already scheduled: its token is taken back), freeing 2 blocks; B gets one -> B token 2 at 30.
      // A (18 tokens known, 2 blocks with the whole prompt reserved) waits for B: B's 33rd token
      // takes the last block, B's tokens 3..20 come at 40..210. [210,220): A recomputes its 18
      // tokens -> token 3 at 220, tokens 4..20 at 230..390.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 16, outputTokens: 20, priority: 5 },
        { arrivalNs: ms(5), promptTokens: 16, outputTokens: 20, priority: 0 }
      ]
      const p = yield* run("priority", arrivals, { enablePrefixCaching: false }, 3)
      expect(p.rows.map((r) => r.preemptions)).toEqual([1, 0])
      expect(finishes(p.rows)).toEqual([390, 210])
      // fcfs preempts the tail (B itself) instead
      const f = yield* run("fcfs", arrivals, { enablePrefixCaching: false }, 3)
      expect(f.rows.map((r) => r.preemptions)).toEqual([0, 1])
    }))

  it.effect("orca: whole prompts, KV reserved for prompt + output at admission", () =>
    Effect.gen(function*() {
      // budget 100, block 16, 12 blocks. A (150 in, 20 out) at 0: the step's first prompt is taken
      // whole past the budget: [0,10) A's 150 -> token 1 at 10, tokens 2..20 at 20..200. A reserves
      // ceil(170/16) = 11 blocks, so B (30 in, 1 out, 2 blocks) at 0 waits although A holds at most
      // 10 in use; [200,210): B -> done at 210.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 150, outputTokens: 20 },
        { arrivalNs: 0, promptTokens: 30, outputTokens: 1 }
      ]
      const o = yield* run("orca", arrivals, { maxNumBatchedTokens: 100, enablePrefixCaching: false }, 12)
      expect(o.rows.map((r) => [r.firstScheduledNs / 1e6, r.firstTokenNs / 1e6, r.finishNs / 1e6])).toEqual([[0, 10, 200], [200, 210, 210]])
      expect(o.store.steps[0]!.shape.prefillTokens).toBe(150)
      // iteration-level: a request arriving mid-run joins at the next iteration (compare static below)
      const join = yield* run("orca", [
        { arrivalNs: 0, promptTokens: 10, outputTokens: 3 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 1 }
      ])
      expect(finishes(join.rows)).toEqual([30, 20])
    }))

  it.effect("static: a batch runs until its last request finishes before the next is admitted", () =>
    Effect.gen(function*() {
      // A (10 in, 3 out) and B (10 in, 1 out) at 0 form a batch: [0,10) both prompts -> B done at
      // 10, A token 1. C (10 in, 1 out) arrives at 5 ms and waits for the batch: A tokens 2, 3 at
      // 20, 30. [30,40): C -> done at 40. (orca would run C at [10,20).)
      const arrivals = [
        { arrivalNs: 0, promptTokens: 10, outputTokens: 3 },
        { arrivalNs: 0, promptTokens: 10, outputTokens: 1 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 1 }
      ]
      const s = yield* run("static", arrivals)
      expect(finishes(s.rows)).toEqual([30, 10, 40])
      expect(s.rows[2]!.firstScheduledNs).toBe(ms(30))
      expect(finishes((yield* run("orca", arrivals)).rows)).toEqual([30, 10, 20])
    }))

  it.effect("sarathi: prompts are always chunked to the token budget", () =>
    Effect.gen(function*() {
      // budget 100, chunked prefill off: A (150 in, 2 out) is still chunked: [0,10) 100,
      // [10,20) 50 -> token 1 at 20, token 2 at 30.
      const s = yield* run("sarathi", [{ arrivalNs: 0, promptTokens: 150, outputTokens: 2 }], { maxNumBatchedTokens: 100, enableChunkedPrefill: false })
      expect(s.rows.map((r) => [r.firstTokenNs / 1e6, r.finishNs / 1e6])).toEqual([[20, 30]])
      expect(s.store.steps.map((x) => x.shape.prefillTokens)).toEqual([100, 50, 0])
    }))

  it.effect("vllm-v0: a step that admits a prompt computes it alone; the decodes wait", () =>
    Effect.gen(function*() {
      // A (10 in, 3 out) at 0, B (10 in, 1 out) at 5 ms, chunked prefill off. [0,10) A's prompt
      // -> token 1 at 10. [10,20) B's prompt alone (V0 admits prompts first and then runs nothing
      // else) -> B done at 20. A's tokens 2, 3 at 30, 40.
      // fcfs (vLLM V1) mixes: [10,20) A's decode + B's prompt -> B done at 20, A's tokens at 20, 30.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 10, outputTokens: 3 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 1 }
      ]
      const v0 = yield* run("vllm-v0", arrivals, { enableChunkedPrefill: false })
      expect(finishes(v0.rows)).toEqual([40, 20])
      expect(v0.store.steps.map((x) => [x.shape.numPrefill, x.shape.numDecode])).toEqual([[1, 0], [1, 0], [0, 1], [0, 1]])
      expect(finishes((yield* run("fcfs", arrivals, { enableChunkedPrefill: false })).rows)).toEqual([30, 20])
      // with chunked prefill V0 runs the decodes first, then the prompt chunk, in one step
      expect(finishes((yield* run("vllm-v0", arrivals)).rows)).toEqual([30, 20])
    }))

  it.effect("vllm-v0 with multi-step: prompts single-step and alone, then an all-decode block of N passes", () =>
    Effect.gen(function*() {
      // N = 4. A (10 in, 6 out) at 0, B (10 in, 1 out) at 5 ms. [0,10) A's prompt -> token 1 at 10.
      // [10,20) B's prompt alone -> B done at 20. [20,60) a block of 4 passes: A's tokens 2..5,
      // delivered at 60. [60,70) the next block's first pass: token 6; no request generates after
      // it, so the block ends -> A done at 70.
      const arrivals = [
        { arrivalNs: 0, promptTokens: 10, outputTokens: 6 },
        { arrivalNs: ms(5), promptTokens: 10, outputTokens: 1 }
      ]
      const v0 = yield* run("vllm-v0", arrivals, { enableChunkedPrefill: false, numSchedulerSteps: 4 })
      expect(finishes(v0.rows)).toEqual([70, 20])
    }))

  it("sarathi schedules running decodes before a running prefill; vLLM V1 walks the running order", () => {
    // running order: A (prefilling, 200 of its 400 tokens left), then B (decoding). Budget 50.
    // sarathi: B's decode token, then A's 49; fcfs (vLLM V1): A's 50 and nothing left for B.
    const stepOf = (policy: SchedulingPolicyName) => {
      const e = { ...defaultEngineConfig(1 << 20, 2), maxNumBatchedTokens: 50, maxNumSeqs: 8, schedulingPolicy: policy }
      const s = policyFor(e, 0).make(new CountingKvCache(1000, 16))
      const a = new SimRequest(0, 0, 400, 5)
      const b = new SimRequest(1, 0, 10, 5)
      a.numComputed = 200
      b.numOutput = 1
      b.numComputed = 10
      s.kv.allocate(a, 200)
      s.kv.allocate(b, 10)
      s.adoptRunning(a)
      s.adoptRunning(b)
      const plan = makeStepPlan(8)
      s.schedule(0, plan)
      return Array.from({ length: plan.count }, (_, i) => [plan.reqs[i]!.id, plan.tokens[i]!])
    }
    expect(stepOf("sarathi")).toEqual([[1, 1], [0, 49]])
    expect(stepOf("fcfs")).toEqual([[0, 50]])
  })
})

describe("scheduling policies: engine paths", () => {
  const mixed: Array<Arrival> = Array.from({ length: 60 }, (_, i) => ({
    arrivalNs: ms(3 * i), promptTokens: 20 + ((i * 37) % 300), outputTokens: 1 + ((i * 13) % 40), priority: i % 3
  }))

  it.effect("the default engine path equals --exact-steps for every policy (fast-forward applies to fcfs only)", () =>
    Effect.gen(function*() {
      for (const policy of SCHEDULING_POLICIES) {
        const o = { engine: { schedulingPolicy: policy, maxNumBatchedTokens: 256, maxNumSeqs: 8 }, numBlocks: 60, stepNs: (b: { prefillTokens: number; numDecode: number }) => 1_000_000 + 10_000 * (b.prefillTokens + b.numDecode) }
        const fast = yield* runScenario(mixed, o)
        const exact = yield* runScenario(mixed, { ...o, exactSteps: true })
        const key = (s: typeof fast) => byId(s.store).map((r) => [r.firstTokenNs, r.finishNs, r.preemptions])
        expect(key(fast), policy).toEqual(key(exact))
        expect(fast.summary.completed, policy).toBe(60)
        if (policy !== "fcfs") expect(fast.result.summary.num_steps, policy).toBe(exact.result.summary.num_steps)
      }
    }))

  it("--priority-levels draws are seeded, in range and spread over the levels", () => {
    const counts = [0, 0, 0, 0]
    for (let id = 0; id < 4000; id++) {
      const p = drawPriority(7, id, 4)
      expect(p).toBe(drawPriority(7, id, 4))
      counts[p]!++
    }
    for (const c of counts) expect(c).toBeGreaterThan(850)
    expect(Array.from({ length: 50 }, (_, i) => drawPriority(1, i, 4))).not.toEqual(Array.from({ length: 50 }, (_, i) => drawPriority(2, i, 4)))
  })
})

describe("scheduling policies: flags and traces", () => {
  const bad = (f: Record<string, unknown>) => Effect.flip(resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", ...f })).pipe(Effect.map((e) => e.message))

  it.effect("flag errors name the flag", () =>
    Effect.gen(function*() {
      expect(yield* bad({ schedulingPolicy: "lifo" })).toMatch(/--scheduling-policy.*expected one of fcfs, priority, orca, static, sarathi, sjf/)
      expect(yield* bad({ priorityLevels: 4 })).toMatch(/--priority-levels.*only applies with --scheduling-policy priority/)
      expect(yield* bad({ schedulingPolicy: "priority", priorityLevels: 0 })).toMatch(/--priority-levels.*positive integer/)
      expect(yield* bad({ schedulingPolicy: "orca", numSchedulerSteps: 4, enableChunkedPrefill: false })).toMatch(/--scheduling-policy.*num-scheduler-steps/)
      const ok = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", schedulingPolicy: "priority", priorityLevels: 3 })
      expect([ok.engine.schedulingPolicy, ok.engine.priorityLevels]).toEqual(["priority", 3])
      const dflt = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", schedulingPolicy: "fcfs" })
      expect("schedulingPolicy" in dflt.engine).toBe(false)
    }))

  it.effect("a trace's priority column / field becomes the request's priority", () =>
    Effect.gen(function*() {
      const read = (f: string) => openTrace(`test/fixtures/traces/${f}`).pipe(Effect.flatMap((t) => Stream.runCollect(t.arrivals)), Effect.map(Chunk.toArray))
      expect((yield* read("azure-priority.csv")).map((a) => a.priority)).toEqual([2, undefined, -1])
      expect((yield* read("mooncake-priority.jsonl")).map((a) => a.priority)).toEqual([3, undefined])
      const e = yield* Effect.flip(read("azure-priority-bad.csv"))
      expect(e.message).toMatch(/azure-priority-bad.csv:2: field .priority.: expected an integer/)
    }))

  it.effect("under --scheduling-policy priority requests.csv ends with each request's priority", () =>
    Effect.gen(function*() {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "priority-col-"))
      const r = yield* runCapture("simulate", "--trace", "test/fixtures/traces/azure-priority.csv", "--scheduling-policy", "priority", "--output-dir", out, "--quiet")
      expect(r.code, r.stderr).toBe(0)
      const [header, ...rows] = fs.readFileSync(path.join(out, "requests.csv"), "utf8").trim().split("\n")
      expect(header!.endsWith(",reason,priority")).toBe(true)
      // the trace's priorities by request id; a missing one is 0
      expect(rows.map((x) => x.split(",")).sort((a, b) => Number(a[0]) - Number(b[0])).map((x) => x.at(-1))).toEqual(["2", "0", "-1"])
    }))
})

describe("scheduling policies: validate", () => {
  it.effect("a recorded run's scheduler_config.policy becomes --scheduling-policy", () =>
    Effect.gen(function*() {
      const settings = (policy: string) => runSettings({ metaPath: "meta.json", meta: { model: "meta-llama/Llama-3.1-8B-Instruct", resolved_config: { scheduler_config: { policy } } } } as unknown as BenchRun)
      const pri = yield* settings("priority")
      expect(pri.flags.schedulingPolicy).toBe("priority")
      expect(pri.honoured).toContain("policy=priority")
      const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "A100", ...pri.flags })
      expect(cfg.engine.schedulingPolicy).toBe("priority")
      expect((yield* settings("fcfs")).flags.schedulingPolicy).toBe("fcfs")
    }))
})

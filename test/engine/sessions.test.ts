/**
 * Multi-turn sessions (workload/sessions.ts, engine/SessionClient.ts) on hand-computable runs:
 * 10 ms steps, 16-token blocks, prefix caching on. A turn's prompt is the history (earlier prompts
 * and answers) plus a new message, sent when the previous answer is back; its KV, answer included,
 * is found in the prefix cache.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Chunk, Effect, FastCheck, Stream } from "effect"
import type { SimRequest } from "../../src/domain/SimRequest.js"
import { resolveWorkload } from "../../src/workload/Workload.js"
import { type SessionSpec, sessionStarts, sharedPrefixSpec } from "../../src/workload/sessions.js"
import { ms, runScenario } from "../helpers.js"

const base: SessionSpec = {
  numSessions: 1, sessionRate: 1, burstiness: 1, turnsMin: 3, turnsMax: 3, messageLen: 64, outputLen: 20,
  lengthDist: "fixed", rangeRatio: 0, lengthSigma: 0, systemPromptLen: 0, systemPrompts: 1, thinkTimeMeanNs: 0, seed: 1
}

const rowsOf = (store: { requests: Array<{ request: SimRequest }> }) => store.requests.map((r) => r.request).sort((a, b) => a.id - b.id)

const run = (spec: SessionSpec, o: { exactSteps?: boolean; maxModelLen?: number } = {}) =>
  runScenario([...sessionStarts(spec)], {
    sessions: spec,
    stepNs: ms(10),
    engine: { enablePrefixCaching: true, blockSize: 16, ...(o.maxModelLen === undefined ? {} : { maxModelLen: o.maxModelLen }) },
    ...(o.exactSteps === undefined ? {} : { exactSteps: o.exactSteps })
  })

describe("session workloads", () => {
  it.effect("each turn is sent when the previous answer is back, with the history as its prompt, and hits the KV of the earlier prompt and answer", () =>
    Effect.gen(function*() {
      const { store, summary } = yield* run(base)
      const rows = rowsOf(store)
      // turn 1: 64-token prompt, a prefill step (first token at 10 ms) and 19 decode steps: done at 200 ms
      // turn 2 at 200 ms: 64 + 20 + 64 = 148 tokens; turn 1 computed 64 + 19 = 83 tokens = 5 full blocks
      // (80 tokens, its first answer block included) in the cache; 68 computed, first token at 210 ms
      // turn 3 at 400 ms: 148 + 20 + 64 = 232 tokens; turn 2 computed 148 + 19 = 167 = 10 blocks (160)
      expect(rows.map((r) => r.promptTokens)).toEqual([64, 148, 232])
      expect(rows.map((r) => r.arrivalNs)).toEqual([0, ms(200), ms(400)])
      expect(rows.map((r) => r.firstTokenNs)).toEqual([ms(10), ms(210), ms(410)])
      expect(rows.map((r) => r.finishNs)).toEqual([ms(200), ms(400), ms(600)])
      expect(rows.map((r) => r.cachedPromptTokens)).toEqual([0, 80, 160])
      expect(summary.sessions).toMatchObject({ num_sessions: 1, completed: 1, truncated: 0, failed: 0, turns: 3, mean_session_duration_s: 0.6, mean_ttft_ms_by_turn: [10, 10, 10] })
      expect(summary.sessions!.follow_up_turn_share).toBeCloseTo(2 / 3, 12)
    }))

  it.effect("a session whose next turn would exceed max_model_len ends there (truncated), the think time delays every later turn", () =>
    Effect.gen(function*() {
      const { store, summary } = yield* run({ ...base, thinkTimeMeanNs: ms(50) }, { maxModelLen: 200 })
      const rows = rowsOf(store)
      expect(rows.map((r) => r.promptTokens)).toEqual([64, 148]) // turn 3 (232 + 20 tokens) does not fit 200
      expect(rows[1]!.arrivalNs).toBeGreaterThan(rows[0]!.finishNs)
      expect(summary.sessions).toMatchObject({ completed: 0, truncated: 1, turns: 2 })
      expect(summary.rejected).toBe(0)
    }))

  it.effect("the system prompt is shared across sessions", () =>
    Effect.gen(function*() {
      // two one-turn sessions a second apart (each long done before the next): the second hits the 48-token system prompt (3 blocks)
      const spec: SessionSpec = { ...base, numSessions: 2, turnsMin: 1, turnsMax: 1, systemPromptLen: 48, messageLen: 30, sessionRate: 0.001 }
      const { store } = yield* run(spec)
      expect(rowsOf(store).map((r) => [r.promptTokens, r.cachedPromptTokens])).toEqual([[78, 0], [78, 48]])
    }))

  it.effect("inference-perf shared_prefix: every group's system prompt exactly num_prompts_per_group times, later prompts of a group hit it", () =>
    Effect.gen(function*() {
      const spec = sharedPrefixSpec({ num_groups: 3, num_prompts_per_group: 4, system_prompt_len: 64, question_len: 16, output_len: 2 }, 1, 1, 7)
      const starts = [...sessionStarts(spec)]
      const groups = starts.map((a) => (a.content?.kind === "session" ? a.content.group : -1))
      expect([0, 1, 2].map((g) => groups.filter((x) => x === g).length)).toEqual([4, 4, 4])
      const { summary } = yield* run(spec)
      expect(summary.completed).toBe(12)
      // arrivals about a second apart, each done in 20 ms: the 9 non-first prompts of a group hit its 64 tokens
      expect(summary.prefix_cache_hits).toBe(9 * 64)
    }))

  it.effect.prop("fast-forwarded and exact steps give the same turns", [
    FastCheck.record({
      numSessions: FastCheck.integer({ min: 1, max: 12 }),
      turnsMax: FastCheck.integer({ min: 1, max: 5 }),
      messageLen: FastCheck.integer({ min: 1, max: 80 }),
      outputLen: FastCheck.integer({ min: 1, max: 40 }),
      systemPromptLen: FastCheck.integer({ min: 0, max: 64 }),
      rate: FastCheck.constantFrom(2, 20, Infinity),
      thinkMs: FastCheck.constantFrom(0, 5, 100),
      seed: FastCheck.integer({ min: 0, max: 1000 })
    })
  ], ([p]) =>
    Effect.gen(function*() {
      const spec: SessionSpec = {
        ...base, numSessions: p.numSessions, turnsMin: 1, turnsMax: p.turnsMax, messageLen: p.messageLen, outputLen: p.outputLen,
        lengthDist: "uniform", rangeRatio: 0.5, systemPromptLen: p.systemPromptLen, systemPrompts: 2, sessionRate: p.rate, thinkTimeMeanNs: ms(p.thinkMs), seed: p.seed
      }
      const fast = yield* run(spec)
      const exact = yield* run(spec, { exactSteps: true })
      // no turn is sent before its predecessor's answer is back (plus its think time)
      const bySession = new Map<number, Array<SimRequest>>()
      for (const { request: r } of fast.store.requests) {
        const c = r.content
        if (c?.kind !== "session") throw new Error("a turn without session content")
        bySession.set(c.session, [...(bySession.get(c.session) ?? []), r])
      }
      for (const turns of bySession.values()) {
        turns.sort((a, b) => a.arrivalNs - b.arrivalNs)
        for (let k = 1; k < turns.length; k++) {
          expect(turns[k]!.arrivalNs).toBeGreaterThanOrEqual(turns[k - 1]!.finishNs + turns[k - 1]!.egressNs)
          expect(turns[k]!.promptTokens).toBeGreaterThan(turns[k - 1]!.promptTokens + turns[k - 1]!.numOutput)
        }
      }
      expect(fast.store.requests.map((r) => r.row)).toEqual(exact.store.requests.map((r) => r.row))
      expect(fast.summary.sessions).toEqual(exact.summary.sessions)
    }), { fastCheck: { numRuns: 25 } })

  it.effect("flags: refused combinations and bad values name the flag", () =>
    Effect.gen(function*() {
      const err = (f: Parameters<typeof resolveWorkload>[0]) => resolveWorkload(f, 0).pipe(Effect.flip, Effect.map((e) => e.message))
      expect(yield* err({ numSessions: 5, trace: "x.csv" })).toMatch(/^--trace: .*session workload/)
      expect(yield* err({ numSessions: 5, numRequests: 10 })).toMatch(/^--num-requests: /)
      expect(yield* err({ numSessions: 5, maxConcurrency: 2 })).toMatch(/^--max-concurrency: /)
      expect(yield* err({ sessionTurns: "3" })).toMatch(/^--session-turns: .*--num-sessions/)
      expect(yield* err({ numSessions: 5, sessionTurns: "4-2" })).toMatch(/^--session-turns: expected N or MIN-MAX/)
      expect(yield* err({ numSessions: 0 })).toMatch(/^--num-sessions: expected a positive integer/)
      expect(yield* err({ numSessions: 5, sessionSystemPrompts: 3 })).toMatch(/^--session-system-prompts: needs --session-system-prompt-len/)
      expect(yield* err({ sharedPrefix: "num_groups=2,num_prompts_per_group=3" })).toMatch(/^--shared-prefix: missing system_prompt_len, question_len, output_len/)
      expect(yield* err({ sharedPrefix: "groups=2" })).toMatch(/^--shared-prefix: unknown key 'groups'/)
      expect(yield* err({ sharedPrefix: "num_groups=2,num_prompts_per_group=3,system_prompt_len=10,question_len=5,output_len=5", inputLen: 9 })).toMatch(/^--input-len: /)
      const ok = yield* resolveWorkload({ numSessions: 3, sessionTurns: "2-4", requestRate: "inf" }, 0)
      expect(ok.sessions).toMatchObject({ numSessions: 3, turnsMin: 2, turnsMax: 4, sessionRate: Infinity })
    }))
})

describe("agentic sessions from a trace (LLMServingSim 2.0 sub_requests)", () => {
  const fixture = "test/fixtures/traces/agentic.jsonl"
  it.effect("a sub-request is sent when the previous one finished plus its tool_duration_ns; plain lines run as they are", () =>
    Effect.gen(function*() {
      const wl = yield* resolveWorkload({ trace: fixture }, 0)
      expect(wl.sessions).toBe("trace")
      const arrivals = Chunk.toReadonlyArray(yield* Stream.runCollect(wl.arrivals))
      const { store, summary } = yield* runScenario(arrivals, { sessions: "trace", stepNs: ms(10), engine: { enablePrefixCaching: true, blockSize: 16 } })
      const rows = rowsOf(store)
      // sub-request 0: 64 + 20 tokens, done at 200 ms; 50 ms of tool time; sub-request 1 (148 tokens,
      // extending the first's prompt and answer) at 250 ms hits its 5 full blocks (80 tokens)
      expect(rows.map((r) => [r.arrivalNs, r.promptTokens, r.cachedPromptTokens, r.finishNs])).toEqual([
        [0, 64, 0, ms(200)],
        [ms(250), 148, 80, ms(450)],
        [ms(1000), 32, 0, ms(1040)]
      ].sort((a, b) => a[0]! - b[0]!))
      expect(summary.sessions).toMatchObject({ num_sessions: 1, completed: 1, turns: 2, mean_think_time_ms: 50 })
    }))

  it.effect("a bad sub-request names its line and field", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentic-"))
      const file = path.join(dir, "bad.jsonl")
      fs.writeFileSync(file, '{"input_toks": 5, "output_toks": 1, "arrival_time_ns": 0}\n{"arrival_time_ns": 1, "sub_requests": [{"input_toks": 4, "output_toks": 2}, {"input_toks": 9}]}\n')
      const wl = yield* resolveWorkload({ trace: file }, 0)
      const e = yield* Stream.runDrain(wl.arrivals).pipe(Effect.flip)
      expect(e.message).toMatch(/bad\.jsonl:2: field 'sub_requests\[1\]\.output_toks'/)
    }))
})

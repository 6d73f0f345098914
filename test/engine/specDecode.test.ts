/**
 * Speculative decoding (--speculative-config), hand-computed with a constant 10 ms step: a decoding
 * request is scheduled with 1 + d tokens (a prefill-like verify chunk at its context), gets 1 + a
 * tokens in one chunk (one ITL gap), and its computed tokens roll back past the rejected drafts.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import type { SpeculativeConfig } from "../../src/domain/SpeculativeConfig.js"
import { eagleDraftFraction, makeSpecDecodeCounters, SpecDecoder } from "../../src/engine/SpecDecoder.js"
import type { BatchShape } from "../../src/perf/BatchShape.js"
import { runCapture } from "../cli/capture.js"
import { ms, runScenario, testModel } from "../helpers.js"

const spec = (method: SpeculativeConfig["method"], rates: Array<number>): SpeculativeConfig => ({
  method, numSpeculativeTokens: rates.length, acceptanceRates: rates, acceptanceRatesSource: "given"
})
type Req = { id: number; firstTokenNs: number; finishNs: number; numOutput: number; numComputed: number }
const byId = (store: { requests: Array<{ request: { id: number } }> }) =>
  [...store.requests].sort((a, b) => a.request.id - b.request.id).map((r) => r.request as never as Req)

describe("speculative decoding (10 ms per step)", () => {
  it.effect("every draft accepted: 1 + k tokens per verify step, priced as a chunk of 1 + k at the context", () =>
    Effect.gen(function*() {
      // A (10 in, 9 out), ngram k = 3, acceptance 1. [0,10) prefill -> token 1 at 10.
      // [10,20) verify 1 + 3 at context 10 -> tokens 2..5 at 20. [20,30): 4 left, d = 3 -> 6..9 at 30.
      const { store, summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 9 }], { engine: { speculativeConfig: spec("ngram", [1, 1, 1]) } })
      const [a] = byId(store)
      expect([a!.firstTokenNs, a!.finishNs, a!.numOutput]).toEqual([ms(10), ms(30), 9])
      expect(store.steps.map((s) => [s.startNs / 1e6, Array.from(s.shape.prefillChunk), Array.from(s.shape.prefillContext), s.shape.numDecode])).toEqual([
        [0, [10], [0], 0],
        [10, [4], [10], 0],
        [20, [4], [14], 0]
      ])
      expect(summary.mean_tpot_ms).toBe(2.5) // (30 - 10) / 8
      expect(summary.mean_itl_ms).toBe(10) // one gap per step
      expect(summary.spec_decode).toMatchObject({
        method: "ngram", num_drafts: 2, num_draft_tokens: 6, num_accepted_tokens: 6, num_accepted_tokens_per_pos: [2, 2, 2],
        draft_acceptance_rate: 1, mean_acceptance_length: 4, per_position_acceptance_rate: [1, 1, 1]
      })
    }))

  it.effect("every draft rejected: one token per step, drafts shrink near the end, KV rolled back", () =>
    Effect.gen(function*() {
      // A (10 in, 9 out), acceptance 0: token 1 at 10, then one token per step: 9 at 90.
      // d = min(3, left - 1): 3 for outputs 1..5, then 2, 1, and a plain decode for the last token.
      const { store, summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 9 }], { engine: { speculativeConfig: spec("ngram", [0, 0, 0]) } })
      const [a] = byId(store)
      expect([a!.firstTokenNs, a!.finishNs, a!.numOutput]).toEqual([ms(10), ms(90), 9])
      const chunks = store.steps.slice(1).map((s) => (s.shape.numDecode === 1 ? 1 : s.shape.prefillChunk[0]))
      expect(chunks).toEqual([4, 4, 4, 4, 4, 3, 2, 1])
      // the context of each verify is prompt + outputs - 1: the rejected drafts' KV does not count
      expect(store.steps.slice(1, 8).map((s) => s.shape.prefillContext[0])).toEqual([10, 11, 12, 13, 14, 15, 16])
      expect(summary.spec_decode).toMatchObject({ num_drafts: 7, num_draft_tokens: 18, num_accepted_tokens: 0, mean_acceptance_length: 1 })
      expect(summary.mean_tpot_ms).toBe(10)
    }))

  it.effect("eagle: k draft passes, each the batch's decode step scaled by one layer + LM head over the model", () =>
    Effect.gen(function*() {
      // verify/prefill steps 10 ms; a decode-only shape (what the draft pass is priced from) 2 ms
      const stepNs = (b: BatchShape) => (b.numPrefill > 0 ? ms(10) : b.numDecode > 0 ? ms(2) : 0)
      const f = eagleDraftFraction(testModel)
      const draft = 2 * Math.round(f * ms(2))
      const { store } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 5 }], { engine: { speculativeConfig: spec("eagle", [1, 1]) }, stepNs })
      // [0,10) prefill; verify 1 + 2 -> tokens 2..4; then 1 left: a plain decode (2 ms, no drafter)
      const [a] = byId(store)
      expect(store.steps.map((s) => s.durationNs)).toEqual([ms(10), ms(10) + draft, ms(2)])
      expect(a!.finishNs).toBe(ms(22) + draft)
      expect(f).toBeGreaterThan(0)
      expect(f).toBeLessThan(1)
    }))

  it.effect("the default path is untouched: without a speculative config every decode is one token", () =>
    Effect.gen(function*() {
      const { summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 10, outputTokens: 9 }])
      expect(summary.spec_decode).toBeUndefined()
      expect(summary.mean_tpot_ms).toBe(10)
    }))

  it.effect.prop("every request gets exactly its output tokens; accepted <= drafted", [
    fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
    fc.array(fc.record({ at: fc.integer({ min: 0, max: 50 }), p: fc.integer({ min: 1, max: 40 }), o: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 8 })
  ], ([raw, reqs]) =>
    Effect.gen(function*() {
      const rates = [...raw].sort((x, y) => y - x)
      const arrivals = [...reqs].sort((x, y) => x.at - y.at).map((r) => ({ arrivalNs: ms(r.at), promptTokens: r.p, outputTokens: r.o }))
      const { store, summary } = yield* runScenario(arrivals, { engine: { speculativeConfig: spec("ngram", rates) }, numBlocks: 12 })
      expect(store.requests.length).toBe(arrivals.length)
      for (const r of byId(store)) {
        const a = arrivals[r.id]!
        expect(r.numOutput).toBe(a.outputTokens)
      }
      const sd = summary.spec_decode!
      expect(sd.num_accepted_tokens).toBeLessThanOrEqual(sd.num_draft_tokens)
      expect(summary.total_output_tokens).toBe(arrivals.reduce((s, a) => s + a.outputTokens, 0))
    }), { fastCheck: { numRuns: 40 } })
})

describe("acceptance draws", () => {
  it("per-position acceptance converges to the given rates; accepted positions are a prefix", () => {
    const rates = [0.8, 0.5, 0.45, 0.1]
    const n = makeSpecDecodeCounters(4)
    const dec = new SpecDecoder(spec("eagle3", rates), 0, n, 42)
    const draws = 200_000
    const hist = [0, 0, 0, 0, 0]
    for (let i = 0; i < draws; i++) hist[dec.verify(4)]!++
    expect(n.numDrafts).toBe(draws)
    expect(n.numDraftTokens).toBe(4 * draws)
    for (let i = 0; i < 4; i++) {
      // 4 standard errors of a proportion
      expect(Math.abs(n.numAcceptedTokensPerPos[i]! / draws - rates[i]!)).toBeLessThan(4 * Math.sqrt(rates[i]! * (1 - rates[i]!) / draws))
    }
    // P(a = j) = p_{j-1} - p_j
    expect(hist[0]! / draws).toBeCloseTo(0.2, 2)
    expect(hist[4]! / draws).toBeCloseTo(0.1, 2)
    expect(n.numAcceptedTokens).toBe(hist.reduce((s, c, a) => s + c * a, 0))
  })

  it("d < k: only the first d positions can be accepted", () => {
    const n = makeSpecDecodeCounters(3)
    const dec = new SpecDecoder(spec("ngram", [1, 1, 1]), 0, n, 1)
    expect(dec.verify(2)).toBe(2)
    expect(Array.from(n.numAcceptedTokensPerPos)).toEqual([1, 1, 0])
  })

  it("the same seed gives the same draws", () => {
    const a = new SpecDecoder(spec("ngram", [0.7, 0.4]), 0, makeSpecDecodeCounters(2), 7)
    const b = new SpecDecoder(spec("ngram", [0.7, 0.4]), 0, makeSpecDecodeCounters(2), 7)
    const xs = Array.from({ length: 50 }, () => a.verify(2))
    expect(Array.from({ length: 50 }, () => b.verify(2))).toEqual(xs)
  })
})

describe("--speculative-config", () => {
  const base = { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }
  it.effect("eagle3 defaults to the published Llama-3.1-8B acceptance; given rates are kept", () =>
    Effect.gen(function*() {
      const c = yield* resolveConfig({ ...base, speculativeConfig: `{"method": "eagle3", "num_speculative_tokens": 3}` })
      expect(c.engine.speculativeConfig?.acceptanceRates).toEqual([0.74, 0.54, 0.41])
      expect(c.engine.speculativeConfig?.acceptanceRatesSource).toContain("26191")
      const g = yield* resolveConfig({ ...base, speculativeConfig: `{"method": "ngram", "num_speculative_tokens": 2, "acceptance_rates": [0.5, 0.2]}` })
      expect(g.engine.speculativeConfig).toMatchObject({ method: "ngram", numSpeculativeTokens: 2, acceptanceRates: [0.5, 0.2] })
      const none = yield* resolveConfig(base)
      expect("speculativeConfig" in none.engine).toBe(false)
    }))

  it.effect("bad values: an error naming --speculative-config and the key", () =>
    Effect.gen(function*() {
      const cases: Array<[string, string]> = [
        ["not json", "not valid JSON"],
        ["[1]", "expected a JSON object"],
        [`{"method": "ngram", "num_speculative_tokens": 2, "acceptance_rates": [0.5, 0.2], "prompt_lookup_max": 4}`, `unknown key "prompt_lookup_max"`],
        [`{"num_speculative_tokens": 2}`, `key "method"`],
        [`{"method": "medusa", "num_speculative_tokens": 2}`, `key "method"`],
        [`{"method": "draft_model", "num_speculative_tokens": 2, "model": "x"}`, `"draft_model" is not simulated`],
        [`{"method": "eagle3", "num_speculative_tokens": 0}`, `key "num_speculative_tokens"`],
        [`{"method": "eagle3", "num_speculative_tokens": 1.5}`, `key "num_speculative_tokens"`],
        [`{"method": "ngram", "num_speculative_tokens": 2}`, `key "acceptance_rates" is required for method "ngram"`],
        [`{"method": "eagle", "num_speculative_tokens": 2}`, `key "acceptance_rates" is required for method "eagle"`],
        [`{"method": "eagle3", "num_speculative_tokens": 8}`, `key "acceptance_rates" is required`],
        [`{"method": "ngram", "num_speculative_tokens": 2, "acceptance_rates": [0.5]}`, `key "acceptance_rates": expected an array of num_speculative_tokens (2)`],
        [`{"method": "ngram", "num_speculative_tokens": 2, "acceptance_rates": [0.5, 1.2]}`, `entry 1 must be a number in [0, 1]`],
        [`{"method": "ngram", "num_speculative_tokens": 2, "acceptance_rates": [0.2, 0.5]}`, "must be non-increasing"],
        [`{"method": "eagle3", "num_speculative_tokens": 2, "model": 3}`, `key "model"`]
      ]
      for (const [json, message] of cases) {
        const e = yield* Effect.flip(resolveConfig({ ...base, speculativeConfig: json }))
        expect(e._tag, json).toBe("InvalidOption")
        expect(e.message, json).toContain("--speculative-config")
        expect(e.message, json).toContain(message)
      }
      const pp = yield* Effect.flip(resolveConfig({ ...base, pipelineParallelSize: 2, speculativeConfig: `{"method": "eagle3", "num_speculative_tokens": 2}` }))
      expect(pp.message).toContain("--pipeline-parallel-size")
    }))
})

describe("--speculative-config on the command line", () => {
  it.effect("a bad value: one error line naming the flag and key, exit 1, no stack trace", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--num-requests", "5", "--speculative-config", `{"method": "ngram", "num_speculative_tokens": 2}`, "-q")
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`--speculative-config: key "acceptance_rates" is required`)
      expect(r.stderr.trim().split("\n").length).toBe(1)
      expect(r.stderr).not.toContain("    at ")
    }))

  it.effect("a good one: summary.json's spec_decode with the default eagle3 rates", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--num-requests", "20", "--speculative-config", `{"method": "eagle3", "num_speculative_tokens": 2}`, "--json")
      expect(r.code).toBe(0)
      const s = JSON.parse(r.stdout) as { spec_decode: { acceptance_rates: Array<number>; num_drafts: number } }
      expect(s.spec_decode.acceptance_rates).toEqual([0.74, 0.54])
      expect(s.spec_decode.num_drafts).toBeGreaterThan(0)
    }))
})

/**
 * --goodput (metrics/goodput.ts) on a hand-computed run: one request at a time (max_num_seqs 1),
 * 10 ms steps, 10-token prompts and 2 output tokens, three requests at t = 0. A: TTFT 10, E2E 20;
 * B: TTFT 30, E2E 40; C: TTFT 50, E2E 60 (ms); every TPOT 10 ms. The run lasts 60 ms.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { normalizeGoodputFlag, parseGoodput } from "../../src/metrics/goodput.js"
import { ms, runScenario } from "../helpers.js"

const arrivals = [0, 1, 2].map(() => ({ arrivalNs: 0, promptTokens: 10, outputTokens: 2 }))
const run = (slo: Parameters<typeof parseGoodput>[0]) =>
  Effect.gen(function*() {
    const goodput = yield* parseGoodput(slo)
    return (yield* runScenario(arrivals, { stepNs: ms(10), engine: { maxNumSeqs: 1 }, goodput })).summary
  })

describe("goodput", () => {
  it.effect("a request is good when it meets every given objective; request_goodput = good / duration", () =>
    Effect.gen(function*() {
      const s = yield* run("ttft:30")
      expect(s.goodput).toEqual({ slo_ms: { ttft: 30 }, good_requests: 2, attainment: { ttft: 2 / 3, all: 2 / 3 } })
      expect(s.request_goodput).toBeCloseTo(2 / 0.06, 9)
      const both = yield* run("ttft:50,e2el:39.9")
      expect(both.goodput).toEqual({ slo_ms: { ttft: 50, e2el: 39.9 }, good_requests: 1, attainment: { ttft: 1, e2el: 1 / 3, all: 1 / 3 } })
      expect((yield* run("tpot:9.99")).goodput!.good_requests).toBe(0)
      expect((yield* run("tpot:10")).goodput!.good_requests).toBe(3)
      const plain = (yield* runScenario(arrivals, { stepNs: ms(10), engine: { maxNumSeqs: 1 } })).summary
      expect(plain.request_goodput).toBeUndefined()
    }))

  it.effect("vLLM's spelling and bad objectives", () =>
    Effect.gen(function*() {
      expect(normalizeGoodputFlag(["simulate", "--goodput", "ttft:300", "tpot:50", "--quiet"])).toEqual(["simulate", "--goodput", "ttft:300,tpot:50", "--quiet"])
      expect(normalizeGoodputFlag(["simulate", "--goodput", "ttft:300", "-q", "--goodput", "tpot:50"])).toEqual(["simulate", "--goodput", "ttft:300,tpot:50", "-q"])
      const err = (t: string) => parseGoodput(t).pipe(Effect.flip, Effect.map((e) => e.message))
      expect(yield* err("ttfx:3")).toMatch(/^--goodput: invalid metric name 'ttfx'/)
      expect(yield* err("ttft:-3")).toMatch(/^--goodput: invalid value '-3' for ttft/)
      expect(yield* err("ttft:3 ttft:4")).toMatch(/ttft is given twice/)
      expect(yield* err("300")).toMatch(/expected KEY:MS/)
    }))
})

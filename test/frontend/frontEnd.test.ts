/**
 * The API-server front end: ingress delays a request's arrival at the engine core, egress delays
 * what the client sees of every token; TTFT splits exactly into front end, queue and prefill.
 * A constant 10 ms step keeps every time hand-computable.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { requestRow } from "../../src/trace/format.js"
import { runCapture } from "../cli/capture.js"
import { ms, runScenario } from "../helpers.js"

const us = (x: number) => x * 1000

describe("front end", () => {
  it.effect("one request: TTFT and E2E grow by ingress + egress, TPOT does not", () =>
    Effect.gen(function*() {
      // ingress 1000 us + 2 us x 100 tokens = 1.2 ms: queued at 1.2 ms, prefill step [1.2, 11.2) ms,
      // tokens at 11.2, 21.2, 31.2 ms; the client sees each 0.5 ms later.
      const { store, summary } = yield* runScenario([{ arrivalNs: 0, promptTokens: 100, outputTokens: 3 }], {
        frontEnd: { ingressUs: 1000, tokenizeUsPerToken: 2, egressUs: 500 }
      })
      const r = store.requests[0]!.request
      expect(r.queuedNs).toBe(us(1200))
      expect(r.firstScheduledNs).toBe(us(1200))
      expect(r.firstTokenNs).toBe(us(11_200))
      expect(summary.mean_ttft_ms).toBeCloseTo(11.7, 9)
      expect(summary.mean_e2el_ms).toBeCloseTo(31.7, 9)
      expect(summary.mean_tpot_ms).toBeCloseTo(10, 9)
      const cols = requestRow(r).trim().split(",")
      // ttft_ms, frontend_ms, queue_ms, prefill_ms
      expect([cols[11], cols[14], cols[15], cols[16]]).toEqual(["11.700000", "1.700000", "0.000000", "10.000000"])
      const base = yield* runScenario([{ arrivalNs: 0, promptTokens: 100, outputTokens: 3 }])
      expect(summary.mean_ttft_ms - base.summary.mean_ttft_ms).toBeCloseTo(1.7, 9)
    }))

  it.effect("a short prompt sent later can reach the engine first; each is queued at its own time", () =>
    Effect.gen(function*() {
      // A: 5000 tokens at 0 -> engine core at 0.1 + 5.0 = 5.1 ms. B: 10 tokens at 1 ms -> 1.11 ms.
      // B is scheduled alone [1.11, 11.11); A waits for that step and runs from 11.11 ms.
      const { store } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 5000, outputTokens: 2 },
        { arrivalNs: ms(1), promptTokens: 10, outputTokens: 2 }
      ], { frontEnd: { ingressUs: 100, tokenizeUsPerToken: 1, egressUs: 0 }, engine: { maxNumBatchedTokens: 8192 } })
      const [a, b] = [...store.requests].sort((x, y) => x.request.id - y.request.id).map((x) => x.request)
      expect(a!.queuedNs).toBe(us(5100))
      expect(b!.queuedNs).toBe(us(1110))
      expect(b!.firstScheduledNs).toBe(us(1110))
      expect(a!.firstScheduledNs).toBe(us(11_110))
    }))

  it.effect("under a closed loop a slot frees when the response reaches the client (egress), and the next request reaches the engine after its ingress", () =>
    Effect.gen(function*() {
      // N=1, rate inf, ingress 1 ms, egress 0.5 ms, 10 ms steps, 2 output tokens each.
      // R0: sent 0, engine core at 1, prefill [1,11) -> token 1 at 11, token 2 at 21; client sees the end at 21.5.
      // R1: sent 21.5 (client queue 21.5), engine core at 22.5, tokens at 32.5 and 42.5; the client sees 43.
      const { store, summary } = yield* runScenario([
        { arrivalNs: 0, promptTokens: 10, outputTokens: 2 },
        { arrivalNs: 0, promptTokens: 10, outputTokens: 2 }
      ], {
        frontEnd: { ingressUs: 1000, tokenizeUsPerToken: 0, egressUs: 500 },
        client: { maxConcurrency: 1, thinkTimeMeanNs: 0, seed: 0, allAtOnce: true }
      })
      const [r0, r1] = [...store.requests].sort((x, y) => x.request.id - y.request.id).map((x) => x.request)
      expect([r0!.arrivalNs, r0!.queuedNs, r0!.firstTokenNs, r0!.finishNs]).toEqual([0, us(1000), us(11_000), us(21_000)])
      expect([r1!.arrivalNs, r1!.queuedNs, r1!.firstTokenNs, r1!.finishNs]).toEqual([us(21_500), us(22_500), us(32_500), us(42_500)])
      expect(r1!.clientQueueNs).toBe(us(21_500))
      expect(summary.mean_ttft_ms).toBeCloseTo(11.5, 9)
      expect(summary.mean_e2el_ms).toBeCloseTo(21.5, 9)
      expect(summary.duration).toBeCloseTo(0.043, 12)
    }))

  it.effect("TTFT = frontend_ms + queue_ms + prefill_ms in every row of a loaded CLI run; defaults in summary.config", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-fe-"))
      const r = yield* runCapture("simulate", "--num-requests", "200", "--request-rate", "40", "--length-dist", "lognormal", "--output-dir", dir, "--quiet", "--frontend-egress-us", "250")
      expect(r.code).toBe(0)
      const [header, ...rows] = fs.readFileSync(path.join(dir, "requests.csv"), "utf8").trim().split("\n")
      const h = header!.split(",")
      const col = (row: Array<string>, name: string) => Number(row[h.indexOf(name)])
      let queued = 0
      for (const line of rows) {
        const row = line.split(",")
        const sum = col(row, "frontend_ms") + col(row, "queue_ms") + col(row, "prefill_ms")
        expect(Math.abs(sum - col(row, "ttft_ms"))).toBeLessThan(2e-6)
        expect(col(row, "queued_ms")).toBeGreaterThan(col(row, "arrival_ms"))
        if (col(row, "queue_ms") > 0) queued++
      }
      expect(queued).toBeGreaterThan(0) // the load makes some wait in the engine's queue
      const s = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      expect(s.config.front_end).toEqual({ ingressUs: 100, tokenizeUsPerToken: 1, egressUs: 250 })
    }))

  it.effect("bad values name their flag; serve refuses the modelled front end", () =>
    Effect.gen(function*() {
      const bad = yield* runCapture("simulate", "--frontend-ingress-us", "-5", "--num-requests", "3")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("--frontend-ingress-us")
      const serve = yield* runCapture("serve", "--frontend-egress-us", "5", "--port", "0")
      expect(serve.code).toBe(1)
      expect(serve.stderr).toContain("--frontend-egress-us")
      expect(serve.stderr).toContain("simulate and sweep")
    }))
})

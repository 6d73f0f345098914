/** The test-api load client against the simulated server: counts, summary keys, failures. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadSummary, promptIds, runLoad } from "../../src/client/LoadClient.js"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const arrivals = [0, 1, 2, 3, 4].map((i) => ({ arrivalNs: i * 5_000_000, promptTokens: 10 + i, outputTokens: 3 + i }))

describe("test-api load client", () => {
  for (const endpoint of ["completions", "chat"] as const) {
    it.live(`${endpoint}: every request streamed, exact token counts, vLLM bench keys`, () =>
      Effect.gen(function*() {
        const cfg = serverConfig()
        const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1, timingFields: true }), 10_000_000)
        const r = yield* Effect.promise(() => runLoad({ baseUrl: base, model: MODEL, endpoint, maxConcurrency: 2, timeScale: 1 }, arrivals))
        const s = loadSummary(r, {})
        expect(s["completed"]).toBe(5)
        expect(s["failed"]).toBe(0)
        expect(s["total_output_tokens"]).toBe(3 + 4 + 5 + 6 + 7)
        if (endpoint === "completions") expect(s["total_input_tokens"]).toBe(10 + 11 + 12 + 13 + 14)
        expect(r.maxConcurrency).toBeLessThanOrEqual(2)
        for (const k of ["mean_ttft_ms", "p99_tpot_ms", "median_itl_ms", "p90_e2el_ms", "request_throughput", "output_throughput"]) expect(typeof s[k]).toBe("number")
        // 10 ms steps in real time: TPOT is about one step
        expect(s["median_tpot_ms"] as number).toBeGreaterThan(5)
        expect(s["median_tpot_ms"] as number).toBeLessThan(40)
        expect(r.chunkLagMs.length).toBe(25)
        // a limit: vLLM bench's client-side queueing, send - due (5 ms apart into 2 slots of 30+ ms)
        expect(s["max_concurrency"]).toBe(2)
        expect(s["mean_client_queue_time_ms"] as number).toBeGreaterThan(0)
        expect(s["mean_e2el_including_client_queue_ms"] as number).toBeCloseTo((s["mean_e2el_ms"] as number) + (s["mean_client_queue_time_ms"] as number), 6)
      }).pipe(Effect.scoped))
  }

  it.live("failures: unknown model is counted as failed with the server's message", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100 }), 10_000_000)
      const r = yield* Effect.promise(() => runLoad({ baseUrl: base, model: "nope", endpoint: "completions", maxConcurrency: Infinity, timeScale: 100 }, arrivals.slice(0, 2)))
      const s = loadSummary(r, {})
      expect(s["failed"]).toBe(2)
      expect(Object.keys(s).filter((k) => k.includes("client_queue"))).toEqual([]) // no limit, no client queue
      expect((s["errors"] as Array<string>)[0]).toContain("HTTP 404")
    }).pipe(Effect.scoped))
})

describe("load client prompts", () => {
  it("send ids derived from a trace's token ids, equal ids for equal Mooncake blocks, and otherwise a different prompt per request", () => {
    const ids = Int32Array.from({ length: 20 }, (_, i) => 120_000 + (i % 10))
    const t = promptIds({ arrivalNs: 0, promptTokens: 20, outputTokens: 1, content: { kind: "tokens", ids } }, 0)
    expect(t.slice(0, 10)).toEqual(t.slice(10)) // equal trace ids, equal ids sent
    expect(new Set(t.slice(0, 10)).size).toBe(10)
    expect(t.every((x) => x >= 100 && x < 900)).toBe(true)
    const a = promptIds({ arrivalNs: 0, promptTokens: 600, outputTokens: 1, content: { kind: "hash-blocks", ids: Float64Array.of(7, 8), blockTokens: 512 } }, 0)
    const b = promptIds({ arrivalNs: 0, promptTokens: 600, outputTokens: 1, content: { kind: "hash-blocks", ids: Float64Array.of(7, 9), blockTokens: 512 } }, 1)
    expect(a.slice(0, 512)).toEqual(b.slice(0, 512))
    expect(a.slice(512)).not.toEqual(b.slice(512))
    const u0 = promptIds({ arrivalNs: 0, promptTokens: 64, outputTokens: 1 }, 0)
    const u1 = promptIds({ arrivalNs: 0, promptTokens: 64, outputTokens: 1 }, 1)
    expect(u0.slice(0, 16)).not.toEqual(u1.slice(0, 16))
    expect(u0.every((x) => x >= 100 && x < 900)).toBe(true)
  })
})

/**
 * Exact SSE chunk times under TestClock: constant 10 ms steps, time scale 1, two overlapping
 * requests. A (3 tokens) arrives at 0, B (2 tokens) at 15 ms:
 *   step 0-10: A prefill -> A token 1 at 10;  step 10-20: A decode -> A token 2 at 20 (B queued at 15);
 *   step 20-30: A decode + B prefill -> A token 3 (last) and B token 1 at 30;  step 30-40: B token 2 at 40.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer, Stream, TestClock } from "effect"
import { httpLayer } from "../../src/server/Http.js"
import { engineServices, MODEL, serveOptions, serverConfig } from "./serverHelpers.js"

/** Let real socket I/O settle (a real timer, not the TestClock). */
const settle = Effect.promise(() => new Promise<void>((r) => setTimeout(r, 15)))

/** Advance the TestClock 1 ms at a time to `ms`, letting I/O settle after each tick. */
const advanceTo = (ms: number) =>
  Effect.gen(function*() {
    while ((yield* Clock.currentTimeMillis) < ms) {
      yield* TestClock.adjust("1 millis")
      yield* settle
    }
  })

/**
 * Wait (real time, at most 5 s) until the server holds `n` requests (running + waiting on
 * /metrics), so the TestClock is not advanced before a request has arrived: on a busy machine the
 * fixed settle above was not always enough, and the request then arrived 1 ms late.
 */
const awaitRequests = (n: number) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const until = Date.now() + 5_000
    while (Date.now() < until) {
      const text = yield* client.execute(HttpClientRequest.get("/metrics")).pipe(Effect.flatMap((r) => r.text), Effect.scoped)
      const sum = ["vllm:num_requests_running", "vllm:num_requests_waiting"].reduce((a, name) => {
        const line = text.split("\n").find((l) => l.startsWith(name))
        return a + (line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1)))
      }, 0)
      if (sum >= n) return
      yield* settle
    }
  })

interface Received {
  readonly t: number
  readonly data: string
}

const streamRequest = (body: Record<string, unknown>) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const res = yield* client.execute(HttpClientRequest.post("/v1/chat/completions").pipe(HttpClientRequest.bodyUnsafeJson(body)))
    const out: Array<Received> = []
    yield* res.stream.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((l) => l.startsWith("data: ")),
      Stream.runForEach((l) => Effect.map(Clock.currentTimeMillis, (t) => void out.push({ t, data: l.slice(6) })))
    )
    return out
  }).pipe(Effect.scoped)

const kindOf = (data: string): string => {
  if (data === "[DONE]") return "done"
  const c = JSON.parse(data)
  if (c.choices.length === 0) return "usage"
  const d = c.choices[0].delta
  if (d.role !== undefined) return "role"
  return c.choices[0].finish_reason === null ? `tok:${d.content}` : `last:${d.content}`
}

describe("live engine chunk timing (TestClock)", () => {
  it.effect("two overlapping requests: every SSE chunk at its exact simulated time", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const options = yield* serveOptions(cfg)
      const layer = httpLayer(cfg, options, engineServices(cfg, 10_000_000)).pipe(Layer.provideMerge(NodeHttpServer.layerTest))
      yield* Effect.gen(function*() {
        const msgs = [{ role: "user", content: "Hello" }]
        const a = yield* Effect.fork(streamRequest({ model: MODEL, messages: msgs, max_tokens: 3, stream: true, stream_options: { include_usage: true } }))
        yield* awaitRequests(1)
        yield* advanceTo(15)
        const b = yield* Effect.fork(streamRequest({ model: MODEL, messages: msgs, max_tokens: 2, stream: true }))
        yield* awaitRequests(2)
        yield* advanceTo(45)
        const ra = yield* Fiber.join(a)
        const rb = yield* Fiber.join(b)
        expect(ra.map((r) => [r.t, kindOf(r.data)])).toEqual([
          [10, "role"], [10, "tok: The"], [20, "tok: simulated"], [30, "last: server"], [30, "usage"], [30, "done"]
        ])
        expect(rb.map((r) => [r.t, kindOf(r.data)])).toEqual([
          [30, "role"], [30, "tok: The"], [40, "last: simulated"], [40, "done"]
        ])
      }).pipe(Effect.provide(layer))
    }), 30_000)
})

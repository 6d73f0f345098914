/** serve's periodic stats line (server/statsLog.ts), vLLM's format, on a TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Console, Effect, Fiber, TestClock } from "effect"
import type { EngineLoad } from "../../src/server/Metrics.js"
import { logStatsEvery, statsLine } from "../../src/server/statsLog.js"

const idle: EngineLoad = { waiting: 0, running: 0, kvUsed: 0, kvTotal: 1000, prefixQueries: 0, prefixHits: 0 }

describe("serve stats log", () => {
  it("formats as vLLM's LoggingStatLogger", () => {
    expect(statsLine({ prompt: 0, generation: 0 }, { prompt: 5120, generation: 963 }, { waiting: 2, running: 4, kvUsed: 31, kvTotal: 1000, prefixQueries: 100, prefixHits: 42 }, 10)).toBe(
      "Engine 000: Avg prompt throughput: 512.0 tokens/s, Avg generation throughput: 96.3 tokens/s, Running: 4 reqs, Waiting: 2 reqs, GPU KV cache usage: 3.1%, Prefix cache hit rate: 42.0%"
    )
  })

  it.effect("one line per interval while busy, none while idle", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const base = yield* Effect.console
      const console = { ...base, log: (...xs: ReadonlyArray<unknown>) => Effect.sync(() => { lines.push(xs.join(" ")) }) } as Console.Console
      const totals = { prompt: 0, generation: 0 }
      let load = idle
      const f = yield* Effect.fork(logStatsEvery(10, () => ({ ...totals }), () => load).pipe(Effect.withConsole(console)))
      yield* TestClock.adjust("10 seconds")
      expect(lines).toEqual([]) // idle: quiet
      totals.prompt = 1000
      totals.generation = 200
      load = { ...idle, running: 3, kvUsed: 100 }
      yield* TestClock.adjust("10 seconds")
      expect(lines).toEqual(["Engine 000: Avg prompt throughput: 100.0 tokens/s, Avg generation throughput: 20.0 tokens/s, Running: 3 reqs, Waiting: 0 reqs, GPU KV cache usage: 10.0%, Prefix cache hit rate: 0.0%"])
      load = idle
      yield* TestClock.adjust("10 seconds")
      expect(lines.length).toBe(1)
      yield* Fiber.interrupt(f)
    }))
})

/**
 * Done-when 4 of issue 13: under overload (the engine's steps take longer in wall time than they
 * simulate) new arrivals are stamped with the wall clock mapped to simulated time, and no request
 * gets a token before it arrived (scheduled TTFT >= 0).
 *
 * The lag: the engine runs on a Clock that reads the TestClock plus a skew. Before each new arrival
 * the skew jumps 60 ms while the engine fiber is asleep: wall time passed that the engine did not
 * get to run (as when the event loop is busy writing responses), so the busy instance's clock
 * trails the wall clock when the request arrives, and the engine has to catch up.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, TestClock } from "effect"
import { makeLiveEngine, type LiveEvent } from "../../src/server/LiveEngine.js"
import { engineServices, serverConfig } from "./serverHelpers.js"

describe("live engine under lag (TestClock)", () => {
  it.effect("arrivals at a lagging engine: stamped at the wall clock, scheduled TTFT >= 0", () =>
    Effect.gen(function*() {
      const base = yield* TestClock.testClock()
      let skewNs = 0
      const skewed = Object.create(base, {
        unsafeCurrentTimeNanos: { value: () => base.unsafeCurrentTimeNanos() + BigInt(skewNs) },
        unsafeCurrentTimeMillis: { value: () => base.unsafeCurrentTimeMillis() + Math.floor(skewNs / 1e6) },
        currentTimeNanos: { get: () => Effect.sync(() => base.unsafeCurrentTimeNanos() + BigInt(skewNs)) },
        currentTimeMillis: { get: () => Effect.sync(() => base.unsafeCurrentTimeMillis() + Math.floor(skewNs / 1e6)) }
      }) as Clock.Clock
      const cfg = serverConfig()
      const wall = () => Number(skewed.unsafeCurrentTimeNanos())
      yield* Effect.gen(function*() {
        const engine = yield* makeLiveEngine({ timeScale: 1 })
        const firsts = new Map<number, number>()
        const stamps: Array<{ id: number; arrivalNs: number; expected: number }> = []
        const submitOne = (out: number) =>
          Effect.gen(function*() {
            const expected = Math.round(wall() - engine.startNs)
            let id = -1
            const h = yield* engine.submit(64, out, (e: LiveEvent) => {
              if (e._tag === "Token" && e.n === 1) firsts.set(id, e.simNs)
            })
            id = h.req.id
            stamps.push({ id, arrivalNs: h.req.arrivalNs, expected })
          })
        yield* submitOne(40)
        for (let i = 0; i < 8; i++) {
          yield* TestClock.adjust("7 millis").pipe(Effect.withClock(base))
          skewNs += 60_000_000
          yield* submitOne(5)
        }
        yield* TestClock.adjust("10 seconds").pipe(Effect.withClock(base))
        // the engine did lag: some step was delivered late
        expect(engine.load().deliveryLagMaxMs).toBeGreaterThan(50)
        expect(stamps.length).toBe(9)
        for (const s of stamps) {
          expect(s.arrivalNs).toBe(s.expected)
          const first = firsts.get(s.id)
          expect(first).toBeDefined()
          expect(first! - s.arrivalNs).toBeGreaterThanOrEqual(0)
        }
      }).pipe(Effect.scoped, Effect.withClock(skewed), Effect.provide(engineServices(cfg, 10_000_000)))
    }), 30_000)
})

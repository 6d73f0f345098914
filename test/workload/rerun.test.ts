/**
 * A workload's arrival Stream can be run more than once and gives the same arrivals each time
 * (`simulate --sensitivity` replays the workload for its scaled runs): the generator draws afresh
 * from its seed, a trace is read again from its start.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { resolveWorkload } from "../../src/workload/Workload.js"

const twice = <A, E>(s: Stream.Stream<A, E>) =>
  Effect.all([Stream.runCollect(s), Stream.runCollect(s)]).pipe(Effect.map(([a, b]) => [Chunk.toArray(a), Chunk.toArray(b)] as const))

describe("workload streams run again", () => {
  it.effect("the generator gives the same arrivals on a second run", () =>
    Effect.gen(function*() {
      const w = yield* resolveWorkload({ numRequests: 50, lengthDist: "lognormal" }, 3)
      const [a, b] = yield* twice(w.arrivals)
      expect(a).toHaveLength(50)
      expect(b).toEqual(a)
    }))

  for (const file of ["azure.csv", "vidur.csv", "v1.tsv", "v2.jsonl", "mooncake.jsonl"]) {
    it.effect(`a trace (${file}) is read again from its start`, () =>
      Effect.gen(function*() {
        const w = yield* resolveWorkload({ trace: `test/fixtures/traces/${file}`, rateScale: 2 }, 0)
        const [a, b] = yield* twice(w.arrivals)
        expect(a.length).toBeGreaterThan(1)
        expect(b).toEqual(a)
      }))
  }

  it.effect("a trace cut to --num-requests stays cut on a second run", () =>
    Effect.gen(function*() {
      const w = yield* resolveWorkload({ trace: "test/fixtures/traces/azure.csv", numRequests: 2 }, 0)
      const [a, b] = yield* twice(w.arrivals)
      expect(a).toHaveLength(2)
      expect(b).toEqual(a)
    }))
})

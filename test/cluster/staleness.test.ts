/** --router-staleness-ms: the router reads load signals as last sampled, not as they are now. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeRouter } from "../../src/cluster/Router.js"
import type { RouterPolicy } from "../../src/cluster/RouterSpec.js"
import { toRouterSpec } from "../../src/cluster/RouterSpec.js"
import { fakeInstance, req } from "./fakes.js"
import { runRouted } from "./sim.js"

const ms = 1_000_000
const spec = (policy: RouterPolicy, stalenessMs: number) => ({ ...toRouterSpec(policy), stalenessMs })

describe("stale load signals", () => {
  it("a change of load is seen only at the next scrape tick", () => {
    for (const policy of ["least-outstanding", "least-loaded", "least-kv", "weighted"] as const) {
      const a = fakeInstance(0)
      const b = fakeInstance(1, { running: 1, usedBlocks: 10 })
      const exact = makeRouter(spec(policy, 0), 0)
      const stale = makeRouter(spec(policy, 10), 0)
      expect(exact(req(), [a, b], 0)).toBe(0)
      expect(stale(req(), [a, b], 0)).toBe(0) // sampled at t=0: a idle
      Object.assign(a.state, { waiting: 5, running: 8, usedBlocks: 90 })
      expect(exact(req(), [a, b], 5 * ms)).toBe(1)
      expect(stale(req(), [a, b], 5 * ms)).toBe(0) // still the t=0 sample
      expect(stale(req(), [a, b], 9.999 * ms)).toBe(0)
      expect(stale(req(), [a, b], 10 * ms)).toBe(1) // next tick: resampled
    }
  })

  it.effect("a burst inside one interval herds onto one instance; exact signals spread it", () =>
    Effect.gen(function*() {
      // 8 long requests arriving 1 ms apart on 2 instances (steps of 10 ms)
      const arrivals = Array.from({ length: 8 }, (_, i) => ({ arrivalNs: i * ms, promptTokens: 64, outputTokens: 50 }))
      const exact = yield* runRouted(arrivals, spec("least-outstanding", 0), 2)
      const stale = yield* runRouted(arrivals, spec("least-outstanding", 100), 2)
      expect(exact.instanceOf).toEqual([0, 1, 0, 1, 0, 1, 0, 1])
      expect(stale.instanceOf).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
      // and TTFT pays for it: one instance prefills all 8
      expect(stale.summary.mean_ttft_ms).toBeGreaterThan(exact.summary.mean_ttft_ms)
    }))
})

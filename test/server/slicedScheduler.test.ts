/** The request scheduler of `serve`: FIFO, runs Effect fibers, and lets timers in between slices. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { SlicedScheduler } from "../../src/server/SlicedScheduler.js"

const busy = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // spin: a task that holds the thread
  }
}

describe("SlicedScheduler", () => {
  it("runs tasks in order and lets a timer run between slices", async () => {
    const s = new SlicedScheduler(4)
    const ran: Array<number> = []
    let ranWhenTimerFired = -1
    setTimeout(() => {
      ranWhenTimerFired = ran.length
    }, 0)
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 40; i++) {
        s.scheduleTask(() => {
          busy(1)
          ran.push(i)
          if (i === 39) resolve()
        }, 0)
      }
    })
    expect(ran).toEqual(Array.from({ length: 40 }, (_, i) => i))
    // 40 ms of work in 4 ms slices: the timer fired long before the last task
    expect(ranWhenTimerFired).toBeGreaterThanOrEqual(0)
    expect(ranWhenTimerFired).toBeLessThan(20)
  })

  it("runs Effect fibers to completion, yielding on the way", async () => {
    const s = new SlicedScheduler(1)
    const program = Effect.forEach(Array.from({ length: 2000 }, (_, i) => i), (i) => Effect.sync(() => i * 2)).pipe(
      Effect.map((xs) => xs.reduce((a, b) => a + b, 0)),
      Effect.withScheduler(s)
    )
    expect(await Effect.runPromise(program)).toBe(2000 * 1999)
  })
})

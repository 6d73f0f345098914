/**
 * A time-sliced Effect scheduler for the HTTP request fibers of `serve`, so that a burst of requests
 * cannot hold the event loop while the engine fiber has tokens due.
 *
 * Effect's default scheduler runs fibers in microtasks (up to 2,048 drains before one
 * `setTimeout`), and microtasks all run before Node returns to its timers. A thousand requests
 * arriving at once (about 1.5 ms of parsing, decoding and routing each on a 2-core machine) then
 * keep the engine's wake-up timer waiting for a second or more, and every token due meanwhile is
 * delivered that late. Here request fibers run in slices of at most `sliceMs` wall ms, each slice
 * in a `setImmediate` callback (the event loop's check phase), so between two slices Node runs its
 * timers (the engine delivers) and reads sockets (new requests get their arrival stamps). A running
 * fiber checks the clock every 64 operations and yields once the slice is over (and after 2,048
 * operations, as Effect's default does). When the engine is idle the slices follow one another, so
 * requests are served at full speed. Implements Effect's `Scheduler` interface (effect 3.x).
 */
import { Effect, type Fiber, type Scheduler } from "effect"

export class SlicedScheduler implements Scheduler.Scheduler {
  private tasks: Array<Scheduler.Task> = []
  private head = 0
  private pending = false
  private deadline = 0

  /** `sliceMs`: the most wall ms one slice of request work runs before the event loop moves on. */
  constructor(readonly sliceMs: number) {}

  scheduleTask(task: Scheduler.Task, _priority: number): void {
    this.tasks.push(task)
    if (!this.pending) {
      this.pending = true
      setImmediate(this.drain)
    }
  }

  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    const n = fiber.currentOpCount
    return n > 2048 || ((n & 63) === 0 && performance.now() > this.deadline) ? 0 : false
  }

  private readonly drain = (): void => {
    this.deadline = performance.now() + this.sliceMs
    while (this.head < this.tasks.length) {
      if (performance.now() > this.deadline) {
        if (this.head > 1024) {
          this.tasks = this.tasks.slice(this.head)
          this.head = 0
        }
        setImmediate(this.drain)
        return
      }
      const task = this.tasks[this.head++]!
      try {
        task()
      } catch (e) {
        // keep draining the rest later, whatever this task did
        setImmediate(this.drain)
        throw e
      }
    }
    this.tasks = []
    this.head = 0
    this.pending = false
  }
}

/**
 * An HTTP middleware that runs each request, its response body included, on one `SlicedScheduler`
 * of `sliceMs` wall ms (one per server: call it once, where the server is built).
 */
export const slicedRequests = (sliceMs: number) => {
  const scheduler = new SlicedScheduler(sliceMs)
  // yield first: the 'request' event only creates the fiber; routing and the rest run in a slice
  return <A, E, R>(app: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.withScheduler(Effect.zipRight(Effect.yieldNow(), app), scheduler)
}

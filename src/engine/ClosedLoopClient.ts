/**
 * The closed-loop client of `simulate --max-concurrency N`, with vLLM bench serve's semantics
 * (vllm/benchmarks/serve.py, `benchmark()`): every request is created at its arrival time from the
 * arrival process (--request-rate and --burstiness, or a trace's timestamps), then waits on an
 * `asyncio.Semaphore(max_concurrency)` and is sent when it holds a slot; the slot is released when
 * its response ends, finished or failed (here: finished or rejected). asyncio's semaphore wakes its
 * waiters first in, first out, so requests are sent in arrival order and
 *
 *     send = max(arrival, the time the slot it takes is free again)
 *
 * and `client_queue_time` = send - arrival (vLLM: `output.start_time - request_arrival_time`). With
 * --request-rate inf (every arrival at 0) it is a pure closed loop: N requests in flight, the next
 * one sent the moment one finishes. The request reaches the engine at its send time, so TTFT and E2E
 * count from the send, as vLLM bench measures them.
 *
 * Not in vLLM bench: an optional think time (exponential, mean `thinkTimeMeanNs`, drawn from its own
 * stream seeded by `seed`) between a response's end and the reuse of its slot, so closed loops of
 * fixed-length requests do not phase-lock (every client's prefill on the same step).
 *
 * How it runs on the engine: the send time of the next request needs the engine's finishes, which
 * are only known once simulated. The engine runs its steps in time order (`ordered`) and this
 * client's observer lowers the engine's `horizonNs` to the earliest send time a finish makes
 * possible, so the engine stops there: one bound per finish, which a finishing step (never a
 * fast-forward) already is. A send time is final once no step that starts before it is left to run
 * (every finish still to come ends later). Costs O(log N) per request; nothing per step or token.
 */
import type { SimRequest } from "../domain/SimRequest.js"
import { Rng } from "../workload/Rng.js"
import type { Arrival, Engine } from "./Engine.js"
import type { EngineObserver } from "./EngineObserver.js"

/** A closed-loop client's settings (workload/Workload.ts `resolveClient` checks them). */
export interface ClientSpec {
  /** Most requests in flight at once (vLLM bench --max-concurrency), a positive integer. */
  readonly maxConcurrency: number
  /** Mean of the exponential think time after a response before its slot is reused, ns (0 = none). */
  readonly thinkTimeMeanNs: number
  /** Seed of the think-time draws (the run's --seed). */
  readonly seed: number
  /**
   * Every request arrives at t = 0 (--request-rate inf): summary.json then has no
   * `e2el_including_client_queue` stats, as vLLM bench writes them only for a finite rate.
   */
  readonly allAtOnce?: boolean | undefined
}

/** A binary min-heap of numbers (the times at which released slots are free again, ns). */
class TimeHeap {
  private data = new Float64Array(16)
  size = 0

  push(x: number): void {
    if (this.size === this.data.length) {
      const next = new Float64Array(this.size * 2)
      next.set(this.data)
      this.data = next
    }
    const d = this.data
    let i = this.size++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (d[p]! <= x) break
      d[i] = d[p]!
      i = p
    }
    d[i] = x
  }

  /** The smallest (Infinity when empty). */
  get min(): number {
    return this.size === 0 ? Infinity : this.data[0]!
  }

  pop(): void {
    const d = this.data
    const n = --this.size
    if (n <= 0) return
    const x = d[n]!
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && d[r]! < d[l]! ? r : l
      if (d[c]! >= x) break
      d[i] = d[c]!
      i = c
    }
    d[i] = x
  }
}

export class ClosedLoopClient {
  /** Slots never taken yet (free since the start). */
  private idle: number
  /** When each released slot is free again (its request's end plus the think time), ns. */
  private readonly freed = new TimeHeap()
  /** A request is waiting for a slot (submit() is running the engine). */
  private waiting = false
  /** Arrival time of the waiting request, ns. */
  private waitingArrivalNs = 0
  private engine: Engine | undefined = undefined
  private readonly rng: Rng | undefined
  /** Listens for finishes and rejections (the ends that release a slot); add it to the engine's observers. */
  readonly observer: EngineObserver

  constructor(readonly spec: ClientSpec) {
    this.idle = spec.maxConcurrency
    this.rng = spec.thinkTimeMeanNs > 0 ? new Rng((spec.seed ^ 0x2c1b3c6d) >>> 0) : undefined
    const release = (r: SimRequest) => {
      // the client holds the slot until the response's end reaches it (the front end's egress)
      const free = r.finishNs + r.egressNs + this.thinkNs()
      this.freed.push(free)
      if (!this.waiting) return
      // the waiting request can go at max(arrival, free): the engine must not run past it
      const send = free > this.waitingArrivalNs ? free : this.waitingArrivalNs
      const e = this.engine!
      if (send < e.horizonNs) e.horizonNs = send
    }
    this.observer = { onFinish: release, onReject: release }
  }

  /** Use `engine` (built with `ordered: true` and this client's observer among its observers). */
  attach(engine: Engine): void {
    this.engine = engine
  }

  /** One think-time draw, integer ns (0 without think time). */
  private thinkNs(): number {
    return this.rng === undefined ? 0 : Math.round(this.rng.exponential(this.spec.thinkTimeMeanNs))
  }

  /**
   * Send `a` (arrivals in non-decreasing arrival order): run the engine until a slot is free at or
   * after its arrival, then submit it at its send time. Throws when every slot is held and nothing in
   * the engine can end (cannot happen: every request finishes or is rejected, or the engine throws).
   */
  submit(a: Arrival): SimRequest {
    const engine = this.engine!
    const arrival = a.arrivalNs
    this.waiting = true
    this.waitingArrivalNs = arrival
    let send: number
    for (;;) {
      const m = this.idle > 0 ? -Infinity : this.freed.min
      send = m > arrival ? m : arrival
      // final when no step starting before it is left: every later finish ends after it
      if (send !== Infinity && engine.nextEventNs() >= send) break
      engine.horizonNs = send
      engine.advanceTo(send)
      engine.horizonNs = Infinity
      if (this.idle === 0 && this.freed.size === 0 && engine.nextEventNs() === Infinity) {
        throw new Error(`closed-loop client: all ${this.spec.maxConcurrency} slots are held but no request in the engine can end`)
      }
    }
    this.waiting = false
    if (this.idle > 0) this.idle--
    else this.freed.pop()
    return engine.submit(a, send)
  }
}

/**
 * Is a run on the knife edge of saturation? `simulate --sensitivity PCT` runs the same workload
 * with the step time scaled by 1 - PCT/100, 1 and 1 + PCT/100; this module gives the verdict from
 * the three runs' request throughput (completed requests / run duration, as summary.json's
 * `request_throughput`) and p99 TTFT.
 *
 * Why throughput: while an engine keeps up with its arrivals, a run lasts as long as the arrivals
 * plus about one request's latency, so its throughput is the offered rate whatever the step time
 * (a PCT% longer step lengthens only that last latency). Once it cannot keep up, requests pile up
 * and the run lasts until the engine has worked through them at its capacity: the run's length
 * follows the step time and the throughput falls with it, by up to PCT/(100 + PCT). All three runs
 * see the same arrivals, so their throughputs differ only through the engine, not the arrivals'
 * noise; and the whole run is compared, so a backlog built up over it counts in full.
 *
 * The verdict (`near_saturation`), in this order:
 *   1. saturated already: the run with the step time x(1 - PCT/100) has a throughput higher than
 *      the nominal run's by more than PCT/2 % (the nominal run is bound by capacity);
 *   2. within PCT% of saturation, when the run with the step time x(1 + PCT/100)
 *      a. has a throughput lower than the nominal run's by more than PCT/2 % (it cannot keep up), or
 *      b. has a p99 TTFT more than TTFT_BLOWUP (2) times the nominal run's (a PCT% longer step moves
 *         the TTFT of an engine that keeps up by about PCT%; doubling means requests now queue);
 *   3. otherwise not near saturation.
 * Tests 1 and 2a need the arrivals to span at least SPAN_PER_SERVICE (2) times the nominal run's
 * median service time (finish - first scheduled): a run shorter than that is in effect an offline
 * batch (everything sent at once is one), whose length follows the step time whether or not the
 * engine could keep up with a steady stream; with the span at least twice the latency, the last
 * request's latency moves the throughput by less than PCT/2 %. Without it only 2b applies, and the
 * reason says so. The limit: an engine whose capacity at x(1 + PCT/100) falls only a few % short
 * of the offered rate builds too small a backlog in a finite run to move the throughput by PCT/2 %;
 * it is flagged only when its TTFT doubles (the reason gives the throughput change either way).
 */
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"

/** p99 TTFT growth (the +PCT% run over the nominal one) above which queueing has taken over. */
export const TTFT_BLOWUP = 2
/** Least arrival span, in median service times, for the throughput tests. */
export const SPAN_PER_SERVICE = 2

/** Grow `a` to hold at least `n` entries. */
const grow = (a: Float64Array, n: number): Float64Array => {
  if (n <= a.length) return a
  const b = new Float64Array(Math.max(n, a.length * 2))
  b.set(a)
  return b
}

/** What the nominal run tells of its workload: how fast requests were offered, and whether the throughput tests apply. */
export interface OfferedLoad {
  /** Requests per second sent over the arrivals' span ((n - 1) / span); undefined when all arrive at once. */
  readonly offeredRate: number | undefined
  /** Why the throughput tests do not apply (module comment), or undefined when they do. */
  readonly unmeasured: string | undefined
}

/**
 * Records a run's arrival span and its finished requests' service times (8 bytes a request)
 * through its `observer`. It listens to arrivals and finishes only, so it does not stop
 * fast-forwarding and changes nothing in the run.
 */
export class LoadProbe {
  private service: Float64Array = new Float64Array(1024)
  private finished = 0
  private arrived = 0
  private firstArrivalNs = Infinity
  private lastArrivalNs = -Infinity

  /** The observer to add to the run. */
  readonly observer: EngineObserver = {
    onArrive: (r: SimRequest) => {
      this.arrived++
      if (r.arrivalNs < this.firstArrivalNs) this.firstArrivalNs = r.arrivalNs
      if (r.arrivalNs > this.lastArrivalNs) this.lastArrivalNs = r.arrivalNs
    },
    onFinish: (r: SimRequest) => {
      if (r.status !== RequestStatus.Finished) return
      this.service = grow(this.service, this.finished + 1)
      this.service[this.finished++] = r.finishNs - r.firstScheduledNs
    }
  }

  /** The offered rate and whether the throughput tests apply (module comment). */
  load(): OfferedLoad {
    const span = this.lastArrivalNs - this.firstArrivalNs
    const s = (ns: number) => `${(ns / 1e9).toFixed(1)} s`
    if (this.arrived < 2 || !(span > 0)) return { offeredRate: undefined, unmeasured: "all requests arrive at once (an offline batch)" }
    const offeredRate = (this.arrived - 1) / (span / 1e9)
    if (this.finished === 0) return { offeredRate, unmeasured: "no request finished" }
    const service = this.service.slice(0, this.finished).sort()
    const median = service[Math.floor(this.finished / 2)]!
    if (span < SPAN_PER_SERVICE * median) {
      return { offeredRate, unmeasured: `the requests arrive over ${s(span)}, less than ${SPAN_PER_SERVICE} x their median service time of ${s(median)} (in effect an offline batch; more requests would tell)` }
    }
    return { offeredRate, unmeasured: undefined }
  }
}

/** What the verdict reads of one run. */
export interface RunSignals {
  /** Step-time factor of the run (1 = nominal). */
  readonly scale: number
  /** Completed requests per second of the run's duration (summary.json `request_throughput`). */
  readonly requestThroughput: number
  readonly p99TtftMs: number
}

/** The verdict: whether the configuration sits within PCT% of saturation, and why (one sentence). */
export interface SaturationVerdict {
  readonly nearSaturation: boolean
  readonly reason: string
}

const f1 = (x: number) => x.toFixed(1)
const f2 = (x: number) => x.toFixed(2)
const times = (x: number) => `x${x.toFixed(x >= 10 ? 0 : 2)}`

/** A step-time factor as the reports write it: `x0.90`, `x1.10`, `x0.975` (at least two decimals, at most six). */
export const formatFactor = (scale: number): string => {
  const t = String(Number(scale.toFixed(6)))
  const decimals = t.includes(".") ? t.length - t.indexOf(".") - 1 : 0
  return `x${decimals >= 2 ? t : scale.toFixed(2)}`
}
const signed = (x: number) => `${x >= 0 ? "+" : "-"}${f1(Math.abs(x))}%`

/**
 * The verdict on the runs with the step time x(1 - pct/100), x1 and x(1 + pct/100), given the
 * nominal run's offered load (the criterion is in the module comment).
 */
export const saturationVerdict = (pct: number, load: OfferedLoad, faster: RunSignals, nominal: RunSignals, slower: RunSignals): SaturationVerdict => {
  const limit = pct / 2
  const measured = load.unmeasured === undefined
  const offered = load.offeredRate === undefined ? "" : `; ${f2(load.offeredRate)} req/s offered`
  const change = (r: RunSignals) => 100 * (r.requestThroughput / nominal.requestThroughput - 1)
  /** `X req/s against Y (+Z%, <bound>; O req/s offered)`. */
  const against = (r: RunSignals, bound: string) =>
    `${f2(r.requestThroughput)} req/s against ${f2(nominal.requestThroughput)} (${signed(change(r))}, ${bound} ${limit.toFixed(Number.isInteger(limit * 10) ? 1 : 2)}%${offered})`
  const at = `at step time ${formatFactor(slower.scale)}`
  if (measured && change(faster) > limit) {
    return {
      nearSaturation: true,
      reason: `saturated already at the nominal step time: its throughput follows the step time, at ${formatFactor(faster.scale)} ${against(faster, "more than")}: requests pile up for the whole run`
    }
  }
  const why: Array<string> = []
  if (measured && -change(slower) > limit) why.push(`the throughput falls to ${against(slower, "more than")}: it cannot keep up and requests pile up`)
  const growth = nominal.p99TtftMs > 0 ? slower.p99TtftMs / nominal.p99TtftMs : 1
  if (growth > TTFT_BLOWUP) why.push(`p99 TTFT goes from ${f1(nominal.p99TtftMs)} to ${f1(slower.p99TtftMs)} ms (${times(growth)}, more than x${TTFT_BLOWUP}): requests queue`)
  if (why.length > 0) return { nearSaturation: true, reason: `within ${pct}% of saturation: ${at} ${why.join("; and ")}` }
  const ttft = `p99 TTFT moves ${times(growth)} (at most x${TTFT_BLOWUP})`
  if (!measured) return { nearSaturation: false, reason: `throughput not judged: ${load.unmeasured}; ${at} ${ttft}` }
  return { nearSaturation: false, reason: `not within ${pct}% of saturation: ${at} the throughput stays at ${against(slower, "at most")} and ${ttft}` }
}

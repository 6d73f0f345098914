/**
 * Per-request simulated samples for validation (ms), with the metrics collector's definitions
 * (MetricsCollector.ts): TTFT and E2E per completed request, TPOT for those with > 1 output token,
 * and, when asked, every inter-token gap exactly (the summary keeps ITL in a log histogram; the KS
 * test needs the values). 8 bytes per request per metric, and per generated token for ITL.
 * TTFT and E2E as the client sees them (the front end's egress included, domain/SimRequest.ts).
 */
import { e2eNs, RequestStatus, ttftNs } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import { Samples } from "../metrics/stats.js"

const MS = 1e-6

export interface SimSamples {
  readonly ttft: Samples
  readonly tpot: Samples
  readonly e2el: Samples
  readonly itl: Samples | undefined
}

/** An observer collecting the simulated TTFT/TPOT/E2E (and, with `withItl`, ITL) samples of finished requests, ms. */
export const collectSimSamples = (withItl: boolean): { readonly samples: SimSamples; readonly observer: EngineObserver } => {
  const samples: SimSamples = { ttft: new Samples(), tpot: new Samples(), e2el: new Samples(), itl: withItl ? new Samples() : undefined }
  const onFinish: NonNullable<EngineObserver["onFinish"]> = (r) => {
    if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens) return // aborted
    samples.ttft.push(ttftNs(r) * MS)
    samples.e2el.push(e2eNs(r) * MS)
    if (r.numOutput > 1) samples.tpot.push(((r.lastTokenNs - r.firstTokenNs) * MS) / (r.numOutput - 1))
  }
  const itl = samples.itl
  if (itl === undefined) return { samples, observer: { onFinish } }
  return {
    samples,
    observer: {
      onFinish,
      onTokenGap: (gapNs, count) => {
        const v = gapNs * MS
        for (let i = 0; i < count; i++) itl.push(v)
      }
    }
  }
}

/** Per simulated request (index = its position in the arrival stream, SimRequest.id), ms; NaN where not finished. */
export interface SimRequestValues {
  readonly ttftMs: Float64Array
  readonly tpotMs: Float64Array
  readonly e2elMs: Float64Array
  /** Requests that finished. */
  finished: number
}

/**
 * An observer recording TTFT, TPOT and E2E of each of `n` requests by id (as collectSimSamples
 * defines them; TPOT NaN for one output token; aborted requests stay NaN).
 */
export const collectSimRequests = (n: number): { readonly values: SimRequestValues; readonly observer: EngineObserver } => {
  const values: SimRequestValues = { ttftMs: new Float64Array(n).fill(NaN), tpotMs: new Float64Array(n).fill(NaN), e2elMs: new Float64Array(n).fill(NaN), finished: 0 }
  return {
    values,
    observer: {
      onFinish: (r) => {
        if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens || r.id >= n) return
        values.ttftMs[r.id] = ttftNs(r) * MS
        values.e2elMs[r.id] = e2eNs(r) * MS
        if (r.numOutput > 1) values.tpotMs[r.id] = ((r.lastTokenNs - r.firstTokenNs) * MS) / (r.numOutput - 1)
        values.finished++
      }
    }
  }
}

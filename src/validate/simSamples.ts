/**
 * Per-request simulated samples for validation (ms), with the metrics collector's definitions
 * (MetricsCollector.ts): TTFT and E2E per completed request, TPOT for those with > 1 output token,
 * and, when asked, every inter-token gap exactly (the summary keeps ITL in a log histogram; the KS
 * test needs the values). 8 bytes per request per metric, and per generated token for ITL.
 */
import { RequestStatus } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import { Samples } from "../metrics/stats.js"

const MS = 1e-6

export interface SimSamples {
  readonly ttft: Samples
  readonly tpot: Samples
  readonly e2el: Samples
  readonly itl: Samples | undefined
}

export const collectSimSamples = (withItl: boolean): { readonly samples: SimSamples; readonly observer: EngineObserver } => {
  const samples: SimSamples = { ttft: new Samples(), tpot: new Samples(), e2el: new Samples(), itl: withItl ? new Samples() : undefined }
  const onFinish: NonNullable<EngineObserver["onFinish"]> = (r) => {
    if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens) return // aborted
    samples.ttft.push((r.firstTokenNs - r.arrivalNs) * MS)
    samples.e2el.push((r.finishNs - r.arrivalNs) * MS)
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

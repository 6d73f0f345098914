/**
 * What the engine reports while it runs, as plain callbacks (the hot loop calls them directly; an
 * absent callback costs one check). Offline, the metrics collector and the TraceWriter sinks
 * listen; the HTTP server listens for tokens to stream them.
 */
import type { SimRequest } from "../domain/SimRequest.js"
import type { BatchShape } from "../perf/BatchShape.js"

export interface StepInfo {
  readonly instance: number
  /** Name of the instance's pool. */
  readonly pool: string
  /** Under pipeline parallelism, the virtual engine (0..P-1) of `instance` that ran the step; else 0. */
  readonly virtualEngine: number
  readonly startNs: number
  readonly durationNs: number
  readonly shape: BatchShape
  /** Running requests after scheduling this step. */
  readonly running: number
  /** Waiting requests after scheduling this step. */
  readonly waiting: number
  /** KV blocks in use after scheduling this step. */
  readonly kvBlocksUsed: number
  readonly kvBlocksTotal: number
  readonly preempted: number
  /**
   * Engine steps this event stands for (absent: 1). An engine may report a fast-forwarded run of k
   * identical-shape decode steps as one event: `durationNs` their total, `shape` one step's (its
   * decode count; the context sum of its first step), the other fields as after the last.
   */
  readonly steps?: number
}

export interface EngineObserver {
  /** `r` entered the engine (before routing, rejection or queueing). */
  readonly onArrive?: (r: SimRequest) => void
  /** A step ran (the StepInfo object is reused: copy what you keep). */
  readonly onStep?: (s: StepInfo) => void
  /** `r` got an output token at `tNs` (its `numOutput` already counts it; `lastTokenNs` still holds the previous token's time, -1 for the first). */
  readonly onToken?: (r: SimRequest, tNs: number) => void
  /**
   * `count` inter-token gaps of `gapNs` each (one per output token after a request's first).
   * Called per token by a normal step and once per fast-forwarded step for the whole batch. Under
   * multi-step scheduling (`--num-scheduler-steps`) a request's tokens of one block reach the
   * client as one chunk, and one gap is reported per chunk (as benchmark clients count ITL).
   */
  readonly onTokenGap?: (gapNs: number, count: number) => void
  /** `r` produced its last token (times set) or was aborted. */
  readonly onFinish?: (r: SimRequest) => void
  /** `r` was rejected on arrival. */
  readonly onReject?: (r: SimRequest, reason: string) => void
  /**
   * `r` is being preempted (recompute) while scheduling the step at `tNs`; called before its KV
   * is released, so `r.numComputed` still counts the tokens it loses.
   */
  readonly onPreempt?: (r: SimRequest, tNs: number) => void
}

/** Call every observer in order. */
export const combineObservers = (...obs: ReadonlyArray<EngineObserver>): EngineObserver => {
  const arrives = obs.flatMap((o) => (o.onArrive ? [o.onArrive] : []))
  const steps = obs.flatMap((o) => (o.onStep ? [o.onStep] : []))
  const tokens = obs.flatMap((o) => (o.onToken ? [o.onToken] : []))
  const gaps = obs.flatMap((o) => (o.onTokenGap ? [o.onTokenGap] : []))
  const finishes = obs.flatMap((o) => (o.onFinish ? [o.onFinish] : []))
  const rejects = obs.flatMap((o) => (o.onReject ? [o.onReject] : []))
  const preempts = obs.flatMap((o) => (o.onPreempt ? [o.onPreempt] : []))
  const out: { -readonly [K in keyof EngineObserver]: EngineObserver[K] } = {}
  if (arrives.length > 0) out.onArrive = (r) => { for (const f of arrives) f(r) }
  if (steps.length === 1) out.onStep = steps[0]!
  else if (steps.length > 1) out.onStep = (s) => { for (const f of steps) f(s) }
  if (tokens.length === 1) out.onToken = tokens[0]!
  else if (tokens.length > 1) out.onToken = (r, t) => { for (const f of tokens) f(r, t) }
  if (gaps.length === 1) out.onTokenGap = gaps[0]!
  else if (gaps.length > 1) out.onTokenGap = (g, n) => { for (const f of gaps) f(g, n) }
  if (finishes.length === 1) out.onFinish = finishes[0]!
  else if (finishes.length > 1) out.onFinish = (r) => { for (const f of finishes) f(r) }
  if (rejects.length > 0) out.onReject = (r, why) => { for (const f of rejects) f(r, why) }
  if (preempts.length > 0) out.onPreempt = (r, t) => { for (const f of preempts) f(r, t) }
  return out
}

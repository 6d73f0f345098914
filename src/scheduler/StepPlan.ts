/**
 * The scheduler's decision for one step: which requests run and with how many new tokens, plus
 * the batch shape the perf model prices. One instance per engine, reused every step.
 */
import type { SimRequest } from "../domain/SimRequest.js"
import { type BatchShape, makeBatchShape, resetBatchShape } from "../perf/BatchShape.js"

export interface StepPlan {
  /** Scheduled requests this step outside the decode cohort (first `count` entries valid), in running order. */
  count: number
  readonly reqs: Array<SimRequest>
  /** New tokens per scheduled request. */
  readonly tokens: Int32Array
  /** Requests preempted while scheduling this step. */
  preempted: number
  /** Requests admitted from the waiting queue this step. */
  admitted: number
  /** Decode-cohort members scheduled this step, one decode token each (0, or the whole cohort); counted in `shape`, not in `reqs`. */
  cohort: number
  readonly shape: BatchShape
}

/** An empty plan for an engine of at most `maxSeqs` running requests. */
export const makeStepPlan = (maxSeqs: number): StepPlan => ({
  count: 0,
  reqs: [],
  tokens: new Int32Array(maxSeqs),
  preempted: 0,
  admitted: 0,
  cohort: 0,
  shape: makeBatchShape(maxSeqs)
})

/** Empty `p` for the next step. */
export const resetStepPlan = (p: StepPlan): void => {
  p.count = 0
  p.preempted = 0
  p.admitted = 0
  p.cohort = 0
  resetBatchShape(p.shape)
}

/** Record `n` new tokens for `r` (whose `numComputed` is still the value before this step). */
export const addToPlan = (p: StepPlan, r: SimRequest, n: number): void => {
  p.reqs[p.count] = r
  p.tokens[p.count] = n
  p.count++
  const s = p.shape
  if (n === 1 && r.numComputed + 1 === r.numTokens) {
    s.numDecode++
    s.decodeContextSum += r.numComputed + 1
  } else {
    s.prefillChunk[s.numPrefill] = n
    s.prefillContext[s.numPrefill] = r.numComputed
    s.numPrefill++
    s.prefillTokens += n
  }
}

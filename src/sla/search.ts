/**
 * The search for the highest load that meets the SLA, one state machine per configuration:
 * bracket first (probe `start`, then double until a probe fails or `max` passes), then bisect the
 * bracket [highest pass, lowest fail] until it is within the tolerance: a relative width
 * (hi - lo) / lo <= `tolerance` for a request rate, adjacent integers for max concurrency. Each
 * probe is one simulation. Assumes that meeting the SLA is monotone in the load (a higher rate or
 * concurrency never makes latency better), as vLLM's `bench sweep serve_sla` does.
 */
import { Effect } from "effect"

/** What the search varies and how finely. */
export interface SearchDomain {
  /** The first probe (> 0). */
  readonly start: number
  /** The highest value probed; a configuration that passes there is reported as "at least max". */
  readonly max: number
  /** Integer values (max concurrency): bisection stops at adjacent integers. */
  readonly integer: boolean
  /** Relative bracket width at which a continuous search stops (e.g. 0.05 = 5%). */
  readonly tolerance: number
}

/** A configuration's search so far: the highest passing and lowest failing value seen. */
export interface SearchState {
  readonly lo: number | undefined
  readonly hi: number | undefined
  /** Set when a probe could not run (its error): the search stops. */
  readonly error: string | undefined
}

export const initialState: SearchState = { lo: undefined, hi: undefined, error: undefined }

/** How a finished search ended. */
export type Outcome =
  /** `lo` meets the SLA and `hi` does not, within the tolerance. */
  | "found"
  /** Even the first (lowest) probe fails. */
  | "infeasible"
  /** The SLA is met at `max`: the limit is at least there. */
  | "at-max"
  /** A probe failed to run (e.g. the model does not fit). */
  | "error"

/** The next value to probe, or undefined when the search is over. */
export const nextProbe = (d: SearchDomain, s: SearchState): number | undefined => {
  if (s.error !== undefined) return undefined
  if (s.lo === undefined) return s.hi === undefined ? d.start : undefined
  if (s.hi === undefined) return s.lo >= d.max ? undefined : Math.min(d.max, s.lo * 2)
  if (d.integer) return s.hi - s.lo <= 1 ? undefined : Math.floor((s.lo + s.hi) / 2)
  return (s.hi - s.lo) <= d.tolerance * s.lo ? undefined : (s.lo + s.hi) / 2
}

/** The state after probing `value`: it passed, it failed, or it could not run (`error`). */
export const observe = (s: SearchState, value: number, pass: boolean, error?: string): SearchState =>
  error !== undefined ? { ...s, error }
  : pass ? { ...s, lo: s.lo === undefined ? value : Math.max(s.lo, value) }
  : { ...s, hi: s.hi === undefined ? value : Math.min(s.hi, value) }

/** How a finished search (nextProbe gives undefined) ended. */
export const outcomeOf = (s: SearchState): Outcome =>
  s.error !== undefined ? "error" : s.lo === undefined ? "infeasible" : s.hi === undefined ? "at-max" : "found"

/** Check a domain's numbers; a message naming what is wrong, or undefined. */
export const checkDomain = (d: SearchDomain): string | undefined => {
  if (!(d.start > 0 && Number.isFinite(d.start))) return `the start must be a finite number > 0 (got ${d.start})`
  if (!(d.max >= d.start && Number.isFinite(d.max))) return `the maximum must be finite and at least the start ${d.start} (got ${d.max})`
  if (d.integer && !(Number.isInteger(d.start) && Number.isInteger(d.max))) return `max concurrency takes integers (got ${d.start}..${d.max})`
  if (!d.integer && !(d.tolerance > 0 && d.tolerance < 1)) return `the tolerance must be in (0, 1) (got ${d.tolerance})`
  return undefined
}

/** What one probe gave: at least whether it ran (`error` null) or why not. */
export interface ProbeResult {
  readonly error: string | null
}

/** One probe of one configuration, as the search saw it. */
export interface Probe<R extends ProbeResult = ProbeResult> {
  /** Position of the configuration in the list searched. */
  readonly config: number
  readonly value: number
  readonly result: R
  readonly pass: boolean
  /** Why it failed: the constraints broken, or the error. */
  readonly why: string
}

/** One configuration's finished search. */
export interface SearchResult<C, R extends ProbeResult = ProbeResult> {
  readonly config: C
  readonly outcome: Outcome
  /** The highest value that met the SLA (undefined when none did). */
  readonly found: number | undefined
  /** The lowest value that did not (undefined when none failed). */
  readonly failedAt: number | undefined
  /** The probe at `found` (its metrics are the configuration's at the limit). */
  readonly best: Probe<R> | undefined
  readonly probes: ReadonlyArray<Probe<R>>
  readonly error: string | undefined
}

/**
 * Search every configuration at once, in rounds: each round asks `runBatch` for the next probe of
 * every configuration still searching (so a pool or cluster runs them side by side) and feeds the
 * results back. `judge` says whether a result meets the SLA (and why not). `onProbe` sees each probe
 * as it is judged. Rounds are at most ~log2(max/start) + log2(1/tolerance) + 2.
 */
export const searchAll = <C, R extends ProbeResult, E, Q>(
  configs: ReadonlyArray<C>,
  domain: SearchDomain,
  judge: (r: R) => { readonly pass: boolean; readonly why: string },
  runBatch: (batch: ReadonlyArray<{ readonly config: C; readonly index: number; readonly value: number }>) => Effect.Effect<ReadonlyArray<R>, E, Q>,
  onProbe: (p: Probe<R>) => void = () => {}
): Effect.Effect<Array<SearchResult<C, R>>, E, Q> =>
  Effect.gen(function*() {
    const states = configs.map(() => initialState)
    const probes: Array<Array<Probe<R>>> = configs.map(() => [])
    for (;;) {
      const batch = configs.flatMap((config, index) => {
        const value = nextProbe(domain, states[index]!)
        return value === undefined ? [] : [{ config, index, value }]
      })
      if (batch.length === 0) break
      const results = yield* runBatch(batch)
      for (const [k, b] of batch.entries()) {
        const result = results[k]!
        const verdict = result.error !== null ? { pass: false, why: `error: ${result.error}` } : judge(result)
        states[b.index] = observe(states[b.index]!, b.value, verdict.pass, result.error ?? undefined)
        const probe: Probe<R> = { config: b.index, value: b.value, result, pass: verdict.pass, why: verdict.why }
        probes[b.index]!.push(probe)
        onProbe(probe)
      }
    }
    return configs.map((config, i): SearchResult<C, R> => {
      const s = states[i]!
      return {
        config, outcome: outcomeOf(s), found: s.lo, failedAt: s.hi, error: s.error,
        best: s.lo === undefined ? undefined : probes[i]!.find((p) => p.pass && p.value === s.lo),
        probes: probes[i]!
      }
    })
  })

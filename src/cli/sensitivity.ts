/**
 * `simulate --sensitivity [PCT]`: after the main run, the same workload and configuration again
 * with every pool's step time scaled by 1 - PCT/100 and 1 + PCT/100 (perf/scaled.ts), and how far
 * the latencies and throughputs move, with a verdict on whether the configuration sits within
 * PCT% of saturation (metrics/saturation.ts says the criterion). The scaled runs write no rows.
 *
 * The flag's value is optional: a bare `--sensitivity` means 10 (normalizeSensitivityFlag turns it
 * into `--sensitivity=10` before @effect/cli parses, which has no optional-value flags).
 */
import { Options } from "@effect/cli"
import { Effect } from "effect"
import { InvalidOption } from "../domain/errors.js"
import type { Summary } from "../metrics/Summary.js"
import { type LoadProbe, saturationVerdict } from "../metrics/saturation.js"

/** The percentage a bare `--sensitivity` takes. */
export const DEFAULT_SENSITIVITY_PCT = 10
/** The largest percentage accepted (a step time x0.5 .. x1.5). */
export const MAX_SENSITIVITY_PCT = 50

/** The `--sensitivity [PCT]` option of `simulate`. */
export const sensitivityOption = Options.float("sensitivity").pipe(
  Options.optional,
  Options.withDescription(`After the run, run it again with the step time x(1 - PCT/100) and x(1 + PCT/100) and report how far TTFT, TPOT, E2E and throughput move, flagging a configuration within PCT% of saturation; PCT in (0, ${MAX_SENSITIVITY_PCT}], a bare --sensitivity means ${DEFAULT_SENSITIVITY_PCT} (default: off)`)
)

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i

/**
 * Give a bare `--sensitivity` of `simulate` its default value: `--sensitivity` followed by nothing
 * or by another flag becomes `--sensitivity=10`; followed by a number (negative too, so the range
 * check can refuse it) or by anything not starting with `-`, that is its value. Other commands'
 * arguments are untouched (they do not take the flag and are told so).
 */
export const normalizeSensitivityFlag = (args: ReadonlyArray<string>): Array<string> => {
  if (args[0] !== "simulate") return [...args]
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") {
      out.push(...args.slice(i))
      break
    }
    if (a !== "--sensitivity") {
      out.push(a)
      continue
    }
    const next = args[i + 1]
    if (next !== undefined && (NUMBER.test(next) || !next.startsWith("-"))) {
      out.push(a, next)
      i++
    } else out.push(`--sensitivity=${DEFAULT_SENSITIVITY_PCT}`)
  }
  return out
}

/** `pct` when it is in (0, MAX_SENSITIVITY_PCT], else an InvalidOption naming `--sensitivity`. */
export const checkSensitivityPct = (pct: number): Effect.Effect<number, InvalidOption> =>
  pct > 0 && pct <= MAX_SENSITIVITY_PCT
    ? Effect.succeed(pct)
    : Effect.fail(new InvalidOption({ option: "--sensitivity", reason: `expected a percentage in (0, ${MAX_SENSITIVITY_PCT}] (got ${pct})` }))

/** One run of the report: its step-time factor and the summary.json figures that move. */
export interface SensitivityRun {
  readonly scale: number
  readonly mean_ttft_ms: number
  readonly p99_ttft_ms: number
  readonly mean_tpot_ms: number
  readonly p99_tpot_ms: number
  readonly mean_e2el_ms: number
  readonly p99_e2el_ms: number
  readonly output_throughput: number
  readonly request_throughput: number
}

/** summary.json's `sensitivity`. */
export interface SensitivityReport {
  readonly pct: number
  /** Requests per second sent over the arrivals' span (null: all sent at once). */
  readonly offered_request_rate: number | null
  /** Step time x(1 - pct/100), x1 (the main run), x(1 + pct/100), in that order. */
  readonly runs: ReadonlyArray<SensitivityRun>
  readonly near_saturation: boolean
  readonly reason: string
}

/** A run's row from its summary. */
export const sensitivityRun = (scale: number, s: Summary): SensitivityRun => ({
  scale,
  mean_ttft_ms: s.mean_ttft_ms,
  p99_ttft_ms: s.p99_ttft_ms,
  mean_tpot_ms: s.mean_tpot_ms,
  p99_tpot_ms: s.p99_tpot_ms,
  mean_e2el_ms: s.mean_e2el_ms,
  p99_e2el_ms: s.p99_e2el_ms,
  output_throughput: s.output_throughput,
  request_throughput: s.request_throughput
})

/** The main run as the report needs it: its summary and the probe it ran with (`probe.observer` added to it). */
export interface NominalRun {
  readonly summary: Summary
  readonly probe: LoadProbe
}

/**
 * Run the two scaled runs with `runAt` (the same workload and configuration at a step-time factor;
 * it should write no rows) and build the report against the main run. `onRun` is told each factor
 * as its run starts (progress, the interrupt note).
 */
export const runSensitivity = <E, R>(
  pct: number,
  nominal: NominalRun,
  runAt: (scale: number) => Effect.Effect<Summary, E, R>,
  onRun: (scale: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<SensitivityReport, E, R> =>
  Effect.gen(function*() {
    const faster = Number((1 - pct / 100).toFixed(12))
    const slower = Number((1 + pct / 100).toFixed(12))
    const runs: Array<{ scale: number; summary: Summary }> = []
    for (const scale of [faster, slower]) {
      yield* onRun(scale)
      runs.push({ scale, summary: yield* runAt(scale) })
    }
    const [lo, hi] = runs as [typeof runs[0], typeof runs[0]]
    const main = { scale: 1, summary: nominal.summary }
    const load = nominal.probe.load()
    const signals = (r: typeof main) => ({ scale: r.scale, requestThroughput: r.summary.request_throughput, p99TtftMs: r.summary.p99_ttft_ms })
    const verdict = saturationVerdict(pct, load, signals(lo), signals(main), signals(hi))
    return {
      pct,
      offered_request_rate: load.offeredRate ?? null,
      runs: [lo, main, hi].map((r) => sensitivityRun(r.scale, r.summary)),
      near_saturation: verdict.nearSaturation,
      reason: verdict.reason
    }
  })

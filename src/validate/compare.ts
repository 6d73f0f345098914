/**
 * Simulated vs measured metrics of a validation run: the % difference of each statistic (mean,
 * median, p90, p95, p99 of TTFT, TPOT, ITL when the run records it, E2E; KV blocks; duration and
 * throughputs), the accuracy per distribution as the field reports it (% error of mean/p50/p90/p99,
 * two-sample KS, ±10% TOST: metrics/ks.ts, metrics/tost.ts), and the --tolerance checks.
 */
import { parseDecimal } from "../domain/decimal.js"
import { ksTwoSample } from "../metrics/ks.js"
import { distributionOfValues, type Distribution } from "../metrics/stats.js"
import type { Summary } from "../metrics/Summary.js"
import { DEFAULT_ALPHA, momentsOf, tostWelch } from "../metrics/tost.js"
import type { MeasuredRun } from "./measured.js"
import type { SimSamples } from "./simSamples.js"

export interface MetricRow {
  readonly measured: number
  readonly simulated: number
  readonly diff_pct: number
}

export const diffPct = (sim: number, meas: number): number => (meas === 0 ? (sim === 0 ? 0 : Infinity) : (sim - meas) / meas * 100)

const STATS = ["mean", "median", "p90", "p95", "p99"] as const
export type Family = "ttft" | "tpot" | "itl" | "e2el"
export const FAMILY_LABEL: Record<Family, string> = { ttft: "TTFT", tpot: "TPOT", itl: "ITL", e2el: "E2E" }
export const THROUGHPUT_ROWS = ["request_throughput", "output_throughput", "total_token_throughput"] as const

/** The distributions both sides have: measured and simulated values (ms) per family. */
export const pairedSamples = (run: MeasuredRun, sim: SimSamples): Array<[Family, Float64Array, Float64Array]> => {
  const out: Array<[Family, Float64Array, Float64Array]> = [["ttft", run.samples.ttft, sim.ttft.values()], ["tpot", run.samples.tpot, sim.tpot.values()]]
  if (run.samples.itl !== undefined && sim.itl !== undefined) out.push(["itl", run.samples.itl, sim.itl.values()])
  out.push(["e2el", run.samples.e2el, sim.e2el.values()])
  return out
}

/**
 * `{metric: {measured, simulated, diff_pct}}` with keys like mean_ttft_ms, p99_itl_ms,
 * num_gpu_blocks, duration_s, request_throughput (req/s), output_throughput and
 * total_token_throughput (tokens/s).
 */
export const compareRun = (run: MeasuredRun, sim: SimSamples, s: Summary, simBlocks: number, measuredBlocks: number | undefined): Record<string, MetricRow> => {
  const out: Record<string, MetricRow> = {}
  for (const [fam, meas, simulated] of pairedSamples(run, sim)) {
    const m: Distribution = distributionOfValues(meas)
    const d: Distribution = distributionOfValues(simulated)
    for (const st of STATS) out[`${st}_${fam}_ms`] = { measured: m[st], simulated: d[st], diff_pct: diffPct(d[st], m[st]) }
  }
  if (measuredBlocks !== undefined) out["num_gpu_blocks"] = { measured: measuredBlocks, simulated: simBlocks, diff_pct: diffPct(simBlocks, measuredBlocks) }
  const row = (measured: number, simulated: number): MetricRow => ({ measured, simulated, diff_pct: diffPct(simulated, measured) })
  const per = (x: number) => (run.durationS > 0 ? x / run.durationS : 0)
  out["duration_s"] = row(run.durationS, s.duration)
  out["request_throughput"] = row(per(run.requests), s.request_throughput)
  out["output_throughput"] = row(per(run.totalOutput), s.output_throughput)
  out["total_token_throughput"] = row(per(run.totalInput + run.totalOutput), s.total_token_throughput)
  return out
}

/** One distribution's accuracy, as validation.json writes it. */
export interface DistributionAccuracy {
  readonly n_measured: number
  readonly n_simulated: number
  /** % error (simulated vs measured) of the mean, median, p90 and p99. */
  readonly diff_pct: { readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number }
  /** Two-sample Kolmogorov–Smirnov: D = sup |F_meas - F_sim| and its asymptotic p-value. */
  readonly ks: { readonly d: number; readonly p_value: number }
  /** TOST equivalence of the means within ±margin of the measured mean (Welch t). */
  readonly tost: {
    readonly margin_pct: number
    readonly alpha: number
    readonly mean_diff_pct: number
    readonly p_value: number
    readonly p_lower: number
    readonly p_upper: number
    readonly df: number
    /** The 1 - 2 alpha (90%) confidence interval of the mean difference, % of the measured mean. */
    readonly ci_pct: readonly [number, number]
    readonly equivalent: boolean
  }
}

export const accuracyOf = (run: MeasuredRun, sim: SimSamples, margin: number, alpha: number = DEFAULT_ALPHA): Partial<Record<Family, DistributionAccuracy>> => {
  const out: Partial<Record<Family, DistributionAccuracy>> = {}
  for (const [fam, meas, simulated] of pairedSamples(run, sim)) {
    const m = distributionOfValues(meas)
    const d = distributionOfValues(simulated)
    const ks = ksTwoSample(meas, simulated)
    const t = tostWelch(momentsOf(meas), momentsOf(simulated), margin, alpha)
    out[fam] = {
      n_measured: meas.length,
      n_simulated: simulated.length,
      diff_pct: { mean: diffPct(d.mean, m.mean), p50: diffPct(d.median, m.median), p90: diffPct(d.p90, m.p90), p99: diffPct(d.p99, m.p99) },
      ks: { d: ks.d, p_value: ks.pValue },
      tost: {
        margin_pct: margin * 100,
        alpha,
        mean_diff_pct: t.relDiff * 100,
        p_value: t.p,
        p_lower: t.pLower,
        p_upper: t.pUpper,
        df: t.df,
        ci_pct: [t.ciRel[0] * 100, t.ciRel[1] * 100],
        equivalent: t.equivalent
      }
    }
  }
  return out
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(1)}%` : "n/a")
const pval = (x: number) => (Number.isNaN(x) ? "n/a" : x < 0.001 ? "<0.001" : x.toFixed(3))

/** The accuracy table: one row per distribution. */
export const formatAccuracy = (acc: Partial<Record<Family, DistributionAccuracy>>, margin: number, alpha: number = DEFAULT_ALPHA): string => {
  const m = `±${(margin * 100).toFixed(0)}%`
  const head = `${"Metric".padEnd(8)}${"n meas/sim".padStart(16)}${"mean".padStart(9)}${"p50".padStart(9)}${"p90".padStart(9)}${"p99".padStart(9)}` +
    `${"KS D".padStart(8)}${"KS p".padStart(8)}${"TOST p".padStart(9)}  ${`${m} equiv.`}`
  const lines = [head, "-".repeat(head.length)]
  for (const [fam, a] of Object.entries(acc) as Array<[Family, DistributionAccuracy]>) {
    lines.push(`${FAMILY_LABEL[fam].padEnd(8)}${`${a.n_measured}/${a.n_simulated}`.padStart(16)}${pct(a.diff_pct.mean).padStart(9)}${pct(a.diff_pct.p50).padStart(9)}` +
      `${pct(a.diff_pct.p90).padStart(9)}${pct(a.diff_pct.p99).padStart(9)}${(Number.isNaN(a.ks.d) ? "n/a" : a.ks.d.toFixed(3)).padStart(8)}${pval(a.ks.p_value).padStart(8)}` +
      `${pval(a.tost.p_value).padStart(9)}  ${Number.isNaN(a.tost.p_value) ? "n/a" : a.tost.equivalent ? "yes" : "no"}`)
  }
  lines.push("")
  lines.push(`KS: D = the largest gap between the two CDFs; p < ${alpha} says the distributions differ.`)
  lines.push(`TOST: p < ${alpha} says the simulated mean is within ${m} of the measured mean (equivalent).`)
  return lines.join("\n")
}

/**
 * Parse `--tolerance`: a bound on |diff_pct| of the rows. `PCT` (every latency statistic and the KV
 * blocks) or comma-separated `metric=PCT` where a key is a family (ttft, tpot, itl, e2el; e2e is
 * accepted; `throughput` for the three throughput rows), an exact row name, or "default"; PCT >= 0.
 * Rows without a bound are reported but not checked; duration_s and the throughputs are checked only
 * when named (by name or `throughput`). Returns the bounds or a reason string.
 */
export const parseTolerance = (s: string): Map<string, number> | string => {
  const m = new Map<string, number>()
  const parts = s.split(",").map((x) => x.trim())
  if (parts.length > 1 && parts.some((x) => x === "")) return `empty entry in ${JSON.stringify(s)}`
  for (const part of parts) {
    const eq = part.indexOf("=")
    const key = eq < 0 ? "default" : part.slice(0, eq).trim().replace(/^e2e$/, "e2el")
    const raw = (eq < 0 ? part : part.slice(eq + 1)).trim()
    if (key === "") return `expected metric=PCT (got ${JSON.stringify(part)})`
    const v = parseDecimal(raw)
    if (!(v !== undefined && v >= 0)) return `expected PCT or metric=PCT,... with PCT >= 0 (got ${JSON.stringify(part)})`
    if (m.has(key)) return `${key === "default" ? "a default bound" : key} given twice`
    m.set(key, v)
  }
  return m.size === 0 ? "expected a percentage" : m
}

export const boundFor = (tol: Map<string, number>, metric: string): number | undefined => {
  if (tol.has(metric)) return tol.get(metric)
  const fam = /_(ttft|tpot|itl|e2el)_ms$/.exec(metric)?.[1]
  if (fam !== undefined && tol.has(fam)) return tol.get(fam)
  if ((THROUGHPUT_ROWS as ReadonlyArray<string>).includes(metric)) return tol.get("throughput")
  if (metric === "duration_s") return undefined
  return tol.get("default")
}

export const formatComparison = (rows: Record<string, MetricRow>, tol: Map<string, number> | undefined): string => {
  const lines: Array<string> = []
  lines.push(`${"Metric".padEnd(22)}${"measured".padStart(12)}${"simulated".padStart(12)}${"diff%".padStart(9)}${tol === undefined ? "" : "   bound"}`)
  lines.push("-".repeat(tol === undefined ? 55 : 66))
  let fam = ""
  for (const [k, r] of Object.entries(rows)) {
    const f = k.endsWith("_throughput") || k === "duration_s" ? "run" : k.split("_")[1] ?? k
    if (f !== fam && fam !== "") lines.push("")
    fam = f
    const dec = k === "num_gpu_blocks" ? 0 : k.endsWith("_throughput") || k === "duration_s" ? 2 : 1
    const b = tol === undefined ? undefined : boundFor(tol, k)
    const flag = b === undefined ? "" : Math.abs(r.diff_pct) <= b ? `   ±${b}% ok` : `   ±${b}% FAIL`
    const sign = r.diff_pct >= 0 ? "+" : ""
    lines.push(`${k.padEnd(22)}${r.measured.toFixed(dec).padStart(12)}${r.simulated.toFixed(dec).padStart(12)}${(sign + r.diff_pct.toFixed(1) + "%").padStart(9)}${flag}`)
  }
  return lines.join("\n")
}

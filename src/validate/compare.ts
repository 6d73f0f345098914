/** Simulated vs measured metrics of a validation run, and tolerance checks. */
import type { Summary } from "../metrics/Summary.js"
import type { BenchRun } from "./bench.js"

export interface MetricRow {
  readonly measured: number
  readonly simulated: number
  readonly diff_pct: number
}

export const diffPct = (sim: number, meas: number): number => (meas === 0 ? (sim === 0 ? 0 : Infinity) : (sim - meas) / meas * 100)

const STATS = [["mean", "mean"], ["median", "median"], ["p90", "p90"], ["p95", "p95"], ["p99", "p99"]] as const
const FAMILIES = [["ttft", "ttft", "e2el"], ["tpot", "tpot", "tpot"], ["e2el", "e2e", "e2el"]] as const

/** `{metric: {measured, simulated, diff_pct}}` with keys like mean_ttft_ms, p99_tpot_ms, num_gpu_blocks. */
export const compareRun = (run: BenchRun, s: Summary, simBlocks: number, measuredBlocks: number | undefined): Record<string, MetricRow> => {
  const out: Record<string, MetricRow> = {}
  const sv = s as unknown as Record<string, number>
  for (const [fam, runKey] of FAMILIES) {
    for (const [st, runSt] of STATS) {
      const key = `${st}_${fam}_ms`
      const measured = run[runKey][runSt]
      const simulated = sv[key]!
      out[key] = { measured, simulated, diff_pct: diffPct(simulated, measured) }
    }
  }
  if (measuredBlocks !== undefined) out["num_gpu_blocks"] = { measured: measuredBlocks, simulated: simBlocks, diff_pct: diffPct(simBlocks, measuredBlocks) }
  out["duration_s"] = { measured: run.durationS, simulated: s.duration, diff_pct: diffPct(s.duration, run.durationS) }
  return out
}

/**
 * Tolerances: "5" (every metric), or "ttft=5,tpot=3,e2el=3,num_gpu_blocks=2" where a key is a
 * metric family (ttft, tpot, e2el; e2e is accepted), an exact metric name, or "default".
 * Metrics without a bound are reported but not checked; duration_s is checked only when named.
 */
/**
 * Parse `--tolerance`: `PCT` (every metric) or comma-separated `metric=PCT` (a family ttft, tpot,
 * e2el, or an exact metric name); PCT >= 0. Returns the bounds or a reason string.
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
    const v = Number(raw)
    if (raw === "" || !(Number.isFinite(v) && v >= 0)) return `expected PCT or metric=PCT,... with PCT >= 0 (got ${JSON.stringify(part)})`
    if (m.has(key)) return `${key === "default" ? "a default bound" : key} given twice`
    m.set(key, v)
  }
  return m.size === 0 ? "expected a percentage" : m
}

export const boundFor = (tol: Map<string, number>, metric: string): number | undefined => {
  if (tol.has(metric)) return tol.get(metric)
  const fam = /_(ttft|tpot|e2el)_ms$/.exec(metric)?.[1]
  if (fam !== undefined && tol.has(fam)) return tol.get(fam)
  if (metric === "duration_s") return undefined
  return tol.get("default")
}

export const formatComparison = (rows: Record<string, MetricRow>, tol: Map<string, number> | undefined): string => {
  const lines: Array<string> = []
  lines.push(`${"Metric".padEnd(22)}${"measured".padStart(12)}${"simulated".padStart(12)}${"diff%".padStart(9)}${tol === undefined ? "" : "   bound"}`)
  lines.push("-".repeat(tol === undefined ? 55 : 66))
  let fam = ""
  for (const [k, r] of Object.entries(rows)) {
    const f = k.split("_")[1] ?? k
    if (f !== fam && fam !== "") lines.push("")
    fam = f
    const dec = k === "num_gpu_blocks" ? 0 : 1
    const b = tol === undefined ? undefined : boundFor(tol, k)
    const flag = b === undefined ? "" : Math.abs(r.diff_pct) <= b ? `   ±${b}% ok` : `   ±${b}% FAIL`
    const sign = r.diff_pct >= 0 ? "+" : ""
    lines.push(`${k.padEnd(22)}${r.measured.toFixed(dec).padStart(12)}${r.simulated.toFixed(dec).padStart(12)}${(sign + r.diff_pct.toFixed(1) + "%").padStart(9)}${flag}`)
  }
  return lines.join("\n")
}

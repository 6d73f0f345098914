/**
 * The console block of `simulate --sensitivity`: per metric the main run's value and, for the run
 * with the step time x(1 - PCT/100) and x(1 + PCT/100), its value and how far it moved (absolute
 * and %), then the verdict (its reason says whether the configuration is near saturation).
 */
import { formatFactor } from "../metrics/saturation.js"
import type { SensitivityReport, SensitivityRun } from "./sensitivity.js"

const WIDTH = 80

const center = (s: string, n: number, c: string) => {
  const pad = Math.max(0, n - s.length)
  const left = Math.floor(pad / 2)
  return c.repeat(left) + s + c.repeat(pad - left)
}

const ROWS: ReadonlyArray<readonly [label: string, key: keyof SensitivityRun]> = [
  ["Mean TTFT (ms)", "mean_ttft_ms"],
  ["P99 TTFT (ms)", "p99_ttft_ms"],
  ["Mean TPOT (ms)", "mean_tpot_ms"],
  ["P99 TPOT (ms)", "p99_tpot_ms"],
  ["Mean E2EL (ms)", "mean_e2el_ms"],
  ["P99 E2EL (ms)", "p99_e2el_ms"],
  ["Output throughput (tok/s)", "output_throughput"],
  ["Request throughput (req/s)", "request_throughput"]
]

const sign = (x: number, digits: number) => (x >= 0 ? "+" : "") + x.toFixed(digits)

/** `value (change, change%)` of `x` against the nominal `base`. */
const moved = (x: number, base: number): string => {
  const pct = base === 0 ? (x === 0 ? "+0.0%" : "n/a") : `${sign(100 * (x - base) / base, 1)}%`
  return `${x.toFixed(2)} (${sign(x - base, 2)}, ${pct})`
}


/** The sensitivity block for the console (several lines, no trailing newline). */
export const formatSensitivity = (r: SensitivityReport): string => {
  const [lo, main, hi] = r.runs as readonly [SensitivityRun, SensitivityRun, SensitivityRun]
  const cells = ROWS.map(([label, key]) => {
    const v = (run: SensitivityRun) => run[key] as number
    return [label, v(main).toFixed(2), moved(v(lo), v(main)), moved(v(hi), v(main))]
  })
  const header = ["step time", formatFactor(main.scale), formatFactor(lo.scale), formatFactor(hi.scale)]
  const width = header.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j]!.length)))
  const fmt = (c: ReadonlyArray<string>) => c.map((x, j) => (j === 0 ? x.padEnd(width[j]!) : x.padStart(width[j]!))).join("  ")
  const out = [center(` Sensitivity: step time -${r.pct}% / +${r.pct}% `, WIDTH, "-"), fmt(header), ...cells.map(fmt)]
  out.push(`Verdict: ${r.reason}`)
  out.push("=".repeat(WIDTH))
  return out.join("\n")
}

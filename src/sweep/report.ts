/** Sweep results as CSV (one row per configuration) and as a console table. */
import { RESULT_COLUMNS, type SweepRow } from "./job.js"

/** A result cell: empty for a value that is not a finite number (a rate per user with no TPOT), never "Infinity" or "NaN". */
const num = (x: number) => (!Number.isFinite(x) ? "" : Number.isInteger(x) ? String(x) : x.toFixed(3))

const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/** The CSV header line (no newline): index, the axes, the result columns, error. */
export const sweepCsvHeader = (axes: ReadonlyArray<string>): string => ["index", ...axes, ...RESULT_COLUMNS, "error"].join(",")

/** One configuration's CSV line (no newline); a failed configuration's result cells are empty, not 0. */
export const sweepCsvLine = (axes: ReadonlyArray<string>, r: SweepRow): string =>
  [String(r.index), ...axes.map((a) => quote(r.point[a] ?? "")), ...RESULT_COLUMNS.map((c) => (r.error !== null ? "" : num(r[c]))), quote(r.error ?? "")].join(",")

/** The whole CSV: the header and one line per row, in the order given. */
export const sweepCsv = (axes: ReadonlyArray<string>, rows: ReadonlyArray<SweepRow>): string =>
  [sweepCsvHeader(axes), ...rows.map((r) => sweepCsvLine(axes, r))].join("\n") + "\n"

const TABLE: ReadonlyArray<[string, keyof SweepRow]> = [
  ["done", "completed"], ["req/s", "request_throughput"], ["tok/s", "output_throughput"], ["TTFT ms", "mean_ttft_ms"],
  ["p99 TTFT", "p99_ttft_ms"], ["TPOT ms", "mean_tpot_ms"], ["E2E ms", "mean_e2el_ms"], ["preempt", "num_preemptions"], ["hit %", "prefix_cache_hit_rate"]
]

/** The console table: the axes, then the headline metrics (or the error) of each row. */
export const sweepTable = (axes: ReadonlyArray<string>, rows: ReadonlyArray<SweepRow>): string => {
  const head = [...axes, ...TABLE.map(([h]) => h)]
  const body = rows.map((r) => [
    ...axes.map((a) => r.point[a] ?? ""),
    ...(r.error !== null ? [`error: ${r.error}`] : TABLE.map(([, k]) => {
      const v = (k === "prefix_cache_hit_rate" ? 100 : 1) * (r[k] as number)
      return Number.isInteger(v) ? String(v) : v.toFixed(2)
    }))
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i < b.length && !(b[i] ?? "").startsWith("error") ? (b[i] ?? "").length : 0))))
  const fmt = (cells: ReadonlyArray<string>) => cells.map((c, i) => (i < widths.length && !c.startsWith("error") ? c.padStart(widths[i]!) : c)).join("  ")
  return [fmt(head), ...body.map(fmt)].join("\n")
}

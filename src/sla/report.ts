/** SLA search output: a line per probe, the ranked table, and both as CSV. */
import type { SweepJob } from "../sweep/grid.js"
import type { SweepRow } from "../sweep/job.js"
import type { Probe } from "./search.js"
import type { SlaRow } from "./rank.js"

// a NaN metric comes back from a worker process as null (JSON IPC): both print NaN
const num = (x: number | null | undefined): string =>
  x === undefined ? "" : typeof x !== "number" ? "NaN" : Number.isInteger(x) ? String(x) : Number.isFinite(x) ? x.toFixed(3) : String(x)
const short = (x: number | null | undefined): string =>
  x === undefined ? "-" : typeof x !== "number" ? "NaN" : Number.isInteger(x) ? String(x) : Number.isFinite(x) ? x.toFixed(2) : String(x)
const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
const pointText = (axes: ReadonlyArray<string>, point: Readonly<Record<string, string>>) => axes.map((a) => `${a}=${point[a] ?? ""}`).join(" ")

/** One probe as a console line: the configuration, the value, pass/fail, the constraint metrics. */
export const probeLine = (
  axes: ReadonlyArray<string>, variable: string, metrics: ReadonlyArray<string>, config: SweepJob, p: Probe<SweepRow>
): string => {
  const m = metrics.map((k) => `${k}=${short(p.result.metrics?.[k])}`).join(" ")
  return `probe [${pointText(axes, config.point) || "base"}] ${variable}=${short(p.value)}: ${p.pass ? "pass" : "FAIL"}` +
    (p.result.error === null ? ` ${m}` : "") + (p.pass ? "" : ` (${p.why})`)
}

/** The probes CSV header (no newline). */
export const probesCsvHeader = (axes: ReadonlyArray<string>, variable: string, metrics: ReadonlyArray<string>): string =>
  ["config", ...axes, variable, "pass", ...metrics, "output_throughput", "num_gpus", "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user", "why"].join(",")

/** One probe's CSV line (no newline). */
export const probesCsvLine = (axes: ReadonlyArray<string>, metrics: ReadonlyArray<string>, config: SweepJob, p: Probe<SweepRow>): string =>
  [String(config.index), ...axes.map((a) => quote(config.point[a] ?? "")), num(p.value), String(p.pass),
    ...metrics.map((k) => num(p.result.metrics?.[k])), num(p.result.output_throughput), num(p.result.num_gpus),
    num(p.result.output_tokens_per_s_per_gpu), num(p.result.output_tokens_per_s_per_user), quote(p.why)].join(",")

/** The ranked CSV: one row per configuration, best first. */
export const slaCsv = (axes: ReadonlyArray<string>, variable: string, metrics: ReadonlyArray<string>, rows: ReadonlyArray<SlaRow>): string => {
  const head = ["rank", "config", ...axes, "outcome", variable, `${variable}_per_gpu`, `failed_at_${variable}`, "probes", "num_gpus",
    ...metrics, "output_throughput", "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user", "cost_per_million_output_tokens", "pareto", "error"]
  const lines = rows.map((r) => [num(r.rank), String(r.index), ...axes.map((a) => quote(r.point[a] ?? "")), r.outcome, num(r.found), num(r.found_per_gpu),
    num(r.failed_at), String(r.probes), String(r.num_gpus), ...metrics.map((k) => num(r.at?.metrics?.[k])), num(r.at?.output_throughput),
    num(r.at?.output_tokens_per_s_per_gpu), num(r.at?.output_tokens_per_s_per_user), num(r.cost_per_million_output_tokens), String(r.pareto),
    quote(r.error ?? "")].join(","))
  return [head.join(","), ...lines].join("\n") + "\n"
}

const OUTCOME: Record<SlaRow["outcome"], string> = { found: "", infeasible: "fails at the lowest probe", "at-max": "meets the SLA at the maximum", error: "error" }

/** The ranked console table. */
export const slaTable = (
  axes: ReadonlyArray<string>, variable: string, metrics: ReadonlyArray<string>, rows: ReadonlyArray<SlaRow>, withCost: boolean
): string => {
  const head = ["rank", ...axes, variable, "per GPU", "GPUs", ...metrics, "tok/s", "tok/s/GPU", "tok/s/user", ...(withCost ? ["$/Mtok"] : []), "pareto", "note"]
  const body = rows.map((r) => [
    r.rank === undefined ? "-" : String(r.rank), ...axes.map((a) => r.point[a] ?? ""),
    ...(r.outcome === "at-max" ? [`>=${short(r.found)}`, `>=${short(r.found_per_gpu)}`] : [short(r.found), short(r.found_per_gpu)]), String(r.num_gpus),
    ...metrics.map((k) => short(r.at?.metrics?.[k])), short(r.at?.output_throughput), short(r.at?.output_tokens_per_s_per_gpu),
    short(r.at?.output_tokens_per_s_per_user), ...(withCost ? [short(r.cost_per_million_output_tokens)] : []), r.pareto ? "yes" : "",
    r.outcome === "error" ? `error: ${r.error ?? ""}` : r.outcome === "infeasible" ? `${OUTCOME.infeasible} (${variable}=${short(r.failed_at)})` : OUTCOME[r.outcome]
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)))
  const fmt = (cells: ReadonlyArray<string>) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(widths[i]!))).join("  ").trimEnd()
  return [fmt(head), ...body.map(fmt)].join("\n")
}

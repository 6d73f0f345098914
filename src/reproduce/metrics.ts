/**
 * Published metric names to the simulator's summary keys: `median_ttft` -> `median_ttft_ms`,
 * `mean_tpot`, `p90_itl`, `median_e2e_latency` / `median_latency` -> `median_e2el_ms` (and the
 * other statistics likewise), `request_throughput` (req/s), `output_token_throughput` (tok/s) ->
 * `output_throughput`, `total_token_throughput`, `input_token_throughput` -> `input_throughput`
 * (computed from the summary's totals). A parenthetical after the name (`output_token_throughput
 * (computed: total output / makespan)`) is a note and is dropped.
 */

/** What a metric measures, for the medians per family. */
export type MetricFamily = "TTFT" | "TPOT" | "ITL" | "E2E" | "throughput"

/** The families in report order. */
export const FAMILIES: ReadonlyArray<MetricFamily> = ["TTFT", "TPOT", "ITL", "E2E", "throughput"]

/** A published metric as the simulator reports it. `scale` converts the published unit to the summary's. */
export interface MetricMapping {
  /** Summary key (`median_ttft_ms`, `output_throughput`, ...). */
  readonly key: string
  readonly family: MetricFamily
  /** Multiply the published value by this to get the summary's unit (e.g. 1000 for seconds -> ms). */
  readonly scale: number
}

const STATS: Record<string, string> = { mean: "mean", median: "median", p50: "median", std: "std", p90: "p90", p95: "p95", p99: "p99" }
const LATENCIES: Record<string, [string, MetricFamily]> = {
  ttft: ["ttft", "TTFT"],
  tpot: ["tpot", "TPOT"],
  itl: ["itl", "ITL"],
  e2e_latency: ["e2el", "E2E"],
  e2el: ["e2el", "E2E"],
  e2e: ["e2el", "E2E"],
  latency: ["e2el", "E2E"]
}
const THROUGHPUTS: Record<string, [string, string]> = {
  request_throughput: ["request_throughput", "req/s"],
  output_token_throughput: ["output_throughput", "tok/s"],
  output_throughput: ["output_throughput", "tok/s"],
  total_token_throughput: ["total_token_throughput", "tok/s"],
  input_token_throughput: ["input_throughput", "tok/s"],
  input_throughput: ["input_throughput", "tok/s"]
}

/**
 * The summary key, family and unit scale of a published metric in `unit`, or a reason it cannot be
 * compared (an unknown metric, or a unit that does not fit it).
 */
export const mapMetric = (metric: string, unit: string): MetricMapping | { readonly error: string } => {
  const name = metric.replace(/\(.*\)\s*$/, "").trim().toLowerCase()
  const u = unit.trim().toLowerCase()
  const tp = THROUGHPUTS[name]
  if (tp !== undefined) {
    if (u !== tp[1]) return { error: `metric ${metric} in ${unit}: expected ${tp[1]}` }
    return { key: tp[0], family: "throughput", scale: 1 }
  }
  const m = /^([a-z0-9]+)_(.+)$/.exec(name)
  const stat = m === null ? undefined : STATS[m[1]!]
  const lat = m === null ? undefined : LATENCIES[m[2]!]
  if (stat === undefined || lat === undefined) {
    return { error: `metric ${metric}: not one the simulator reports (mean|median|p90|p95|p99|std of ttft, tpot, itl, e2e_latency; request_throughput, output_token_throughput, total_token_throughput)` }
  }
  const scale = u === "ms" ? 1 : u === "s" ? 1000 : u === "us" ? 1e-3 : undefined
  if (scale === undefined) return { error: `metric ${metric} in ${unit}: expected ms, s or us` }
  return { key: `${stat}_${lat[0]}_ms`, family: lat[1], scale }
}

/** The value of summary key `key` (`input_throughput` derived from the totals), or undefined. */
export const summaryValue = (summary: Record<string, unknown>, key: string): number | undefined => {
  if (key === "input_throughput") {
    const d = summary["duration"]
    const n = summary["total_input_tokens"]
    return typeof d === "number" && typeof n === "number" && d > 0 ? n / d : undefined
  }
  const v = summary[key]
  return typeof v === "number" && Number.isFinite(v) ? v : undefined
}

/** Signed % error of `predicted` against `published` (undefined when published is 0). */
export const errorPct = (published: number, predicted: number): number | undefined =>
  published === 0 ? undefined : (100 * (predicted - published)) / published

/** Median of `xs` (undefined when empty). */
export const median = (xs: ReadonlyArray<number>): number | undefined => {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const h = s.length >> 1
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2
}

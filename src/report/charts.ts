/**
 * The report's figures as Vega-Lite specifications (rendered to SVG by render.ts): latency CDFs
 * from requests.csv, the run over time from timeseries.csv, the per-instance breakdown, and a
 * sweep's Pareto front. Each builder returns undefined when the inputs hold nothing to draw, with
 * the reason in the report's notes.
 */
import type { TopLevelSpec } from "vega-lite"
import { paretoFront } from "../metrics/pareto.js"
import { cdfPoints, sortedFinite } from "./cdf.js"
import type { RunData, SweepData } from "./load.js"

/** One figure of the report: `id` is its file name under --plots, `note` a caption under it. */
export interface Chart {
  readonly id: string
  readonly title: string
  readonly note?: string
  readonly spec: TopLevelSpec
}

const WIDTH = 520
const HEIGHT = 260
const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

const base = { $schema: SCHEMA, width: WIDTH, height: HEIGHT, background: "white", config: { legend: { orient: "bottom", columns: 2, labelLimit: 360 } } } as const

/** The latency metrics drawn as CDFs: requests.csv column, axis title, summary.json stem. */
const CDF_METRICS = [
  { id: "ttft", column: "ttft_ms", title: "TTFT (ms)", stem: "ttft" },
  { id: "tpot", column: "tpot_ms", title: "TPOT (ms)", stem: "tpot" },
  { id: "itl", column: "tpot_ms", title: "ITL (ms)", stem: "itl" },
  { id: "e2e", column: "e2e_ms", title: "E2E latency (ms)", stem: "e2el" }
] as const

/** The text under the ITL chart: how ITL is approximated from the outputs. */
export const ITL_NOTE =
  "requests.csv holds no per-token samples, so the line is the CDF of each request's mean inter-token latency " +
  "(its TPOT, one sample per request); the diamonds are the exact ITL percentiles over every token gap " +
  "(summary.json median/p90/p99_itl_ms)."

const finiteNumber = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

/**
 * The CDF of TTFT, TPOT, ITL and E2E latency of the finished requests, one line per run. The ITL
 * chart uses TPOT per request (see ITL_NOTE) with the summary's exact ITL percentiles as points.
 */
export const cdfCharts = (runs: ReadonlyArray<RunData>): Array<Chart> => {
  const withRequests = runs.filter((r) => r.requests !== undefined && r.requests.length > 0)
  if (withRequests.length === 0) return []
  return CDF_METRICS.map((m) => {
    const values = withRequests.flatMap((r) => {
      const sorted = sortedFinite(r.requests!.filter((q) => q.status === "finished").map((q) => q[m.column]))
      return cdfPoints(sorted).map((p) => ({ run: r.label, value: p.value, p: p.p }))
    })
    const marks = m.id !== "itl" ? [] : withRequests.flatMap((r) =>
      ([["median", 0.5], ["p90", 0.9], ["p99", 0.99]] as const).flatMap(([k, p]) => {
        const v = finiteNumber(r.summary[`${k}_itl_ms`])
        return v === undefined ? [] : [{ run: r.label, value: v, p, which: `${k} (exact)` }]
      }))
    const x = { field: "value", type: "quantitative", title: m.title, scale: { zero: false } } as const
    const y = { field: "p", type: "quantitative" as const, title: "fraction of requests ≤ x", scale: { domain: [0, 1] } }
    const color = { field: "run", type: "nominal", title: "run" } as const
    const line = { data: { values }, mark: { type: "line", interpolate: "step-after", strokeWidth: 1.8 }, encoding: { x, y, color } } as const
    // the ITL figure says in itself how it is approximated (it also travels alone under --plots)
    const title = m.id !== "itl" ? {} : {
      title: {
        text: "ITL (approximated)",
        subtitle: [
          "line: each request's mean inter-token latency (its TPOT);",
          "requests.csv has no per-token samples",
          ...(marks.length === 0 ? [] : ["diamonds: exact ITL median/p90/p99 (summary.json)"])
        ],
        fontSize: 12,
        subtitleFontSize: 10
      }
    }
    const spec: TopLevelSpec = marks.length === 0
      ? { ...base, ...title, ...line }
      : { ...base, ...title, layer: [line, { data: { values: marks }, mark: { type: "point", shape: "diamond", filled: true, size: 70 }, encoding: { x, y, color } }] }
    return { id: `cdf-${m.id}`, title: `${m.id === "e2e" ? "E2E latency" : m.id.toUpperCase()} CDF`, ...(m.id === "itl" ? { note: ITL_NOTE } : {}), spec }
  })
}

/** Per run and bucket end `t`: the sum (or mean) over instances of `pick`. */
const overInstances = (run: RunData, pick: (r: NonNullable<RunData["timeseries"]>[number]) => number, how: "sum" | "mean", k: number) => {
  const acc = new Map<number, { s: number; n: number }>()
  for (const row of run.timeseries ?? []) {
    const v = pick(row)
    if (!Number.isFinite(v) || !Number.isFinite(row.t)) continue
    const a = acc.get(row.t) ?? { s: 0, n: 0 }
    a.s += v
    a.n += 1
    acc.set(row.t, a)
  }
  const points = [...acc.entries()].sort(([a], [b]) => a - b).map(([t, a]) => ({ t, value: how === "sum" ? a.s : a.s / a.n }))
  return coarsen(points, k)
}

/** Most points a line over time keeps: longer series are averaged over windows of buckets. */
export const MAX_TIME_POINTS = 400

/** How many consecutive buckets one plotted point averages (1: the series as written). */
export const windowOf = (n: number): number => Math.max(1, Math.ceil(n / MAX_TIME_POINTS))

/** `points` averaged over windows of `k` consecutive buckets, each at its last bucket's `t`. */
export const coarsen = (points: ReadonlyArray<{ readonly t: number; readonly value: number }>, k: number) => {
  if (k <= 1) return [...points]
  const out: Array<{ t: number; value: number }> = []
  for (let i = 0; i < points.length; i += k) {
    const w = points.slice(i, i + k)
    out.push({ t: w[w.length - 1]!.t, value: w.reduce((s, p) => s + p.value, 0) / w.length })
  }
  return out
}

const instancesOf = (run: RunData) => new Set((run.timeseries ?? []).map((r) => r.instance)).size

const timeChart = (
  id: string,
  title: string,
  yTitle: string,
  runs: ReadonlyArray<RunData>,
  series: ReadonlyArray<{ readonly name: string; readonly pick: (r: NonNullable<RunData["timeseries"]>[number]) => number; readonly how: "sum" | "mean" }>,
  note: string | undefined,
  k: number
): Chart => {
  const values = runs.flatMap((run) =>
    series.flatMap((s) => overInstances(run, s.pick, s.how, k).map((p) => ({ ...p, series: runs.length > 1 ? `${run.label} · ${s.name}` : s.name }))))
  return {
    id,
    title,
    ...(note === undefined ? {} : { note }),
    spec: {
      ...base,
      data: { values },
      mark: { type: "line", strokeWidth: 1.4 },
      encoding: {
        x: { field: "t", type: "quantitative", title: "simulated time (s, bucket end)" },
        y: { field: "value", type: "quantitative", title: yTitle },
        color: { field: "series", type: "nominal", title: null }
      }
    }
  }
}

/** Throughput, running/waiting and KV-cache use over simulated time (timeseries.csv). */
export const timeCharts = (runs: ReadonlyArray<RunData>): Array<Chart> => {
  const withTs = runs.filter((r) => r.timeseries !== undefined && r.timeseries.length > 0)
  if (withTs.length === 0) return []
  const multi = withTs.some((r) => instancesOf(r) > 1)
  const k = Math.max(...withTs.map((r) => windowOf(new Set(r.timeseries!.map((x) => x.t)).size)))
  const averaged = k > 1 ? `each point the mean of ${k} consecutive timeseries buckets (at most ${MAX_TIME_POINTS} points a line)` : undefined
  const join = (...xs: ReadonlyArray<string | undefined>) => {
    const s = xs.filter((x): x is string => x !== undefined).join("; ")
    return s === "" ? undefined : s
  }
  return [
    timeChart("throughput", "Throughput over time", "tokens/s", withTs, [
      { name: "generation tokens/s", pick: (r) => r.gen_throughput, how: "sum" },
      { name: "prompt tokens/s", pick: (r) => r.prompt_throughput, how: "sum" }
    ], join(multi ? "summed over instances" : undefined, averaged), k),
    timeChart("running-waiting", "Running and waiting requests", "requests (time-weighted mean per bucket)", withTs, [
      { name: "running", pick: (r) => r.running, how: "sum" },
      { name: "waiting", pick: (r) => r.waiting, how: "sum" }
    ], join(multi ? "summed over instances" : undefined, averaged), k),
    timeChart("kv-cache", "KV-cache use", "% of KV blocks in use", withTs, [{ name: "KV use %", pick: (r) => r.kv_cache_pct, how: "mean" }],
      join(multi ? "mean over instances" : undefined, averaged), k)
  ]
}

/** Completed requests and generation throughput per instance, when some run has several instances. */
export const instanceCharts = (runs: ReadonlyArray<RunData>): Array<Chart> => {
  const multi = runs.filter((r) => r.hasInstance && r.requests !== undefined && new Set(r.requests.map((q) => q.instance)).size > 1)
  if (multi.length === 0) return []
  const values = multi.flatMap((r) => {
    const n = new Map<number, number>()
    for (const q of r.requests!) if (q.status === "finished") n.set(q.instance, (n.get(q.instance) ?? 0) + 1)
    return [...n.entries()].sort(([a], [b]) => a - b).map(([instance, completed]) => ({ run: r.label, instance: String(instance), completed }))
  })
  const charts: Array<Chart> = [{
    id: "instances",
    title: "Completed requests per instance",
    spec: {
      ...base,
      data: { values },
      mark: "bar",
      encoding: {
        x: { field: "instance", type: "ordinal", title: "instance", sort: null },
        xOffset: { field: "run", type: "nominal" },
        y: { field: "completed", type: "quantitative", title: "completed requests" },
        color: { field: "run", type: "nominal", title: "run" }
      }
    }
  }]
  const ts = multi.filter((r) => instancesOf(r) > 1)
  if (ts.length > 0) {
    const k = Math.max(...ts.map((r) => windowOf(new Set(r.timeseries!.map((x) => x.t)).size)))
    const kv = ts.flatMap((r) => {
      const by = new Map<number, Array<{ t: number; value: number }>>()
      for (const x of r.timeseries ?? []) {
        if (!Number.isFinite(x.kv_cache_pct)) continue
        const l = by.get(x.instance) ?? []
        l.push({ t: x.t, value: x.kv_cache_pct })
        by.set(x.instance, l)
      }
      return [...by.entries()].sort(([a], [b]) => a - b).flatMap(([inst, pts]) =>
        coarsen(pts.sort((a, b) => a.t - b.t), k).map((p) => ({ ...p, series: ts.length > 1 ? `${r.label} · instance ${inst}` : `instance ${inst}` })))
    })
    charts.push({
      id: "instances-kv-cache",
      title: "KV-cache use per instance",
      ...(k > 1 ? { note: `each point the mean of ${k} consecutive timeseries buckets` } : {}),
      spec: {
        ...base,
        data: { values: kv },
        mark: { type: "line", strokeWidth: 1.2 },
        encoding: {
          x: { field: "t", type: "quantitative", title: "simulated time (s, bucket end)" },
          y: { field: "value", type: "quantitative", title: "% of KV blocks in use" },
          color: { field: "series", type: "nominal", title: null }
        }
      }
    })
  }
  return charts
}

/** The sweep columns the Pareto front is drawn over (vLLM `bench sweep plot_pareto`'s axes). */
export const PER_USER = "output_tokens_per_s_per_user"
export const PER_GPU = "output_tokens_per_s_per_gpu"

const PARALLEL_AXES = ["tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size", "num-instances"] as const

const cell = (row: Readonly<Record<string, string>>, c: string): number => {
  const v = row[c]
  return v === undefined || v === "" ? NaN : Number(v)
}

/** A sweep's points on the two Pareto axes, with how they were obtained (undefined: not computable). */
export const paretoPoints = (sweep: SweepData):
  | { readonly points: ReadonlyArray<{ readonly config: string; readonly x: number; readonly y: number }>; readonly how: string }
  | { readonly skipped: string } => {
  const cols = sweep.columns
  const results = new Set(["index", "completed", "error", PER_USER, PER_GPU])
  const firstResult = cols.indexOf("completed")
  const axes = cols.filter((c, i) => !results.has(c) && (firstResult < 0 ? false : i < firstResult))
  const notes: Array<string> = []
  let perUser: (r: Readonly<Record<string, string>>) => number
  if (cols.includes(PER_USER)) perUser = (r) => cell(r, PER_USER)
  else if (cols.includes("mean_tpot_ms")) {
    perUser = (r) => 1000 / cell(r, "mean_tpot_ms")
    notes.push(`${PER_USER} = 1000 / mean_tpot_ms (the sweep CSV has no ${PER_USER} column)`)
  } else return { skipped: `the sweep CSV has neither ${PER_USER} nor mean_tpot_ms, so the Pareto front is not drawn` }
  let perGpu: (r: Readonly<Record<string, string>>) => number
  if (cols.includes(PER_GPU)) perGpu = (r) => cell(r, PER_GPU)
  else if (!cols.includes("output_throughput")) return { skipped: `the sweep CSV has neither ${PER_GPU} nor output_throughput, so the Pareto front is not drawn` }
  else {
    const gpuCol = ["num_gpus", "gpus"].find((c) => cols.includes(c))
    const par = PARALLEL_AXES.filter((c) => cols.includes(c))
    if (gpuCol !== undefined) {
      perGpu = (r) => cell(r, "output_throughput") / cell(r, gpuCol)
      notes.push(`${PER_GPU} = output_throughput / ${gpuCol}`)
    } else if (par.length > 0) {
      perGpu = (r) => cell(r, "output_throughput") / par.reduce((g, c) => g * cell(r, c), 1)
      notes.push(`${PER_GPU} = output_throughput / (${par.join(" × ")}); parallelism not swept is taken as 1`)
    } else {
      return { skipped: `the sweep CSV has no ${PER_GPU} column and no GPU count (num_gpus, or a ${PARALLEL_AXES.join("/")} axis), so tokens/s per GPU cannot be computed and the Pareto front is not drawn` }
    }
  }
  const ok = sweep.rows.filter((r) => (r["error"] ?? "") === "")
  const points = ok.map((r) => ({
    config: axes.length === 0 ? `#${r["index"] ?? "?"}` : axes.map((a) => `${a}=${r[a] ?? ""}`).join(" "),
    x: perUser(r),
    y: perGpu(r)
  })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
  if (points.length === 0) return { skipped: "the sweep CSV has no successful row with both Pareto coordinates, so the Pareto front is not drawn" }
  return { points, how: notes.length === 0 ? "columns from the sweep CSV" : notes.join("; ") }
}

/**
 * The Pareto front of a sweep: every configuration as a point (tokens/s per user against tokens/s
 * per GPU), the front (src/metrics/pareto.ts) as a labelled line. `note` says how the axes were
 * obtained, or why the chart is not drawn (then `chart` is undefined).
 */
export const paretoChart = (sweep: SweepData, index: number): { readonly chart?: Chart; readonly note: string } => {
  const r = paretoPoints(sweep)
  if ("skipped" in r) return { note: `${sweep.label}: ${r.skipped}.` }
  const front = paretoFront(r.points, (p) => p.x, (p) => p.y)
  const onFront = new Set(front)
  const all = r.points.map((p) => ({ ...p, front: onFront.has(p) ? "on the front" : "dominated" }))
  const x = { field: "x", type: "quantitative", title: "output tokens/s per user", scale: { zero: false } } as const
  const y = { field: "y", type: "quantitative", title: "output tokens/s per GPU", scale: { zero: false } } as const
  const note = `${sweep.label}: ${r.points.length} configurations, ${front.length} on the front; ${r.how}.`
  return {
    note,
    chart: {
      id: `pareto-${index}`,
      title: `Pareto front: ${sweep.label}`,
      note,
      spec: {
        ...base,
        layer: [
          {
            data: { values: all },
            mark: { type: "point", filled: true, size: 50 },
            encoding: { x, y, color: { field: "front", type: "nominal", title: null, scale: { domain: ["on the front", "dominated"], range: ["#d62728", "#9e9e9e"] } } }
          },
          { data: { values: front }, mark: { type: "line", color: "#d62728", strokeWidth: 1.5 }, encoding: { x, y } },
          { data: { values: front }, mark: { type: "text", align: "left", dx: 6, dy: -6, fontSize: 9 }, encoding: { x, y, text: { field: "config" } } }
        ]
      }
    }
  }
}

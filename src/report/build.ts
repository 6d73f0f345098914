/**
 * `llmservingsim report` and `simulate --report`: load the runs and sweeps, build the figures,
 * render them to SVG and write one self-contained report.html; with `plots` also each figure alone
 * as an .svg or .png file in a `plots/` directory beside the report.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError } from "../domain/errors.js"
import { type Chart, cdfCharts, instanceCharts, paretoChart, timeCharts } from "./charts.js"
import { type Figure, instanceTable, reportHtml, summaryTables } from "./html.js"
import { labelsOf, loadInput, type RunData, type SweepData } from "./load.js"
import { prefixSvgIds, renderSvg, svgToPng } from "./render.js"

/** The image formats of `--plots`. */
export const PLOT_FORMATS = ["svg", "png"] as const
export type PlotFormat = (typeof PLOT_FORMATS)[number]

/** What buildReport wrote. */
export interface ReportResult {
  readonly file: string
  readonly bytes: number
  readonly charts: ReadonlyArray<string>
  readonly plots: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

const writeFile = (file: string, data: string | Uint8Array) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, data)
    },
    catch: (e) => new FileError({ path: file, reason: `cannot write: ${(e as Error).message}` })
  })

/** The notes on what a run's outputs lack (the charts left out). */
const runNotes = (r: RunData): Array<string> => [
  ...(r.requests === undefined ? [`${r.label}: no requests.csv or requests.parquet, so the latency CDFs and the per-instance table leave it out.`] : []),
  ...(r.timeseries === undefined ? [`${r.label}: no timeseries.csv or timeseries.parquet, so the charts over time leave it out.`] : []),
  ...(r.requests !== undefined && !r.hasInstance ? [`${r.label}: requests have no instance column, so there is no per-instance breakdown.`] : [])
]

/**
 * Build the report of `args` (run directories, sweep directories or sweep CSVs) into `output`.
 * Fails with FileError/InputError naming the path of a missing or malformed input or an unwritable
 * output.
 */
export const buildReport = (args: ReadonlyArray<string>, o: { readonly output: string; readonly plots?: PlotFormat }) =>
  Effect.gen(function*() {
    const labels = labelsOf(args)
    const inputs = yield* Effect.forEach(args, (a, i) => loadInput(a, labels[i]!))
    const runs = inputs.filter((x): x is RunData => x.kind === "run")
    const sweeps = inputs.filter((x): x is SweepData => x.kind === "sweep")
    const notes = runs.flatMap(runNotes)
    const pareto = sweeps.map((s, i) => paretoChart(s, i + 1))
    for (const p of pareto) if (p.chart === undefined) notes.push(p.note)
    const groups: ReadonlyArray<{ heading: string; charts: ReadonlyArray<Chart>; extra?: string }> = [
      { heading: "Latency CDFs", charts: cdfCharts(runs) },
      { heading: "Over time", charts: timeCharts(runs) },
      { heading: "Per instance", charts: instanceCharts(runs), ...(() => { const t = instanceTable(runs); return t === undefined ? {} : { extra: t } })() },
      { heading: "Sweep: Pareto front", charts: pareto.flatMap((p) => (p.chart === undefined ? [] : [p.chart])) }
    ]
    const rendered = yield* Effect.forEach(groups, (g) =>
      Effect.map(Effect.forEach(g.charts, (c) => Effect.map(renderSvg(c.spec), (svg) => ({ chart: c, svg }))), (figs) => ({ ...g, figs })))
    const sections = rendered.map((g) => ({
      heading: g.heading,
      figures: g.figs.map(({ chart, svg }): Figure => ({
        id: chart.id,
        title: chart.title,
        ...(chart.note === undefined ? {} : { note: chart.note }),
        svg: prefixSvgIds(svg, `${chart.id}-`)
      })),
      ...(g.extra === undefined ? {} : { extra: g.extra })
    }))
    const title = runs.length + sweeps.length === 1 ? `LLMServingSim report: ${labels[0]}` : `LLMServingSim report: ${labels.join(", ")}`
    const html = reportHtml({
      title,
      inputs: inputs.map((x, i) => ({ label: x.label, path: args[i]!, kind: x.kind === "run" ? `run (${x.format})` : "sweep" })),
      summary: runs.length === 0 ? undefined : summaryTables(runs),
      sections,
      notes
    })
    yield* writeFile(o.output, html)
    const plots: Array<string> = []
    if (o.plots !== undefined) {
      const dir = path.join(path.dirname(o.output), "plots")
      for (const g of rendered) {
        for (const { chart, svg } of g.figs) {
          const file = path.join(dir, `${chart.id}.${o.plots}`)
          yield* writeFile(file, o.plots === "svg" ? svg : svgToPng(svg))
          plots.push(file)
        }
      }
    }
    const result: ReportResult = {
      file: o.output,
      bytes: Buffer.byteLength(html),
      charts: rendered.flatMap((g) => g.figs.map((f) => f.chart.id)),
      plots,
      notes
    }
    return result
  })

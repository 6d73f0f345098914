/** `llmservingsim report DIR [DIR...]`: one self-contained report.html of runs and sweeps. */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { InvalidOption } from "../domain/errors.js"
import { buildReport, PLOT_FORMATS, type PlotFormat } from "../report/build.js"

/** `--plots svg|png` checked (InvalidOption naming the flag otherwise). */
export const plotFormatOf = (v: Option.Option<string>): Effect.Effect<PlotFormat | undefined, InvalidOption> =>
  Option.match(v, {
    onNone: () => Effect.succeed(undefined),
    onSome: (f) => (PLOT_FORMATS as ReadonlyArray<string>).includes(f)
      ? Effect.succeed(f as PlotFormat)
      : Effect.fail(new InvalidOption({ option: "--plots", reason: `expected one of ${PLOT_FORMATS.join(", ")} (got ${f})` }))
  })

/** The default report file: inside the one run directory given, else report.html here. */
export const defaultReportFile = (dirs: ReadonlyArray<string>): string =>
  dirs.length === 1 && fs.existsSync(dirs[0]!) && fs.statSync(dirs[0]!).isDirectory() ? path.join(dirs[0]!, "report.html") : "report.html"

/** `report` prints what it wrote: the file, its size, the figures, the notes. */
const describe = (r: { readonly file: string; readonly bytes: number; readonly charts: ReadonlyArray<string>; readonly plots: ReadonlyArray<string>; readonly notes: ReadonlyArray<string> }) =>
  [
    `report written to ${r.file} (${(r.bytes / 1024).toFixed(0)} KiB, ` +
    `${r.charts.length === 0 ? "no charts" : `${r.charts.length} chart${r.charts.length === 1 ? "" : "s"}: ${r.charts.join(", ")}`})`,
    ...(r.plots.length === 0 ? [] : [`figures written to ${path.dirname(r.plots[0]!)}/ (${r.plots.length} files)`]),
    ...r.notes.map((n) => `note: ${n}`)
  ].join("\n")

export { describe as describeReport }

export const reportCommand = Command.make(
  "report",
  {
    dirs: Args.text({ name: "DIR" }).pipe(
      Args.atLeast(1),
      Args.withDescription("A simulate --output-dir (csv or parquet), a directory holding sweep.csv, or a sweep CSV; several are overlaid")
    ),
    output: Options.text("output").pipe(Options.optional, Options.withDescription("The HTML file to write (default DIR/report.html for one run directory, else ./report.html)")),
    plots: Options.text("plots").pipe(Options.optional, Options.withDescription("Also write each figure alone as svg or png into plots/ beside the report (default none)"))
  },
  (o) =>
    Effect.gen(function*() {
      const plots = yield* plotFormatOf(o.plots)
      const output = Option.getOrElse(o.output, () => defaultReportFile(o.dirs))
      const r = yield* buildReport(o.dirs, { output, ...(plots === undefined ? {} : { plots }) })
      yield* Console.log(describe(r))
    })
).pipe(Command.withDescription("Write one self-contained HTML report (summary, latency CDFs, time series, per instance, sweep Pareto front) of runs and sweeps"))

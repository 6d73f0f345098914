/** `llmservingsim simulate`: an offline run on virtual time. */
import { parseGoodput } from "../metrics/goodput.js"
import { routerOf } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { resolveCluster } from "../cluster/resolveCluster.js"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import { FileError, InputError, InvalidOption } from "../domain/errors.js"
import type { Engine } from "../engine/Engine.js"
import { combineObservers } from "../engine/EngineObserver.js"
import { TraceEventsWriter } from "../trace/TraceEvents.js"
import { Progress } from "./progress.js"
import { simulateCluster } from "../engine/simulate.js"
import { resolveWorkload } from "../workload/Workload.js"
import { engineOptions, outputOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { setInterruptNote } from "./interrupt.js"
import { formatReport } from "./report.js"
import { formatFactor, LoadProbe } from "../metrics/saturation.js"
import { type FileOutputOptions, OUTPUT_FORMATS, type OutputFormat, outputFiles, TraceWriter, writeSummaryFile } from "../trace/TraceWriter.js"
import { checkSensitivityPct, runSensitivity, sensitivityOption } from "./sensitivity.js"
import { formatSensitivity } from "./sensitivityReport.js"
import * as path from "node:path"
import { buildReport } from "../report/build.js"
import { describeReport } from "./reportCommand.js"
import { prepareOutputFile } from "./outputFile.js"

const reportOption = Options.boolean("report").pipe(
  Options.withDescription("With --output-dir: also write report.html there (summary, latency CDFs, time series; `llmservingsim report --help`) (default off)")
)

const energy = Options.boolean("energy").pipe(
  Options.withDescription("Price GPU energy (idle + (TDP - idle) x utilisation per step) into summary.json's energy section (default off)")
)

const clusterConfig = Options.text("cluster-config").pipe(
  Options.optional,
  Options.withDescription("A cluster file (JSON/YAML): pools, roles, routers, KV transfer (resources/clusters/; default: one pool from the flags)")
)

/**
 * `--step-log`, `--timeseries-interval-s` and `--output-format` as checked FileOutputOptions: each
 * needs --output-dir, the interval a number > 0, the format csv or parquet.
 */
export const fileOutputOptions = (o: {
  readonly outputDir: Option.Option<string>
  readonly stepLog: boolean
  readonly timeseriesIntervalS: Option.Option<number>
  readonly outputFormat: Option.Option<string>
}): Effect.Effect<FileOutputOptions, InvalidOption> =>
  Effect.gen(function*() {
    const noDir = Option.isNone(o.outputDir)
    const needsDir = (flag: string) => new InvalidOption({ option: flag, reason: "applies to the files written with --output-dir DIR; give --output-dir" })
    if (noDir && o.stepLog) return yield* needsDir("--step-log")
    if (noDir && Option.isSome(o.timeseriesIntervalS)) return yield* needsDir("--timeseries-interval-s")
    if (noDir && Option.isSome(o.outputFormat)) return yield* needsDir("--output-format")
    const interval = Option.getOrUndefined(o.timeseriesIntervalS)
    // at least 1 ms: a bucket per ns would need memory for every simulated nanosecond
    if (interval !== undefined && !(interval >= 0.001 && interval <= 1e6)) {
      return yield* new InvalidOption({ option: "--timeseries-interval-s", reason: `expected a number of seconds >= 0.001 and <= 1000000 (got ${interval})` })
    }
    const format = Option.getOrUndefined(o.outputFormat)
    if (format !== undefined && !(OUTPUT_FORMATS as ReadonlyArray<string>).includes(format)) {
      return yield* new InvalidOption({ option: "--output-format", reason: `expected one of ${OUTPUT_FORMATS.join(", ")} (got ${format})` })
    }
    return {
      stepLog: o.stepLog,
      ...(interval === undefined ? {} : { timeseriesIntervalS: interval }),
      ...(format === undefined ? {} : { outputFormat: format as OutputFormat })
    }
  })

/** --trace-events FILE (trace/TraceEvents.ts). */
const traceEventsOption = Options.text("trace-events").pipe(
  Options.optional,
  Options.withDescription("Write the run as Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing): steps per instance, request spans, counters (default off)")
)
const traceEventsMaxRequestsOption = Options.integer("trace-events-max-requests").pipe(
  Options.optional,
  Options.withDescription("With --trace-events: spans for the first N requests only, so large runs stay loadable (default 2000)")
)

/** vLLM bench's --goodput (metrics/goodput.ts). */
const goodputOption = Options.text("goodput").pipe(
  Options.optional,
  Options.withDescription("vLLM bench's goodput: SLOs as KEY:MS pairs (ttft, tpot, e2el), e.g. --goodput ttft:300 tpot:50; adds request_goodput and attainment to the summary (default off)")
)

export const simulateCommand = Command.make(
  "simulate",
  { ...engineOptions, ...workloadOptions, ...outputOptions, clusterConfig, sensitivity: sensitivityOption, report: reportOption, goodput: goodputOption, traceEvents: traceEventsOption, traceEventsMaxRequests: traceEventsMaxRequestsOption, energy },
  (o) =>
    Effect.gen(function*() {
      const files = yield* fileOutputOptions(o)
      if (o.report && Option.isNone(o.outputDir)) {
        return yield* new InvalidOption({ option: "--report", reason: "writes report.html from the files written with --output-dir DIR; give --output-dir" })
      }
      const writeReport = Effect.suspend(() => {
        if (!o.report || Option.isNone(o.outputDir)) return Effect.void
        const dir = o.outputDir.value
        return buildReport([dir], { output: path.join(dir, "report.html") }).pipe(
          Effect.flatMap((r) => (o.quiet || o.json ? Effect.void : Console.log(describeReport(r))))
        )
      })
      const pct = Option.isSome(o.sensitivity) ? yield* checkSensitivityPct(o.sensitivity.value) : undefined
      const goodput = Option.isSome(o.goodput) ? yield* parseGoodput(o.goodput.value) : undefined
      const maxSpans = Option.getOrUndefined(o.traceEventsMaxRequests)
      if (maxSpans !== undefined && Option.isNone(o.traceEvents)) return yield* new InvalidOption({ option: "--trace-events-max-requests", reason: "applies to --trace-events FILE; give it too" })
      if (maxSpans !== undefined && !(maxSpans >= 0)) return yield* new InvalidOption({ option: "--trace-events-max-requests", reason: `expected an integer >= 0 (got ${maxSpans})` })
      if (Option.isSome(o.traceEvents)) yield* prepareOutputFile("--trace-events", o.traceEvents.value)
      const traceEvents = Option.isNone(o.traceEvents) ? undefined : TraceEventsWriter.open(o.traceEvents.value, maxSpans === undefined ? {} : { maxRequests: maxSpans })
      if (traceEvents instanceof FileError) return yield* traceEvents
      const closeTraceEvents = Effect.suspend(() => {
        const e = traceEvents?.close()
        return e === undefined ? Effect.void : Effect.fail(e)
      })
      const flags = toEngineFlags(o)
      const cluster = yield* Option.match(o.clusterConfig, {
        onNone: () => Effect.zipWith(resolveConfig(flags), routerOf(o.router), (cfg, router) => singlePool(cfg, router)),
        onSome: (file) => resolveCluster(file, flags, o.router)
      })
      const cfg = cluster.pools[0]!.config
      const workload = yield* resolveWorkload(toWorkloadFlags(o), cfg.seed, cfg.engine.lora?.adapters.map((a) => a.name) ?? null)
      // requests.csv's extra columns: each request's priority under the priority policy, its adapter with LoRA
      const requestColumns = { priority: cfg.engine.schedulingPolicy === "priority", loraAdapters: cfg.engine.lora?.adapters.map((a) => a.name) }
      const writer = Option.match(o.outputDir, { onNone: () => TraceWriter.none, onSome: (dir) => TraceWriter.files(dir, { ...files, requestColumns }) })
      // progress: a bar on a terminal, a line every 10 s otherwise, nothing with --quiet (cli/progress.ts)
      const tty = process.stderr.isTTY === true && !o.quiet
      const generated = (workload.spec as { generator?: { numRequests?: number } }).generator?.numRequests
      const progress = o.quiet ? undefined : new Progress({ total: Option.getOrUndefined(o.numRequests) ?? generated })
      const onProgress = (n: number, clockNs: number) => progress!.tick(n, clockNs)
      const probe = pct === undefined ? undefined : new LoadProbe()
      const observers = [
        ...(probe === undefined ? [] : [probe.observer]),
        ...(traceEvents === undefined ? [] : [traceEvents.observer]),
        ...(progress === undefined ? [] : [progress.observer])
      ]
      const result = yield* simulateCluster(workload.arrivals, cluster, {
        workload: workload.spec,
        client: workload.client,
        sessions: workload.sessions,
        goodput,
        exactSteps: o.exactSteps,
        energy: o.energy,
        ...(observers.length === 0 ? {} : { observer: combineObservers(...observers) }),
        ...(traceEvents === undefined ? {} : { onEngine: (e: Engine) => traceEvents.attach(e) }),
        ...(progress === undefined ? {} : { onProgress })
      }).pipe(
        Effect.provide(writer),
        Effect.ensuring(Effect.sync(() => traceEvents?.close())),
        Effect.ensuring(Effect.sync(() => progress?.stop())),
        Effect.onInterrupt(() => {
          return setInterruptNote(Option.match(o.outputDir, {
            onNone: () => "stopped; nothing written (no --output-dir)",
            onSome: (dir) => `stopped; what was simulated so far is written to ${dir}/ (summary.json says "interrupted": true)`
          }))
        })
      )
      yield* closeTraceEvents
      if (result.engine.submitted === 0) {
        return yield* new InputError({ path: Option.getOrElse(o.trace, () => "workload"), expected: "at least one request (the trace has none)" })
      }
      const report = !o.json && !o.quiet
      if (report) yield* Console.log(formatReport(cluster, result, workload.description))
      if (pct === undefined || probe === undefined) {
        if (o.json) yield* Console.log(JSON.stringify(result.summary, null, 2))
        if (Option.isSome(o.outputDir) && report) yield* Console.log(`results written to ${o.outputDir.value}/ (${outputFiles(files).join(", ")})`)
        return yield* writeReport
      }
      // the scaled runs: same workload and cluster, no rows written, stoppable like the main run
      let status = ""
      const sensitivity = yield* runSensitivity(
        pct,
        { summary: result.summary, probe },
        (scale) =>
          simulateCluster(workload.arrivals, cluster, { workload: workload.spec, exactSteps: o.exactSteps, stepTimeScale: scale, energy: o.energy }).pipe(
            Effect.map((r) => r.summary),
            Effect.provide(TraceWriter.none)
          ),
        (scale) =>
          Effect.suspend(() => {
            if (tty) {
              status = `\r\x1b[Ksensitivity: running with the step time ${formatFactor(scale)}`
              process.stderr.write(status)
            }
            return setInterruptNote(Option.match(o.outputDir, {
              onNone: () => `stopped during the sensitivity run with the step time ${formatFactor(scale)}; nothing written (no --output-dir)`,
              onSome: (dir) => `stopped during the sensitivity run with the step time ${formatFactor(scale)}; the main run's results are in ${dir}/ (summary.json without "sensitivity")`
            }))
          })
      ).pipe(Effect.ensuring(Effect.sync(() => {
        if (status !== "") process.stderr.write("\r\x1b[K")
      })))
      const summary = { ...result.summary, sensitivity }
      if (Option.isSome(o.outputDir)) yield* writeSummaryFile(o.outputDir.value, summary)
      if (o.json) yield* Console.log(JSON.stringify(summary, null, 2))
      else if (report) {
        yield* Console.log(formatSensitivity(sensitivity))
        if (Option.isSome(o.outputDir)) yield* Console.log(`results written to ${o.outputDir.value}/ (summary.json with "sensitivity", ${outputFiles(files).slice(1).join(", ")} of the main run)`)
      }
      yield* writeReport
    })
).pipe(Command.withDescription("Simulate vLLM-style serving of a workload (a trace or the built-in generator) on virtual time"))

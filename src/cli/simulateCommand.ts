/** `llmservingsim simulate`: an offline run on virtual time. */
import { routerOf } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { resolveCluster } from "../cluster/resolveCluster.js"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import { InputError, InvalidOption } from "../domain/errors.js"
import { simulateCluster } from "../engine/simulate.js"
import { resolveWorkload } from "../workload/Workload.js"
import { engineOptions, outputOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { setInterruptNote } from "./interrupt.js"
import { formatReport } from "./report.js"
import { formatFactor, LoadProbe } from "../metrics/saturation.js"
import { type FileOutputOptions, OUTPUT_FORMATS, type OutputFormat, outputFiles, TraceWriter, writeSummaryFile } from "../trace/TraceWriter.js"
import { checkSensitivityPct, runSensitivity, sensitivityOption } from "./sensitivity.js"
import { formatSensitivity } from "./sensitivityReport.js"

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
    if (interval !== undefined && !(interval > 0 && interval <= 1e6)) {
      return yield* new InvalidOption({ option: "--timeseries-interval-s", reason: `expected a number of seconds > 0 and <= 1000000 (got ${interval})` })
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

export const simulateCommand = Command.make(
  "simulate",
  { ...engineOptions, ...workloadOptions, ...outputOptions, clusterConfig, sensitivity: sensitivityOption, energy },
  (o) =>
    Effect.gen(function*() {
      const files = yield* fileOutputOptions(o)
      const pct = Option.isSome(o.sensitivity) ? yield* checkSensitivityPct(o.sensitivity.value) : undefined
      const flags = toEngineFlags(o)
      const cluster = yield* Option.match(o.clusterConfig, {
        onNone: () => Effect.zipWith(resolveConfig(flags), routerOf(o.router), (cfg, router) => singlePool(cfg, router)),
        onSome: (file) => resolveCluster(file, flags, o.router)
      })
      const cfg = cluster.pools[0]!.config
      const workload = yield* resolveWorkload(toWorkloadFlags(o), cfg.seed)
      const writer = Option.match(o.outputDir, { onNone: () => TraceWriter.none, onSome: (dir) => TraceWriter.files(dir, files) })
      // progress on an interactive stderr only, at most every 200 ms of wall time
      const tty = process.stderr.isTTY === true && !o.quiet
      let lastShown = 0
      const onProgress = (n: number, clockNs: number) => {
        const now = performance.now()
        if (now - lastShown < 200) return
        lastShown = now
        process.stderr.write(`\r${n} requests submitted, simulated time ${(clockNs / 1e9).toFixed(1)} s`)
      }
      const probe = pct === undefined ? undefined : new LoadProbe()
      const result = yield* simulateCluster(workload.arrivals, cluster, {
        workload: workload.spec,
        client: workload.client,
        exactSteps: o.exactSteps,
        energy: o.energy,
        ...(probe === undefined ? {} : { observer: probe.observer }),
        ...(tty ? { onProgress } : {})
      }).pipe(
        Effect.provide(writer),
        Effect.onInterrupt(() => {
          if (tty && lastShown > 0) process.stderr.write("\r\x1b[K")
          return setInterruptNote(Option.match(o.outputDir, {
            onNone: () => "stopped; nothing written (no --output-dir)",
            onSome: (dir) => `stopped; what was simulated so far is written to ${dir}/ (summary.json says "interrupted": true)`
          }))
        })
      )
      if (tty && lastShown > 0) process.stderr.write("\r\x1b[K")
      if (result.engine.submitted === 0) {
        return yield* new InputError({ path: Option.getOrElse(o.trace, () => "workload"), expected: "at least one request (the trace has none)" })
      }
      const report = !o.json && !o.quiet
      if (report) yield* Console.log(formatReport(cluster, result, workload.description))
      if (pct === undefined || probe === undefined) {
        if (o.json) yield* Console.log(JSON.stringify(result.summary, null, 2))
        if (Option.isSome(o.outputDir) && report) yield* Console.log(`results written to ${o.outputDir.value}/ (${outputFiles(files).join(", ")})`)
        return
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
    })
).pipe(Command.withDescription("Simulate vLLM-style serving of a workload (a trace or the built-in generator) on virtual time"))

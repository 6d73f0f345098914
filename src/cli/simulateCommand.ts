/** `llmservingsim simulate`: an offline run on virtual time. */
import { routerOf } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { resolveCluster } from "../cluster/resolveCluster.js"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import { InputError, InvalidOption } from "../domain/errors.js"
import { simulateCluster } from "../engine/simulate.js"
import { type FileOutputOptions, OUTPUT_FORMATS, type OutputFormat, outputFiles, TraceWriter } from "../trace/TraceWriter.js"
import { resolveWorkload } from "../workload/Workload.js"
import { engineOptions, outputOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { setInterruptNote } from "./interrupt.js"
import { formatReport } from "./report.js"

const clusterConfig = Options.text("cluster-config").pipe(
  Options.optional,
  Options.withDescription("A cluster as JSON or YAML: pools of instances (model, hardware, parallelism, engine flags, role colocated|prefill|decode), routers, KV transfer (see resources/clusters/); engine flags given here are every pool's defaults (default: one pool from the flags)")
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
  { ...engineOptions, ...workloadOptions, ...outputOptions, clusterConfig },
  (o) =>
    Effect.gen(function*() {
      const files = yield* fileOutputOptions(o)
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
      const result = yield* simulateCluster(workload.arrivals, cluster, {
        workload: workload.spec,
        client: workload.client,
        exactSteps: o.exactSteps,
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
      if (o.json) yield* Console.log(JSON.stringify(result.summary, null, 2))
      else if (!o.quiet) yield* Console.log(formatReport(cluster, result, workload.description))
      if (Option.isSome(o.outputDir) && !o.quiet && !o.json) yield* Console.log(`results written to ${o.outputDir.value}/ (${outputFiles(files).join(", ")})`)
    })
).pipe(Command.withDescription("Simulate vLLM-style serving of a workload (a trace or the built-in generator) on virtual time"))

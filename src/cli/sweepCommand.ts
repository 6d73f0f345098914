/**
 * `llmservingsim sweep`: a grid of simulate configurations across worker processes. `--output`
 * fills as configurations finish; SIGINT/SIGTERM kill the workers and leave the finished rows there,
 * with a row marked "interrupted" for each configuration that did not finish.
 */
import { routerOf, uncheckedRouter } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import type { WorkerError } from "@effect/platform/WorkerError"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { FileError, InvalidOption } from "../domain/errors.js"
import { type Axis, expandGrid, parseAxis } from "../sweep/grid.js"
import { runSweep } from "../sweep/pool.js"
import { errorRow, type SweepRow } from "../sweep/job.js"
import { sweepCsv, sweepCsvHeader, sweepCsvLine, sweepTable } from "../sweep/report.js"
import { setInterruptNote, stopSignal } from "./interrupt.js"
import { engineOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { prepareOutputFile, writeFailure } from "./outputFile.js"

const sweepOptions = {
  grid: Options.text("grid").pipe(Options.repeated, Options.withDescription(`An axis: flag=v1,v2,... over any engine or workload flag of simulate, or router; repeat for more axes`)),
  workers: Options.integer("workers").pipe(Options.optional, Options.withDescription("Worker processes (default: the number of CPUs; 1 = one by one in this process)")),
  clusterDatabase: Options.text("cluster-database").pipe(Options.optional, Options.withDescription("Run the configurations on the sweep-runner processes registered in this Postgres database (postgres://...) instead of local workers (default: local workers)")),
  output: Options.text("output").pipe(Options.optional, Options.withDescription("Write one CSV row per configuration to this file (default: print the table only)")),
  compareSerial: Options.boolean("compare-serial").pipe(Options.withDescription("Also run the grid one by one in this thread and report both wall times")),
  quiet: Options.boolean("quiet").pipe(Options.withAlias("q"), Options.withDescription("Do not print the table"))
}

export const sweepCommand = Command.make("sweep", { ...engineOptions, ...workloadOptions, ...sweepOptions }, (o) =>
  Effect.gen(function*() {
    const axes: Array<Axis> = []
    for (const g of o.grid) {
      const a = parseAxis(g)
      if (a instanceof InvalidOption) return yield* a
      if (axes.some((x) => x.flag === a.flag)) {
        return yield* new InvalidOption({ option: "--grid", reason: `'${a.flag}' is given twice; list all its values in one axis (${a.flag}=v1,v2,...)` })
      }
      axes.push(a)
    }
    if (axes.length === 0) return yield* new InvalidOption({ option: "--grid", reason: "give at least one axis, e.g. --grid request-rate=2,4,8" })
    const workers = Option.getOrElse(o.workers, () => os.availableParallelism())
    if (!(Number.isInteger(workers) && workers >= 1)) return yield* new InvalidOption({ option: "--workers", reason: `expected a positive integer (got ${workers})` })
    const database = Option.getOrUndefined(o.clusterDatabase)
    // loaded only for a cluster sweep: the cluster and Postgres stack is not needed otherwise
    const cluster = database === undefined ? undefined : yield* Effect.promise(() => import("../sweep/cluster.js"))
    if (cluster !== undefined && database !== undefined) {
      if (Option.isSome(o.workers)) return yield* new InvalidOption({ option: "--workers", reason: "a cluster sweep runs on the runners' workers (sweep-runner --workers); drop --workers or --cluster-database" })
      const bad = cluster.checkDatabaseUrl("--cluster-database", database)
      if (bad !== undefined) return yield* bad
    }
    // a policy's tuning flag must reach a point that runs that policy (else it would be accepted and ignored)
    const routerAxis = axes.find((x) => x.flag === "router")
    if (routerAxis !== undefined) {
      for (const [flag, policy, v] of [["--router-weights", "weighted", o.router.weights], ["--router-cache-aware", "cache-aware", o.router.cacheAware]] as const) {
        if (v !== undefined && !routerAxis.values.includes(policy)) {
          return yield* new InvalidOption({ option: flag, reason: `applies only to --router ${policy}, which --grid router=${routerAxis.values.join(",")} does not run` })
        }
      }
    }
    const jobs = expandGrid(axes, {
      engine: toEngineFlags(o),
      // with a router axis, each point's policy is checked with the base weights and staleness
      router: yield* (axes.some((x) => x.flag === "router") ? uncheckedRouter(o.router) : routerOf(o.router)),
      workload: toWorkloadFlags(o)
    })
    if (jobs instanceof InvalidOption) return yield* jobs
    const tty = process.stderr.isTTY === true
    const names = axes.map((a) => a.flag)
    const file = Option.getOrUndefined(o.output)
    if (file !== undefined) yield* prepareOutputFile("--output", file)
    const write = (f: (file: string) => void) =>
      file === undefined ? Effect.void : Effect.try({ try: () => f(file), catch: (e) => writeFailure("--output", file, e) })
    // the file holds the rows finished so far (in finishing order) while the sweep runs, and all of
    // them in configuration order at the end; an interrupted sweep adds a row per unfinished one
    yield* write((f) => fs.writeFileSync(f, sweepCsvHeader(names) + "\n"))
    const finished: Array<SweepRow> = []
    let appendError: FileError | undefined
    const onDone = (row: SweepRow) => {
      finished.push(row)
      if (tty) process.stderr.write(`\rsweep: ${finished.length}/${jobs.length} configurations`)
      if (file !== undefined && appendError === undefined) {
        try {
          fs.appendFileSync(file, sweepCsvLine(names, row) + "\n")
        } catch (e) {
          appendError = writeFailure("--output", file, e)
        }
      }
    }
    const onInterrupt = Effect.suspend(() => {
      if (tty && finished.length > 0) process.stderr.write("\n")
      const done = new Set(finished.map((r) => r.index))
      const mark = `interrupted by ${stopSignal() ?? "a signal"} before this configuration finished`
      const all = [...finished, ...jobs.filter((j) => !done.has(j.index)).map((j) => errorRow(j, mark))].sort((a, b) => a.index - b.index)
      return write((f) => fs.writeFileSync(f, sweepCsv(names, all))).pipe(
        Effect.match({
          onFailure: (e) => `${finished.length} of ${jobs.length} configurations finished; ${e.message}`,
          onSuccess: () => `${finished.length} of ${jobs.length} configurations finished` + (file === undefined
            ? "; nothing written (no --output)"
            : `; ${file} holds their rows, and the ${jobs.length - finished.length} unfinished rows say "interrupted"`)
        }),
        Effect.flatMap(setInterruptNote)
      )
    })
    const t0 = performance.now()
    let ranOn = `with ${workers > 1 ? `${Math.min(workers, jobs.length)} worker processes` : "no workers (one by one)"}`
    const sweep: Effect.Effect<ReadonlyArray<SweepRow>, InvalidOption | WorkerError> = cluster !== undefined && database !== undefined
      ? cluster.runClusterSweep(jobs, database, onDone).pipe(Effect.map((r) => {
        const runners = [...r.runners].sort(([a], [b]) => a.localeCompare(b))
        ranOn = `on ${runners.length} cluster runner${runners.length === 1 ? "" : "s"} (${runners.map(([a, n]) => `${a}: ${n}`).join(", ")})`
        return r.rows
      }))
      : runSweep(jobs, workers, onDone)
    const rows = yield* sweep.pipe(Effect.onInterrupt(() => onInterrupt))
    const wall = (performance.now() - t0) / 1000
    if (tty) process.stderr.write("\n")
    if (appendError !== undefined) return yield* appendError
    yield* write((f) => fs.writeFileSync(f, sweepCsv(names, rows)))
    yield* setInterruptNote(`the sweep had finished${file === undefined ? "" : ` (all its rows are in ${file})`}; stopped after it`)
    if (!o.quiet) yield* Console.log(sweepTable(names, rows))
    const failed = rows.filter((r) => r.error !== null).length
    yield* Console.log(`${jobs.length} configurations (${failed} failed) in ${wall.toFixed(2)} s wall ${ranOn}`)
    if (o.compareSerial) {
      const t1 = performance.now()
      const serial = yield* runSweep(jobs, 1)
      const serialWall = (performance.now() - t1) / 1000
      const same = JSON.stringify(serial.map((r) => ({ ...r, wall_s: 0 }))) === JSON.stringify(rows.map((r) => ({ ...r, wall_s: 0 })))
      yield* Console.log(`one by one: ${serialWall.toFixed(2)} s wall; speed-up ${(serialWall / wall).toFixed(2)}x; results ${same ? "identical" : "DIFFER"}`)
    }
    // every row is written and printed; the exit status still says that some failed
    if (failed > 0) return yield* new InvalidOption({ option: "sweep", reason: `${failed} of ${jobs.length} configurations failed (their rows hold the errors)` })
  })).pipe(Command.withDescription("Run a grid of simulate configurations on worker processes or sweep-runners, one result row each"))

/**
 * `llmservingsim sla`: per configuration of a grid, the highest request rate (or max concurrency)
 * that meets every --constraint, found by bracketing and bisection (src/sla/search.ts), each probe
 * one simulation on sweep's runners (local worker processes or a cluster database); the
 * configurations ranked by the limit per GPU, with cost per million output tokens and the Pareto
 * front of tokens/s per GPU against tokens/s per user.
 */
import { routerOf, uncheckedRouter } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { FileError, InvalidOption } from "../domain/errors.js"
import { type Axis, expandGrid, parseAxis } from "../sweep/grid.js"
import { type Constraint, parseConstraint } from "../sla/constraint.js"
import { rankResults } from "../sla/rank.js"
import { probeLine, probesCsvHeader, probesCsvLine, slaCsv, slaTable } from "../sla/report.js"
import { clusterRunner, type JobRunner, localRunner, runSla, type SearchVariable } from "../sla/run.js"
import { checkDomain, type SearchDomain } from "../sla/search.js"
import { setInterruptNote } from "./interrupt.js"
import { engineOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { prepareOutputFile, writeFailure } from "./outputFile.js"

const DEFAULT_TOLERANCE = 0.05
const DEFAULT_MAX: Record<SearchVariable, number> = { "request-rate": 1024, "max-concurrency": 4096 }

const slaOptions = {
  constraint: Options.text("constraint").pipe(Options.repeated, Options.withDescription("An SLA: METRIC<=VALUE (or <, >=, >) over a summary.json metric, e.g. p99_ttft_ms<=500; repeat for more (all must hold)")),
  search: Options.choice("search", ["request-rate", "max-concurrency"] as const).pipe(Options.withDefault("request-rate" as const), Options.withDescription("What to raise until the SLA breaks (default request-rate)")),
  grid: Options.text("grid").pipe(Options.repeated, Options.optional, Options.withDescription("A configuration axis: flag=v1,v2,... as sweep's; repeat for more (default: the one configuration the flags give)")),
  slaStart: Options.float("sla-start").pipe(Options.optional, Options.withDescription("The first (lowest) probe (default 1)")),
  slaMax: Options.float("sla-max").pipe(Options.optional, Options.withDescription(`The highest probe; a configuration meeting the SLA there is reported as >= it (default ${DEFAULT_MAX["request-rate"]} req/s, ${DEFAULT_MAX["max-concurrency"]} concurrent)`)),
  slaTolerance: Options.float("sla-tolerance").pipe(Options.optional, Options.withDescription(`Bisect a request rate until the bracket is within this fraction of its low end (default ${DEFAULT_TOLERANCE}); max concurrency stops at adjacent integers`)),
  gpuHourPrice: Options.float("gpu-hour-price").pipe(Options.optional, Options.withDescription("USD per GPU-hour: adds the cost per million output tokens at each configuration's limit (default: no cost column)")),
  workers: Options.integer("workers").pipe(Options.optional, Options.withDescription("Worker processes (default: the number of CPUs; 1 = one by one in this process)")),
  clusterDatabase: Options.text("cluster-database").pipe(Options.optional, Options.withDescription("Run the probes on the sweep-runner processes registered in this Postgres database (postgres://...) instead of local workers (default: local workers)")),
  output: Options.text("output").pipe(Options.optional, Options.withDescription("Write the ranked configurations as CSV to this file (default: print the table only)")),
  probesOutput: Options.text("probes-output").pipe(Options.optional, Options.withDescription("Write every probe (configuration, value, metrics, pass) as CSV to this file (default: print them only)")),
  quiet: Options.boolean("quiet").pipe(Options.withAlias("q"), Options.withDescription("Do not print the probes"))
}

export const slaCommand = Command.make("sla", { ...engineOptions, ...workloadOptions, ...slaOptions }, (o) =>
  Effect.gen(function*() {
    const variable: SearchVariable = o.search
    const constraints: Array<Constraint> = []
    for (const text of o.constraint) {
      const c = parseConstraint(text)
      if (c instanceof InvalidOption) return yield* c
      constraints.push(c)
    }
    if (constraints.length === 0) return yield* new InvalidOption({ option: "--constraint", reason: "give at least one, e.g. --constraint p99_ttft_ms<=500" })
    const axes: Array<Axis> = []
    for (const g of Option.getOrElse(o.grid, () => [])) {
      const a = parseAxis(g)
      if (a instanceof InvalidOption) return yield* a
      if (axes.some((x) => x.flag === a.flag)) return yield* new InvalidOption({ option: "--grid", reason: `'${a.flag}' is given twice; list all its values in one axis (${a.flag}=v1,v2,...)` })
      if (a.flag === variable) return yield* new InvalidOption({ option: "--grid", reason: `${variable} is what --search ${variable} finds; it cannot be an axis` })
      axes.push(a)
    }
    const workload = toWorkloadFlags(o)
    if (variable === "request-rate" && workload.requestRate !== undefined) return yield* new InvalidOption({ option: "--request-rate", reason: "--search request-rate sets it for each probe; drop it" })
    if (variable === "request-rate" && (workload.trace !== undefined || axes.some((a) => a.flag === "trace"))) {
      return yield* new InvalidOption({ option: "--trace", reason: "--search request-rate probes generated workloads (a trace keeps its own arrival times); use --search max-concurrency or drop --trace" })
    }
    if (variable === "max-concurrency" && workload.maxConcurrency !== undefined) return yield* new InvalidOption({ option: "--max-concurrency", reason: "--search max-concurrency sets it for each probe; drop it" })
    const integer = variable === "max-concurrency"
    if (integer && Option.isSome(o.slaTolerance)) return yield* new InvalidOption({ option: "--sla-tolerance", reason: "--search max-concurrency bisects to adjacent integers; drop --sla-tolerance" })
    const domain: SearchDomain = {
      start: Option.getOrElse(o.slaStart, () => 1), max: Option.getOrElse(o.slaMax, () => DEFAULT_MAX[variable]),
      integer, tolerance: Option.getOrElse(o.slaTolerance, () => DEFAULT_TOLERANCE)
    }
    const badDomain = checkDomain(domain)
    if (badDomain !== undefined) return yield* new InvalidOption({ option: "--sla-start/--sla-max/--sla-tolerance", reason: badDomain })
    const price = Option.getOrUndefined(o.gpuHourPrice)
    if (price !== undefined && !(price > 0 && Number.isFinite(price))) return yield* new InvalidOption({ option: "--gpu-hour-price", reason: `expected USD per GPU-hour > 0 (got ${price})` })
    const workers = Option.getOrElse(o.workers, () => os.availableParallelism())
    if (!(Number.isInteger(workers) && workers >= 1)) return yield* new InvalidOption({ option: "--workers", reason: `expected a positive integer (got ${workers})` })
    const database = Option.getOrUndefined(o.clusterDatabase)
    if (database !== undefined) {
      if (Option.isSome(o.workers)) return yield* new InvalidOption({ option: "--workers", reason: "probes on a cluster run on the runners' workers (sweep-runner --workers); drop --workers or --cluster-database" })
      const cluster = yield* Effect.promise(() => import("../sweep/cluster.js"))
      const bad = cluster.checkDatabaseUrl("--cluster-database", database)
      if (bad !== undefined) return yield* bad
    }
    // with --search max-concurrency and no --request-rate, every request is due at t=0 (vLLM bench's
    // closed-loop runs), so the concurrency alone sets the load
    const base = variable === "max-concurrency" && workload.requestRate === undefined ? { ...workload, requestRate: "inf" } : workload
    const configs = expandGrid(axes, {
      engine: toEngineFlags(o),
      router: yield* (axes.some((x) => x.flag === "router") ? uncheckedRouter(o.router) : routerOf(o.router)),
      workload: base
    })
    if (configs instanceof InvalidOption) return yield* configs
    const names = axes.map((a) => a.flag)
    const metrics = [...new Set(constraints.map((c) => c.metric))]
    const write = (flag: string, file: string | undefined, f: (file: string) => void) =>
      file === undefined ? Effect.void : Effect.try({ try: () => f(file), catch: (e) => writeFailure(flag, file, e) })
    const probesFile = Option.getOrUndefined(o.probesOutput)
    const outputFile = Option.getOrUndefined(o.output)
    if (outputFile !== undefined) yield* prepareOutputFile("--output", outputFile)
    if (probesFile !== undefined) yield* prepareOutputFile("--probes-output", probesFile)
    yield* write("--probes-output", probesFile, (f) => fs.writeFileSync(f, probesCsvHeader(names, variable, metrics) + "\n"))
    let probeCount = 0
    let appendError: FileError | undefined
    const t0 = performance.now()
    const search = (runner: JobRunner<InvalidOption>) =>
      runSla(configs, variable, domain, constraints, runner, (p) => {
        probeCount++
        const config = configs[p.config]!
        if (!o.quiet) process.stdout.write(probeLine(names, variable, metrics, config, p) + "\n")
        if (probesFile !== undefined && appendError === undefined) {
          try {
            fs.appendFileSync(probesFile, probesCsvLine(names, metrics, config, p) + "\n")
          } catch (e) {
            appendError = writeFailure("--probes-output", probesFile, e)
          }
        }
      })
    const ranOn = database !== undefined ? "on the cluster's runners" : workers > 1 ? `with ${Math.min(workers, configs.length)} worker processes` : "one by one in this process"
    const onInterrupt = Effect.suspend(() =>
      setInterruptNote(`${probeCount} probes finished, no ranking` + (probesFile === undefined ? " (no --probes-output)" : `; ${probesFile} holds them`)))
    const results = yield* (database !== undefined
      ? Effect.flatMap(clusterRunner(database), search)
      : Effect.scoped(Effect.flatMap(localRunner(Math.min(workers, configs.length)), search))).pipe(Effect.onInterrupt(() => onInterrupt))
    yield* setInterruptNote("the search had finished; stopped while writing its results")
    const wall = (performance.now() - t0) / 1000
    if (appendError !== undefined) return yield* appendError
    const rows = rankResults(results, price)
    yield* write("--output", outputFile, (f) => fs.writeFileSync(f, slaCsv(names, variable, metrics, rows)))
    yield* Console.log(slaTable(names, variable, metrics, rows, price !== undefined))
    const failed = rows.filter((r) => r.outcome === "error").length
    yield* Console.log(`${configs.length} configurations, ${probeCount} probes in ${wall.toFixed(2)} s wall ${ranOn}; ` +
      `${variable} ${integer ? "to adjacent integers" : `within ${domain.tolerance * 100}%`}, probes ${domain.start}..${domain.max}`)
    if (failed > 0) return yield* new InvalidOption({ option: "sla", reason: `${failed} of ${configs.length} configurations failed (their rows hold the errors)` })
  })).pipe(Command.withDescription("Find each configuration's highest request rate or concurrency meeting SLA constraints, ranked per GPU"))

/**
 * `llmservingsim reproduce FILE [--traces DIR] [--bench-runs DIR] [--length-pool FILE,...]
 * [--perf-model SPEC] [--network SPEC] [--seed N] [--json] [--output FILE.csv]`: run every
 * published serving result in FILE (published-serving-benchmarks.csv layout) that the simulator
 * can express and print published vs predicted with the % error, the median absolute error per
 * metric family, and each row it cannot express with the missing feature (src/reproduce/).
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError, InvalidOption } from "../domain/errors.js"
import { parseNetworkSpec } from "../network/spec.js"
import { parsePerfModelSpec } from "../perf/spec.js"
import { formatReport, reportCsv, reproduce } from "../reproduce/run.js"
import { defaultPoolFiles } from "../reproduce/workload.js"
import { prepareOutputFile, writeFailure } from "./outputFile.js"

const opt = (name: string, d: string) => Options.text(name).pipe(Options.optional, Options.withDescription(d))

/** An existing folder given by flag, or FileError naming it. */
const existingDir = (flag: string, dir: string) =>
  fs.existsSync(dir) && fs.statSync(dir).isDirectory() ? Effect.succeed(dir) : Effect.fail(new FileError({ path: dir, reason: `no such folder (${flag})` }))

/** The `reproduce` subcommand (see the module comment). */
export const reproduceCommand = Command.make(
  "reproduce",
  {
    file: Args.text({ name: "FILE" }).pipe(Args.withDescription("Published results, one measured value per row (columns source,url,engine,engine_version,model,precision,gpu,num_gpus,tp,dataset,isl,osl,num_requests,load,metric,value,unit,notes), e.g. ../shared/reference/published-serving-benchmarks.csv")),
    traces: opt("traces", "Folder of LLMServingSim traces: exact workloads named by rows, and the ShareGPT-derived lengths (default: traces/llmservingsim next to FILE)"),
    benchRuns: opt("bench-runs", "Folder of measured runs in LLMServingSim's bench layout (<GPU>/<model>/vllm/meta.json): a row replaying one's workload takes its engine settings, as validate (default: llmservingsim-bench next to FILE)"),
    lengthPool: opt("length-pool", "Comma-separated trace files whose (prompt, output) lengths ShareGPT rows are resampled from (default: the sharegpt_*.jsonl files of <traces>/v2-2026-02)"),
    perfModel: opt("perf-model", "Step-time model for every run: roofline (default), op-roofline, profile:DIR_OR_CSV, calibrated:FILE"),
    network: opt("network", "Collective-time model for every run: alpha-beta (default), table:DIR, fit:DIR"),
    seed: Options.integer("seed").pipe(Options.optional, Options.withDescription("Seed of the resampled lengths and arrival times (default 0)")),
    output: opt("output", "Also write the rows as CSV here: scenario, line, metric, published, unit, predicted, error_pct, not_run_reason (default: write no file)"),
    json: Options.boolean("json").pipe(Options.withDescription("Print the report as JSON instead of the tables"))
  },
  (o) =>
    Effect.gen(function*() {
      const here = path.dirname(o.file)
      const tracesDir = Option.isSome(o.traces) ? yield* existingDir("--traces", o.traces.value) : path.join(here, "traces", "llmservingsim")
      const benchDir = Option.isSome(o.benchRuns) ? yield* existingDir("--bench-runs", o.benchRuns.value) : path.join(here, "llmservingsim-bench")
      // checked before any scenario runs (a bad value would otherwise fail every run, one by one)
      if (Option.isSome(o.perfModel)) yield* parsePerfModelSpec(o.perfModel.value)
      if (Option.isSome(o.network)) yield* parseNetworkSpec(o.network.value)
      const seed = Option.getOrElse(o.seed, () => 0)
      if (!(Number.isInteger(seed) && seed >= 0)) return yield* new InvalidOption({ option: "--seed", reason: `expected an integer >= 0 (got ${seed})` })
      let poolFiles: ReadonlyArray<string>
      if (Option.isSome(o.lengthPool)) {
        poolFiles = o.lengthPool.value.split(",").map((x) => x.trim()).filter((x) => x !== "")
        if (poolFiles.length === 0) return yield* new InvalidOption({ option: "--length-pool", reason: "expected one or more comma-separated trace files" })
      } else poolFiles = defaultPoolFiles(tracesDir)
      // a file that cannot be written is refused before the runs, not after them
      if (Option.isSome(o.output)) {
        const file = o.output.value
        yield* prepareOutputFile("--output", file)
      }
      const report = yield* reproduce(o.file, {
        tracesDir,
        benchDir,
        poolFiles,
        perfModel: Option.getOrUndefined(o.perfModel),
        network: Option.getOrUndefined(o.network),
        seed
      })
      if (Option.isSome(o.output)) {
        const file = o.output.value
        yield* Effect.try({ try: () => fs.writeFileSync(file, reportCsv(report)), catch: (e) => writeFailure("--output", file, e) })
      }
      yield* Console.log(o.json ? JSON.stringify(report, null, 2) : formatReport(report))
      if (Option.isSome(o.output) && !o.json) yield* Console.log(`rows written to ${o.output.value}`)
      // nothing compared is a failed reproduction, not a result (each scenario's reason is printed above)
      const compared = report.scenarios.reduce((n, sc) => n + sc.rows.filter((r) => r.errorPct !== undefined).length, 0)
      if (compared === 0) return yield* new InputError({ path: o.file, expected: "at least one row the simulator can run (0 rows compared; see each scenario's reason above)" })
    })
).pipe(Command.withDescription("Run the published serving results of a CSV that the simulator can express (vLLM: model, GPU, TP, load, dataset, version defaults) and print published vs predicted, % error, the median |error| per metric family, and each row it cannot express with the missing feature"))

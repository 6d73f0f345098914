/**
 * `llmservingsim setup-perf [--output-dir DIR] [--hardware H,...] [--models M,...]
 * [--calibration FILE,...] [--format both|v1|bundle]`: write a perf table for every hardware x
 * model pair (default: the seed's 11 GPUs x 3 models) from the datasheet per-operator roofline, or
 * from a calibration for the GPUs it was fitted on, in the LLMServingSim v1 CSV layout
 * (`DIR/perf_model/<HW>.csv`) and in our bundle layout (`DIR/perf/<HW>/<model>/<variant>/`),
 * which `--perf-model profile:DIR` reads back.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadHardware, loadModel } from "../config/catalog.js"
import { defaultEngineConfig } from "../domain/EngineConfig.js"
import { FileError, InvalidOption } from "../domain/errors.js"
import { type CalibrationFile, paramsOf, readCalibration } from "../perf/calibration.js"
import { datasheetOpParams, makeOpCosts } from "../perf/opModel.js"
import { bundleCsvs, bundleMeta, V1_HEADER, v1Rows } from "../perf/setupPerf.js"
import { mkdirs } from "../domain/mkdirs.js"

/** The GPUs of the fork's setup-perf (tools/perf_models/generate_perf_models.py) plus its base. */
export const SEED_HARDWARE = ["RTX3090", "H100", "A100", "L40", "RTX4090", "A6000", "A40", "RTX4080", "A10", "V100", "T4"]
/** The fork's three model configs. */
export const SEED_MODELS = ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen3-8B", "facebook/opt-6.7b"]

/** The comma-separated entries of `--flag`; an empty entry (two commas, one at an end) is refused. */
const list = (flag: string, s: string): Effect.Effect<Array<string>, InvalidOption> => {
  const xs = s.split(",").map((x) => x.trim())
  if (s.trim() === "") return Effect.succeed([])
  return xs.includes("") ? Effect.fail(new InvalidOption({ option: flag, reason: `an empty entry in '${s}' (two commas, or one at an end)` })) : Effect.succeed(xs)
}

/** The first name given twice (after resolving aliases and case), as an InvalidOption naming `flag`. */
const twice = (flag: string, given: ReadonlyArray<string>, names: ReadonlyArray<string>): InvalidOption | undefined => {
  const seen = new Map<string, string>()
  for (let i = 0; i < names.length; i++) {
    const before = seen.get(names[i]!)
    if (before !== undefined) {
      return new InvalidOption({ option: flag, reason: before === given[i] ? `'${before}' is given twice` : `'${before}' and '${given[i]}' are both ${names[i]}; give it once` })
    }
    seen.set(names[i]!, given[i]!)
  }
  return undefined
}

const write = (file: string, text: string) =>
  Effect.try({
    try: () => {
      mkdirs(path.dirname(file))
      fs.writeFileSync(file, text)
    },
    catch: (e) => new FileError({ path: file, reason: (e as Error).message })
  })

export const setupPerfCommand = Command.make(
  "setup-perf",
  {
    outputDir: Options.text("output-dir").pipe(Options.withDefault("perf_models"), Options.withDescription("Where to write perf_model/<HW>.csv and perf/<HW>/<model>/ (default perf_models)")),
    hardware: Options.text("hardware").pipe(Options.withDefault(SEED_HARDWARE.join(",")), Options.withDescription("Comma-separated GPUs (default: the seed's 11)")),
    models: Options.text("models").pipe(Options.withDefault(SEED_MODELS.join(",")), Options.withDescription("Comma-separated models (default: the seed's 3)")),
    calibration: Options.text("calibration").pipe(Options.withDefault(""), Options.withDescription("Comma-separated calibration files; each applies to the GPU it was fitted on (others use datasheet figures; default: none)")),
    format: Options.choice("format", ["both", "v1", "bundle"]).pipe(Options.withDefault("both" as const), Options.withDescription("v1 CSV, our bundle layout, or both (default)"))
  },
  (o) =>
    Effect.gen(function*() {
      const t0 = Date.now()
      const cals = new Map<string, CalibrationFile>()
      for (const f of yield* list("--calibration", o.calibration)) {
        const c = yield* readCalibration(f)
        const before = cals.get(c.hardware)
        if (before !== undefined) return yield* new InvalidOption({ option: "--calibration", reason: `two calibrations for ${c.hardware} (${f} and an earlier one); give one per GPU` })
        cals.set(c.hardware, c)
      }
      const hwNames = yield* list("--hardware", o.hardware)
      const hws = yield* Effect.forEach(hwNames, loadHardware)
      const modelNames = yield* list("--models", o.models)
      const models = yield* Effect.forEach(modelNames, (m) => Effect.map(loadModel(m), (x) => x.shape))
      const dup = twice("--hardware", hwNames, hws.map((h) => h.name)) ?? twice("--models", modelNames, models.map((m) => m.id))
      if (dup !== undefined) return yield* dup
      if (hws.length === 0 || models.length === 0) return yield* new InvalidOption({ option: "--hardware/--models", reason: "nothing to write" })
      let files = 0
      let rows = 0
      for (const hw of hws) {
        const cal = cals.get(hw.name)
        const params = cal === undefined ? datasheetOpParams : paramsOf(cal)
        const source = cal === undefined ? "datasheet roofline" : `calibrated on ${cal.fitted_on.model}`
        const v1: Array<string> = [V1_HEADER]
        for (const m of models) {
          const dtypeBytes = m.dtypeBytes
          const e = defaultEngineConfig(m.maxPositions, dtypeBytes)
          const costs = makeOpCosts(m, hw, e, params)
          if (o.format !== "bundle") {
            const r = v1Rows(costs, m, hw.name)
            rows += r.split("\n").length - 1
            v1.push(r)
          }
          if (o.format !== "v1") {
            const variant = hw.bf16Tflops === null ? "fp16" : dtypeBytes === 1 ? "fp8" : "bf16"
            const dir = path.join(o.outputDir, "perf", hw.name, ...m.name.split("/"), variant)
            const csv = bundleCsvs(costs)
            yield* write(path.join(dir, "meta.yaml"), bundleMeta(m, hw, e, variant, source, params))
            yield* write(path.join(dir, "tp1", "dense.csv"), csv.dense)
            yield* write(path.join(dir, "tp1", "per_sequence.csv"), csv.perSequence)
            yield* write(path.join(dir, "tp1", "attention.csv"), csv.attention)
            files += 4
          }
        }
        if (o.format !== "bundle") {
          yield* write(path.join(o.outputDir, "perf_model", `${hw.name}.csv`), v1.join(""))
          files++
        }
        yield* Console.log(`${hw.name.padEnd(10)} ${models.length} models (${source})`)
      }
      yield* Console.log(`wrote ${hws.length * models.length} hardware x model tables (${files} files${rows > 0 ? `, ${rows} v1 rows` : ""}) under ${o.outputDir}/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    })
).pipe(Command.withDescription("Write perf tables for every hardware x model pair (LLMServingSim v1 CSV and our bundle layout) from the datasheet or calibrated roofline"))

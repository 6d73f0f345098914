/**
 * `llmservingsim calibrate --profile PATH --hardware H --model M -o FILE`: fit the per-operator
 * roofline's efficiencies and overheads to a measured profile and write them as a calibration
 * file (`--perf-model calibrated:FILE`). Prints per-kernel error of the datasheet defaults and of
 * the fit. Refuses a profile without points of one kernel family (GEMM, attention, element-wise);
 * prints one note per fitted efficiency above 100% of the datasheet peak, saying why it is kept.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { loadHardware, loadModel } from "../config/catalog.js"
import { defaultEngineConfig } from "../domain/EngineConfig.js"
import { FitRejected, InvalidOption } from "../domain/errors.js"
import { calibrate, checkFamilies, efficiencyNotes } from "../perf/calibrate.js"
import { type CalibrationFile, writeCalibration } from "../perf/calibration.js"
import type { FitStat } from "../perf/calibration.js"
import { loadProfile } from "../perf/profile/load.js"

const pct = (x: number) => `${x >= 0 ? "" : ""}${x.toFixed(1)}%`

export const formatFitTable = (datasheet: Record<string, FitStat>, fit: Record<string, FitStat> | undefined): string => {
  const out = [`${"kernel".padEnd(16)}${"points".padStart(7)}${"datasheet mean|err|".padStart(21)}${"signed".padStart(9)}${fit === undefined ? "" : "fitted mean|err|".padStart(19) + "max".padStart(8) + "signed".padStart(9)}`]
  for (const [op, d] of Object.entries(datasheet)) {
    const f = fit?.[op]
    out.push(`${op.padEnd(16)}${String(d.points).padStart(7)}${pct(d.mean_abs_err_pct).padStart(21)}${pct(d.signed_mean_err_pct).padStart(9)}` +
      (f === undefined ? "" : `${pct(f.mean_abs_err_pct).padStart(19)}${pct(f.max_abs_err_pct).padStart(8)}${pct(f.signed_mean_err_pct).padStart(9)}`))
  }
  return out.join("\n")
}

export const calibrateCommand = Command.make(
  "calibrate",
  {
    profile: Options.text("profile").pipe(Options.withDescription("Measured profile: LLMServingSim 2.0 bundle, v1/v0 CSV, Vidur mlp.csv, or a folder of them")),
    hardware: Options.text("hardware").pipe(Options.withDescription("The GPU the profile was measured on")),
    model: Options.text("model").pipe(Options.withDescription("The model the profile measured (bundled id or config.json path)")),
    output: Options.text("output").pipe(Options.withAlias("o"), Options.optional, Options.withDescription("Write the calibration JSON here (default: print only)")),
    tensorParallelSize: Options.integer("tensor-parallel-size").pipe(Options.withDefault(1), Options.withDescription("TP degree of the profile tables to fit (default 1)")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the calibration JSON to stdout")),
    force: Options.boolean("force").pipe(Options.withDescription("Write the calibration even when it fits the profile worse than the datasheet defaults"))
  },
  (o) =>
    Effect.gen(function*() {
      if (o.tensorParallelSize < 1) return yield* new InvalidOption({ option: "--tensor-parallel-size", reason: "expected a positive integer" })
      const model = (yield* loadModel(o.model)).shape
      const hw = yield* loadHardware(o.hardware)
      const prof = yield* loadProfile(o.profile, { model, hardware: hw, tp: o.tensorParallelSize })
      const engine = { ...defaultEngineConfig(model.maxPositions, model.dtypeBytes), tensorParallelSize: prof.tp }
      yield* checkFamilies(prof)
      const t0 = Date.now()
      const r = calibrate(prof, model, hw, engine)
      const notes = efficiencyNotes(r.params, hw, engine.weightDtypeBytes)
      const doc: CalibrationFile = {
        format: "llmservingsim-ts/calibration",
        version: 1,
        hardware: hw.name,
        fitted_on: { profile: prof.source, model: model.id, format: prof.format },
        params: r.params,
        fit: r.fit
      }
      // A fit worse than the defaults it started from means the tables hold something the roofline
      // cannot express (e.g. per-layer framework overhead in the v0 profiles): refuse to write it.
      const meanErr = (stats: Record<string, FitStat>) => {
        const xs = Object.values(stats).map((x) => x.mean_abs_err_pct)
        return xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length)
      }
      const before = meanErr(r.datasheet)
      const after = r.fit === undefined ? before : meanErr(r.fit)
      if (after > before && !o.force) {
        yield* Console.warn(formatFitTable(r.datasheet, r.fit))
        return yield* new FitRejected({
          reason: `the fit is worse than the datasheet defaults (mean kernel error ${after.toFixed(1)}% vs ${before.toFixed(1)}%) on ${prof.source}: ` +
            `its tables likely carry overheads the roofline cannot express; calibration not written (use --force to write it anyway)`
        })
      }
      if (Option.isSome(o.output)) yield* writeCalibration(o.output.value, doc)
      if (o.json) {
        for (const n of notes) yield* Console.warn(`note: ${n}`)
        return yield* Console.log(JSON.stringify(doc, null, 2))
      }
      const p = r.params
      yield* Console.log(`Calibration of ${hw.name} from ${prof.format} profile ${prof.source} (${model.id}, tp${prof.tp}; ${r.points} points, ${Date.now() - t0} ms)`)
      yield* Console.log(`  GEMM: ${(p.gemmComputeEff * 100).toFixed(1)}% of ${hw.bf16Tflops ?? hw.fp16Tflops} TFLOP/s, ${(p.gemmMemoryEff * 100).toFixed(1)}% of ${hw.memoryBandwidthGBs} GB/s`)
      yield* Console.log(`  attention: ${(p.attnComputeEff * 100).toFixed(1)}% of peak FLOP/s, ${(p.attnMemoryEff * 100).toFixed(1)}% of bandwidth;  element-wise: ${(p.elementwiseMemoryEff * 100).toFixed(1)}% of bandwidth`)
      yield* Console.log(`  kernel overhead ${(p.kernelOverheadNs / 1000).toFixed(2)} us, roofline smoothing p = ${p.smoothing.toFixed(2)}, step overhead ${p.stepOverheadNs} ns (not in a kernel profile)`)
      for (const n of notes) yield* Console.log(`  note: ${n}`)
      yield* Console.log("")
      yield* Console.log(formatFitTable(r.datasheet, r.fit))
      if (Option.isSome(o.output)) yield* Console.log(`\ncalibration written to ${o.output.value} (use --perf-model calibrated:${o.output.value})`)
    })
).pipe(Command.withDescription("Fit the roofline's efficiencies and overheads to a measured profile; prints per-kernel fit error"))



/**
 * Calibration files: the per-operator roofline's efficiencies and overheads fitted to a measured
 * profile by `llmservingsim calibrate`, loaded with `--perf-model calibrated:FILE`. JSON:
 *   { "format": "llmservingsim-ts/calibration", "version": 1,
 *     "hardware": "RTX4090", "fitted_on": { "profile": "...", "model": "...", "format": "..." },
 *     "params": { gemmComputeEff, gemmMemoryEff, attnComputeEff, attnMemoryEff,
 *                 elementwiseMemoryEff, kernelOverheadNs, stepOverheadNs, smoothing },
 *     "fit": { "<kernel>": { "points": n, "mean_abs_err_pct": x, "max_abs_err_pct": y }, ... } }
 * Efficiencies are fractions of the datasheet peaks of `hardware`, so they transfer to every
 * model on that GPU (and, less exactly, to GPUs of the same family).
 */
import { Effect, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import { FileError, InputError } from "../domain/errors.js"
import type { OpParams } from "./opModel.js"

const Frac = Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(2.5))
const NonNeg = Schema.Number.pipe(Schema.greaterThanOrEqualTo(0))

export const OpParamsSchema = Schema.Struct({
  gemmComputeEff: Frac,
  gemmMemoryEff: Frac,
  attnComputeEff: Frac,
  attnMemoryEff: Frac,
  elementwiseMemoryEff: Frac,
  kernelOverheadNs: NonNeg,
  stepOverheadNs: NonNeg,
  smoothing: Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)),
  attnSeqBandwidthGBs: Schema.optional(NonNeg),
  attnPrefillBandwidthGBs: Schema.optional(NonNeg),
  attnMixedMemoryEff: Schema.optional(Frac)
})

export const FitStat = Schema.Struct({ points: Schema.Number, mean_abs_err_pct: Schema.Number, max_abs_err_pct: Schema.Number, signed_mean_err_pct: Schema.Number })
export type FitStat = typeof FitStat.Type

export const CalibrationFile = Schema.Struct({
  format: Schema.Literal("llmservingsim-ts/calibration"),
  version: Schema.Literal(1),
  hardware: Schema.String,
  fitted_on: Schema.Struct({ profile: Schema.String, model: Schema.String, format: Schema.String }),
  params: OpParamsSchema,
  fit: Schema.Record({ key: Schema.String, value: FitStat })
})
export type CalibrationFile = typeof CalibrationFile.Type

export const readCalibration = (file: string): Effect.Effect<CalibrationFile, FileError | InputError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new FileError({ path: file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message })
    })
    const raw = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: (e) => new InputError({ path: file, expected: "valid JSON", got: (e as Error).message }) })
    return yield* Schema.decodeUnknown(CalibrationFile, { onExcessProperty: "ignore" })(raw).pipe(
      Effect.mapError((e) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
        return new InputError({ path: file, field: issue?.path.join("."), expected: issue?.message ?? "a calibration file (llmservingsim calibrate -o FILE)" })
      })
    )
  })

export const writeCalibration = (file: string, c: CalibrationFile): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n"),
    catch: (e) => new FileError({ path: file, reason: (e as Error).message })
  })

export const paramsOf = (c: CalibrationFile): OpParams => c.params

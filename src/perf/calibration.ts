/**
 * Calibration files: what `llmservingsim calibrate` fitted, loaded with `--perf-model calibrated:FILE`.
 * A calibration has two parts, kept apart because they transfer differently:
 *  - the GPU part (`gpu`): the per-operator roofline's efficiencies (fractions of the datasheet
 *    peaks of `hardware`, the GPU it was fitted on), per-kernel overhead and corner smoothing
 *    (perf/opModel.ts). It describes that GPU, for every model;
 *  - the stack part (`stack`): what the serving stack costs outside the GPU kernels: the per-step
 *    CPU overhead (`step_overhead_ns`, what `--step-overhead-us` sets) and, when fitted from a run
 *    measured at the client, the API server's front end (`front_end`: `ingress_us`,
 *    `tokenize_us_per_token`, `egress_us`, what the `--frontend-*` flags set; frontend/FrontEnd.ts).
 *
 * Applied on the GPU it was fitted on, both parts are used (the per-operator roofline with the GPU
 * part). Applied on another GPU, the stack part is kept and the GPU part is re-derived from that
 * GPU's datasheet: the datasheet roofline, the default perf model (`--compute-efficiency` etc.
 * honoured), with the stack part's overheads. A fitted efficiency describes its own GPU's kernels
 * and clocks: carried as-is from the RTX 4090 run to the RTX PRO 6000 it put E2E 21% under the
 * profile-driven replay, against 7.6% for the datasheet (calibrate --run --transfer-hardware).
 * Explicit flags win over the file: `--step-overhead-us` over `step_overhead_ns`, each
 * `--frontend-*` flag over its `front_end` field (config/resolve.ts).
 *
 * Format, version 2 (written by this version):
 *   { "format": "llmservingsim-ts/calibration", "version": 2, "hardware": "RTX4090",
 *     "fitted_on": { "model": "...", "format": "...", "profile"?: "...", "run"?: "...", "workload"?: "..." },
 *     "gpu": { gemmComputeEff, gemmMemoryEff, attnComputeEff, attnMemoryEff, elementwiseMemoryEff,
 *              kernelOverheadNs, smoothing, attnMixedMemoryEff?, attnSeqBandwidthGBs?, attnPrefillBandwidthGBs? },
 *     "stack": { "step_overhead_ns": 0, "front_end"?: { "ingress_us", "tokenize_us_per_token", "egress_us" } },
 *     "fit"?: { "<kernel>": { points, mean_abs_err_pct, max_abs_err_pct, signed_mean_err_pct } },
 *     "run_fit"?: { ... what `calibrate --run` fitted and its fit / held-out errors } }
 * Version 1 (earlier `calibrate --profile`) still loads: { ..., "fitted_on": { profile, model, format },
 * "params": { the GPU part's fields plus stepOverheadNs }, "fit": {...} }; its `params` are the GPU
 * part and its `params.stepOverheadNs` the stack part.
 */
import { Effect, ParseResult, Schema } from "effect"
import * as fs from "node:fs"
import { FileError, InputError } from "../domain/errors.js"
import type { FrontEndParams } from "../frontend/FrontEnd.js"
import type { RooflineParams } from "../domain/PerfParams.js"
import type { OpParams } from "./opModel.js"
import { schemaIssue } from "../domain/schemaIssue.js"
import { readJson } from "../config/catalog.js"

const Frac = Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(2.5))
const NonNeg = Schema.Number.pipe(Schema.greaterThanOrEqualTo(0))

const gpuFields = {
  gemmComputeEff: Frac,
  gemmMemoryEff: Frac,
  attnComputeEff: Frac,
  attnMemoryEff: Frac,
  elementwiseMemoryEff: Frac,
  kernelOverheadNs: NonNeg,
  smoothing: Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)),
  attnSeqBandwidthGBs: Schema.optional(NonNeg),
  attnPrefillBandwidthGBs: Schema.optional(NonNeg),
  attnMixedMemoryEff: Schema.optional(Frac)
}

/** Version 1's `params`: the GPU part plus the per-step overhead, ns. */
export const OpParamsSchema = Schema.Struct({ ...gpuFields, stepOverheadNs: NonNeg })

/** The GPU part: OpParams without the per-step overhead (which is the stack's). */
export const GpuParamsSchema = Schema.Struct(gpuFields)
export type GpuParams = typeof GpuParamsSchema.Type

/** The front end as a calibration file writes it, us. */
export const FrontEndSchema = Schema.Struct({ ingress_us: NonNeg, tokenize_us_per_token: NonNeg, egress_us: NonNeg })

/** The stack part. */
export const StackSchema = Schema.Struct({ step_overhead_ns: NonNeg, front_end: Schema.optional(FrontEndSchema) })
export type StackPart = typeof StackSchema.Type

/** One kernel's fit error against a profile: points, mean/max |%| and signed mean %. */
export const FitStat = Schema.Struct({ points: Schema.Number, mean_abs_err_pct: Schema.Number, max_abs_err_pct: Schema.Number, signed_mean_err_pct: Schema.Number })
export type FitStat = typeof FitStat.Type

const FORMAT = "llmservingsim-ts/calibration"

/** Version 1 as earlier versions wrote it (read only). */
export const CalibrationFileV1 = Schema.Struct({
  format: Schema.Literal(FORMAT),
  version: Schema.Literal(1),
  hardware: Schema.String,
  fitted_on: Schema.Struct({ profile: Schema.String, model: Schema.String, format: Schema.String }),
  params: OpParamsSchema,
  fit: Schema.Record({ key: Schema.String, value: FitStat })
})

/** Version 2: the GPU part and the stack part apart (see the module comment). */
export const CalibrationFile = Schema.Struct({
  format: Schema.Literal(FORMAT),
  version: Schema.Literal(2),
  hardware: Schema.String,
  fitted_on: Schema.Struct({
    model: Schema.String,
    format: Schema.String,
    profile: Schema.optional(Schema.String),
    run: Schema.optional(Schema.String),
    workload: Schema.optional(Schema.String)
  }),
  gpu: GpuParamsSchema,
  stack: StackSchema,
  fit: Schema.optional(Schema.Record({ key: Schema.String, value: FitStat })),
  run_fit: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
export type CalibrationFile = typeof CalibrationFile.Type

/** A version 1 file as version 2 (`params` split into the GPU part and the per-step overhead). */
export const upgradeV1 = (c: typeof CalibrationFileV1.Type): CalibrationFile => {
  const { stepOverheadNs, ...gpu } = c.params
  return {
    format: FORMAT,
    version: 2,
    hardware: c.hardware,
    fitted_on: { model: c.fitted_on.model, format: c.fitted_on.format, profile: c.fitted_on.profile },
    gpu,
    stack: { step_overhead_ns: stepOverheadNs },
    fit: c.fit
  }
}

const issueOf = (file: string, e: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey> = []) => {
  const issue = schemaIssue(e)
  const field = [...prefix.map(String), ...(issue.path === "" ? [] : [issue.path])].join(".")
  return new InputError({ path: file, field: field === "" ? undefined : field, expected: issue.expected })
}

/**
 * Decode a parsed calibration file (version 1 or 2; version 1 is upgraded in memory). Fails with
 * InputError naming `file` and the first bad field (`format`, `version`, `gpu.gemmComputeEff`, ...).
 */
export const decodeCalibration = (file: string, raw: unknown): Effect.Effect<CalibrationFile, InputError> =>
  Effect.gen(function*() {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return yield* new InputError({ path: file, expected: "a JSON object (a calibration file: llmservingsim calibrate -o FILE)" })
    const o = raw as Record<string, unknown>
    if (o["format"] !== FORMAT) return yield* new InputError({ path: file, field: "format", expected: `"${FORMAT}" (a file written by llmservingsim calibrate -o FILE)`, got: JSON.stringify(o["format"]) })
    if (o["version"] === 1) {
      const v1 = yield* Schema.decodeUnknown(CalibrationFileV1, { onExcessProperty: "ignore" })(raw).pipe(Effect.mapError((e) => issueOf(file, e)))
      return upgradeV1(v1)
    }
    if (o["version"] !== 2) return yield* new InputError({ path: file, field: "version", expected: "1 or 2", got: JSON.stringify(o["version"]) })
    for (const part of ["gpu", "stack"] as const) {
      if (typeof o[part] !== "object" || o[part] === null || Array.isArray(o[part])) {
        return yield* new InputError({ path: file, field: part, expected: `an object (the ${part === "gpu" ? "GPU part: kernel efficiencies" : "stack part: step_overhead_ns, front_end"})`, got: JSON.stringify(o[part]) })
      }
    }
    return yield* Schema.decodeUnknown(CalibrationFile, { onExcessProperty: "ignore" })(raw).pipe(Effect.mapError((e) => issueOf(file, e)))
  })

/**
 * Read a calibration file (version 1 or 2). Fails with FileError when it cannot be read and
 * InputError (file and field) when it is not valid JSON or not a calibration.
 */
export const readCalibration = (file: string): Effect.Effect<CalibrationFile, FileError | InputError> =>
  Effect.gen(function*() {
    const raw = yield* readJson(file)
    return yield* decodeCalibration(file, raw)
  })

/** Write `c` as JSON (version 2). Fails with FileError. */
export const writeCalibration = (file: string, c: CalibrationFile): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n"),
    catch: (e) => new FileError({ path: file, reason: (e as Error).message })
  })

/** The GPU part of `p` (OpParams without its per-step overhead). */
export const gpuPartOf = (p: OpParams): GpuParams => {
  const { stepOverheadNs: _, ...gpu } = p
  return gpu
}

/** The calibration's OpParams on the GPU it was fitted on: its GPU part with its stack part's per-step overhead. */
export const paramsOf = (c: CalibrationFile): OpParams => ({ ...c.gpu, stepOverheadNs: c.stack.step_overhead_ns })

/** The front end a calibration's stack part gives (us), or undefined when it fitted none. */
export const frontEndOf = (c: CalibrationFile): FrontEndParams | undefined =>
  c.stack.front_end === undefined ? undefined : { ingressUs: c.stack.front_end.ingress_us, tokenizeUsPerToken: c.stack.front_end.tokenize_us_per_token, egressUs: c.stack.front_end.egress_us }

/** How a calibration applies on one GPU (see applyCalibration). */
export type AppliedCalibration =
  /** On the GPU it was fitted on: the per-operator roofline with the file's GPU part. */
  | { readonly gpuPart: "fitted"; readonly params: OpParams; readonly name: string }
  /** On another GPU: the datasheet roofline (the default perf model) with the file's per-step overhead. */
  | { readonly gpuPart: "datasheet"; readonly roofline: RooflineParams; readonly name: string }

/**
 * How calibration `c` prices steps on GPU `hardware` (a catalogue name): on the GPU it was fitted
 * on, the per-operator roofline with its GPU part; on another GPU, the datasheet roofline of
 * `datasheet` (that GPU's defaults as the roofline flags resolved them, the default perf model), i.e.
 * the GPU part re-derived from the datasheet. Either way with the stack part's per-step overhead,
 * unless `stepOverheadFlagNs` (an explicit --step-overhead-us, ns) is given. (The front end of the
 * stack part is applied by config/resolve.ts.) Pure; cannot fail.
 */
export const applyCalibration = (c: CalibrationFile, hardware: string, datasheet: RooflineParams, stepOverheadFlagNs?: number): AppliedCalibration => {
  const stepOverheadNs = stepOverheadFlagNs ?? c.stack.step_overhead_ns
  if (c.hardware === hardware) return { gpuPart: "fitted", params: { ...c.gpu, stepOverheadNs }, name: `calibrated(${hardware}, from ${c.fitted_on.model})` }
  return {
    gpuPart: "datasheet",
    roofline: { ...datasheet, stepOverheadNs },
    name: `calibrated(${hardware}: GPU part from its datasheet roofline, stack part from ${c.hardware} ${c.fitted_on.model})`
  }
}

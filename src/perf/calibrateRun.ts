/**
 * The parts of `calibrate --run` around the fit (perf/runFit.ts): the replay that one evaluation
 * runs, the calibration file a run fit writes, and the transfer check on another GPU.
 *
 * Transfer check (`transferCheck`): a calibration carried to another GPU keeps its stack part and
 * takes that GPU's datasheet efficiencies (perf/calibration.ts). With no serving run on that GPU,
 * the reference is the same workload and engine settings simulated with that GPU's measured kernel
 * profile (`profile:`) plus the calibration's stack part (per-step overhead; the front end where
 * the run was timed at the client), i.e. what the measured kernels would do under the same serving
 * stack. Against it: the carried calibration (the datasheet roofline with the stack part), the
 * datasheet roofline (`roofline`, the default perf model, per-step overhead as `validate` sets it)
 * and, for comparison, the per-kernel datasheet roofline and the calibration's GPU part carried
 * as-is (what `calibrated:` did before). The
 * verdict: the carried calibration's mean |% error| over TPOT and E2E (mean, p50, p90, p99) is no
 * larger than the datasheet roofline's. Also the per-kernel error against that profile, as
 * `calibrate --profile` computes it.
 */
import { Effect, Stream } from "effect"
import type { SimConfig } from "../config/ConfigService.js"
import { type ConfigError, type EngineFlags, resolveConfig } from "../config/resolve.js"
import type { FileError, InputError, InvalidOption, NoKvMemory } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { simulate } from "../engine/simulate.js"
import { distributionOfValues } from "../metrics/stats.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { replayLayer } from "../validate/replay.js"
import { collectSimRequests, collectSimSamples, type SimRequestValues } from "../validate/simSamples.js"
import { fitPoints, fitStats } from "./calibrate.js"
import { type AppliedCalibration, applyCalibration, type CalibrationFile, frontEndOf, paramsOf } from "./calibration.js"
import type { OpParams } from "./opModel.js"
import { loadProfile } from "./profile/load.js"
import { RUN_METRICS, RUN_STATS, type RunFitResult, type RunMetric, type RunParams, type RunStat, type SubsetError } from "./runFit.js"
import { opParamsFromRoofline } from "./spec.js"

/** A calibration file holding `p` for GPU `hardware` (what one evaluation simulates with). */
const evaluationCalibration = (hardware: string, model: string, p: RunParams): CalibrationFile => ({
  format: "llmservingsim-ts/calibration",
  version: 2,
  hardware,
  fitted_on: { model, format: "calibrate --run (evaluation)" },
  gpu: p.gpu,
  stack: { step_overhead_ns: p.stepOverheadNs, front_end: { ingress_us: p.frontEnd.ingressUs, tokenize_us_per_token: p.frontEnd.tokenizeUsPerToken, egress_us: p.frontEnd.egressUs } }
})

/**
 * One replay of `arrivals` under `cfg` with the perf model and front end of `p` (the per-operator
 * roofline; the front end only when `clientMeasured`): the per-request TTFT/TPOT/E2E by arrival
 * index. Fails with InvalidOption or NoKvMemory when the instances cannot fit in memory, or a
 * FileError (none written: the trace writer is off).
 */
export const replaySimulator = (cfg: SimConfig, arrivals: ReadonlyArray<Arrival>, clientMeasured: boolean) =>
  (p: RunParams): Effect.Effect<SimRequestValues, FileError | InvalidOption | NoKvMemory> => {
    const c: SimConfig = {
      ...cfg,
      perfModel: { spec: { kind: "calibrated", path: "(calibrate --run)", calibration: evaluationCalibration(cfg.hardware.name, cfg.model.id, p) } },
      frontEnd: p.frontEnd
    }
    const col = collectSimRequests(arrivals.length)
    return simulate(Stream.fromIterable(arrivals), { observer: col.observer }).pipe(
      Effect.provide(replayLayer(c, TraceWriter.none, clientMeasured)),
      Effect.as(col.values)
    )
  }

const errorJson = (e: SubsetError | undefined) => (e === undefined ? null : { requests: e.requests, ...e.pct })

/** What the run fit was given, for the calibration file. */
export interface RunFitSource {
  readonly hardware: string
  readonly model: string
  /** The run's format (llmservingsim-bench, vllm-bench-serve). */
  readonly format: string
  readonly run: string
  readonly workload?: string | undefined
  readonly holdout: number
  readonly holdoutSeed: number
  /** The front end is part of the run's timings (and of the stack part). */
  readonly clientMeasured: boolean
  /** Where the start values came from (e.g. "datasheet", a calibration file). */
  readonly start: string
}

/** The calibration file (version 2) of a run fit: GPU part, stack part and the fit's record (`run_fit`). */
export const runCalibrationFile = (r: RunFitResult, s: RunFitSource): CalibrationFile => ({
  format: "llmservingsim-ts/calibration",
  version: 2,
  hardware: s.hardware,
  fitted_on: { model: s.model, format: s.format, run: s.run, ...(s.workload === undefined ? {} : { workload: s.workload }) },
  gpu: r.params.gpu,
  stack: {
    step_overhead_ns: r.params.stepOverheadNs,
    ...(s.clientMeasured ? { front_end: { ingress_us: r.params.frontEnd.ingressUs, tokenize_us_per_token: r.params.frontEnd.tokenizeUsPerToken, egress_us: r.params.frontEnd.egressUs } } : {})
  },
  run_fit: {
    objective: r.objective,
    fitted: r.fitted,
    start: s.start,
    evaluations: r.evaluations,
    seconds: r.seconds,
    holdout: s.holdout,
    holdout_seed: s.holdoutSeed,
    start_loss: r.startLoss,
    loss: r.loss,
    error_pct: { fit: errorJson(r.error.fit), held_out: errorJson(r.error.heldOut) },
    start_error_pct: { fit: errorJson(r.startError.fit), held_out: errorJson(r.startError.heldOut) }
  }
})

/** One perf model's % error vs the reference, per metric and statistic. */
export interface TransferRow {
  readonly label: string
  readonly perfModel: string
  readonly pct: Readonly<Record<RunMetric, Readonly<Record<RunStat, number>>>>
  /** Mean |%| over TPOT and E2E's mean, p50, p90, p99 (the verdict's measure). */
  readonly tpotE2eMeanAbsPct: number
}

/** The transfer check's result (see the module comment). */
export interface TransferCheck {
  readonly hardware: string
  /** The reference's perf model name. */
  readonly reference: string
  readonly stepOverheadNs: number
  readonly rows: ReadonlyArray<TransferRow>
  /** The carried calibration is no worse than the datasheet roofline on TPOT and E2E. */
  readonly noWorse: boolean
  /** Mean over kernels of the mean |% error| against the target's profile. */
  readonly kernels: { readonly profile: string; readonly points: number; readonly datasheet: number; readonly carried: number; readonly asIs: number }
}

const statsOf = (xs: Float64Array): Record<RunStat, number> => {
  const d = distributionOfValues(xs)
  return { mean: d.mean, p50: d.median, p90: d.p90, p99: d.p99 }
}

/** The per-operator parameters of an applied calibration (the datasheet roofline's, kernel by kernel, on another GPU). */
export const opParamsOfApplied = (a: AppliedCalibration): OpParams => (a.gpuPart === "fitted" ? a.params : opParamsFromRoofline(a.roofline))

const meanKernelErr = (stats: Record<string, { mean_abs_err_pct: number }>) => {
  const xs = Object.values(stats).map((x) => x.mean_abs_err_pct)
  return xs.reduce((a, x) => a + x, 0) / Math.max(1, xs.length)
}

/**
 * The transfer check of calibration `c` on GPU `hardware` (see the module comment): `flags` are the
 * replay's engine flags (the run's settings), `profile` the target's measured kernel profile
 * (a `profile:` path). Fails with the configuration's errors (e.g. a profile without that GPU).
 */
export const transferCheck = (flags: EngineFlags, arrivals: ReadonlyArray<Arrival>, clientMeasured: boolean, c: CalibrationFile, hardware: string, profile: string): Effect.Effect<TransferCheck, ConfigError | FileError | InputError | InvalidOption> =>
  Effect.gen(function*() {
    const base = yield* resolveConfig({ ...flags, hardware, perfModel: undefined })
    const stackFront = frontEndOf(c) ?? base.frontEnd
    const profCfg0 = yield* resolveConfig({ ...flags, hardware, perfModel: `profile:${profile}`, stepOverheadUs: c.stack.step_overhead_ns / 1000 })
    const profCfg: SimConfig = { ...profCfg0, frontEnd: stackFront }
    const carried: SimConfig = { ...base, perfModel: { spec: { kind: "calibrated", path: "(this calibration)", calibration: c } }, frontEnd: stackFront }
    const asIs: SimConfig = { ...base, perfModel: { spec: { kind: "calibrated", path: "(GPU part carried as-is)", calibration: { ...c, hardware } } }, frontEnd: stackFront }
    const opRoofline: SimConfig = { ...base, perfModel: { spec: { kind: "op-roofline" } } }
    const run = (cfg: SimConfig) =>
      Effect.gen(function*() {
        const col = collectSimSamples(false)
        const r = yield* simulate(Stream.fromIterable(arrivals), { observer: col.observer }).pipe(Effect.provide(replayLayer(cfg, TraceWriter.none, clientMeasured)))
        return { name: r.perfModel, stats: { ttft: statsOf(col.samples.ttft.values()), tpot: statsOf(col.samples.tpot.values()), e2el: statsOf(col.samples.e2el.values()) } }
      })
    const ref = yield* run(profCfg)
    const rows: Array<TransferRow> = []
    for (const [label, cfg] of [
      ["calibrated: carried (stack part + datasheet roofline)", carried],
      ["roofline: datasheet defaults", base],
      ["op-roofline: datasheet, per kernel", opRoofline],
      ["calibrated: GPU part carried as-is (before)", asIs]
    ] as const) {
      const r = yield* run(cfg)
      const pct = {} as Record<RunMetric, Record<RunStat, number>>
      let abs = 0
      for (const k of RUN_METRICS) {
        pct[k] = { mean: 0, p50: 0, p90: 0, p99: 0 }
        for (const st of RUN_STATS) {
          const m = ref.stats[k][st]
          pct[k][st] = m === 0 ? 0 : (r.stats[k][st] - m) / m * 100
          if (k !== "ttft") abs += Math.abs(pct[k][st]) / 8
        }
      }
      rows.push({ label, perfModel: r.name, pct, tpotE2eMeanAbsPct: abs })
    }
    // per kernel, against the target's profile (as calibrate --profile computes it)
    const prof = yield* loadProfile(profile, { model: base.model, hardware: base.hardware, tp: base.engine.tensorParallelSize })
    const pts = fitPoints(prof)
    const datasheet: OpParams = opParamsFromRoofline(base.roofline)
    const k = (p: OpParams) => meanKernelErr(fitStats(pts, base.model, base.hardware, base.engine, p))
    return {
      hardware: base.hardware.name,
      reference: ref.name,
      stepOverheadNs: c.stack.step_overhead_ns,
      rows,
      noWorse: rows[0]!.tpotE2eMeanAbsPct <= rows[1]!.tpotE2eMeanAbsPct,
      kernels: {
        profile: prof.source,
        points: pts.length,
        datasheet: k(datasheet),
        carried: k(opParamsOfApplied(applyCalibration(c, base.hardware.name, base.roofline))),
        asIs: k(paramsOf(c))
      }
    }
  })

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
import { type CalibrationFile, gpuPartOf, writeCalibration } from "../perf/calibration.js"
import type { FitStat } from "../perf/calibration.js"
import { loadProfile } from "../perf/profile/load.js"
import { RUN_FIT_PARAMS } from "../perf/runFit.js"
import { calibrateFromRun } from "./calibrateRunCommand.js"
import { ENGINE_OVERRIDE_OPTIONS, engineOverridesOf } from "./validateCommand.js"
import { prepareOutputFile } from "./outputFile.js"

const pct = (x: number) => `${x >= 0 ? "" : ""}${x.toFixed(1)}%`

/** The per-kernel table of `calibrate --profile`: points and mean/signed error of the datasheet defaults and, when given, of the fit (%). */
export const formatFitTable = (datasheet: Record<string, FitStat>, fit: Record<string, FitStat> | undefined): string => {
  const out = [`${"kernel".padEnd(16)}${"points".padStart(7)}${"datasheet mean|err|".padStart(21)}${"signed".padStart(9)}${fit === undefined ? "" : "fitted mean|err|".padStart(19) + "max".padStart(8) + "signed".padStart(9)}`]
  for (const [op, d] of Object.entries(datasheet)) {
    const f = fit?.[op]
    out.push(`${op.padEnd(16)}${String(d.points).padStart(7)}${pct(d.mean_abs_err_pct).padStart(21)}${pct(d.signed_mean_err_pct).padStart(9)}` +
      (f === undefined ? "" : `${pct(f.mean_abs_err_pct).padStart(19)}${pct(f.max_abs_err_pct).padStart(8)}${pct(f.signed_mean_err_pct).padStart(9)}`))
  }
  return out.join("\n")
}

const optText = (name: string, d: string) => Options.text(name).pipe(Options.optional, Options.withDescription(d))

export const calibrateCommand = Command.make(
  "calibrate",
  {
    profile: optText("profile", "Measured kernel profile: LLMServingSim 2.0 bundle, v1/v0 CSV, Vidur mlp.csv, or a folder of them (default: none; give it or --run)"),
    run: optText("run", "Measured serving run to fit instead: a bench-layout folder (vllm/meta.json + vllm/requests.jsonl) or a `vllm bench serve --save-result --save-detailed` result JSON, read as validate reads it (default: none; give it or --profile)"),
    workload: optText("workload", "--run: the workload the run replayed (required for the bench layout; default for a vllm bench result: rebuilt from its lengths and send times)"),
    hardware: optText("hardware", "The GPU the profile or run was measured on (required with --profile; --run: default from meta.json)"),
    model: optText("model", "The model measured (bundled id or config.json path; required with --profile; --run: default from the run)"),
    output: Options.text("output").pipe(Options.withAlias("o"), Options.optional, Options.withDescription("Write the calibration JSON here (default: print only)")),
    tensorParallelSize: Options.integer("tensor-parallel-size").pipe(Options.optional, Options.withDescription("TP degree of the profile tables to fit (default 1); --run: overrides the run's")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the calibration JSON to stdout")),
    force: Options.boolean("force").pipe(Options.withDescription("--profile: write the calibration even when it fits the profile worse than the datasheet defaults")),
    holdout: Options.float("holdout").pipe(Options.optional, Options.withDescription("--run: fraction of the requests held out of the fit and scored apart, out-of-sample (default 0.5; 0 = none)")),
    holdoutSeed: Options.integer("holdout-seed").pipe(Options.optional, Options.withDescription("--run: seed of the hold-out split (default 0)")),
    fit: optText("fit", `--run: parameters to fit, comma-separated: ${RUN_FIT_PARAMS.join(", ")} (default compute,attention,memory,step-overhead, plus frontend-ingress,frontend-tokenize for a vllm bench result)`),
    objective: Options.choice("objective", ["stats", "requests"]).pipe(Options.optional, Options.withDescription("--run: requests = squared log error of each request's TTFT, TPOT, E2E (default); stats = of their mean/p50/p90/p99")),
    maxEvals: Options.integer("max-evals").pipe(Options.optional, Options.withDescription("--run: simulations the optimiser may run (default 200)")),
    start: optText("start", "--run: start from this calibration file (e.g. one from --profile on the same GPU; default: the datasheet)"),
    transferHardware: optText("transfer-hardware", "--run: after the fit, check the calibration carried to this GPU against its measured profile (--transfer-profile; default: no check)"),
    transferProfile: optText("transfer-profile", "--run: the measured kernel profile of --transfer-hardware, as profile:PATH reads it (default: none)"),
    network: optText("network", "--run: collective-time model, as validate's (default alpha-beta)"),
    seed: Options.integer("seed").pipe(Options.optional, Options.withDescription("--run: seed of re-drawn arrival times (a vllm bench result without start_times; default 0)")),
    stepOverheadUs: Options.float("step-overhead-us").pipe(Options.optional, Options.withDescription("--run: start value of the per-step overhead, us (default: 0 when the run used async scheduling, else 1000)")),
    ...ENGINE_OVERRIDE_OPTIONS
  },
  (o) =>
    Effect.gen(function*() {
      if (Option.isSome(o.run) && Option.isSome(o.profile)) return yield* new InvalidOption({ option: "--run", reason: "give --profile (a kernel profile) or --run (a serving run), not both" })
      if (Option.isNone(o.run) && Option.isNone(o.profile)) return yield* new InvalidOption({ option: "--profile", reason: "required: a measured kernel profile (--profile DIR) or a measured serving run (--run RUN)" })
      const { overrides: engineOverrides, overridden } = engineOverridesOf(o)
      // checked before the fit (seconds to minutes), not after it
      if (Option.isSome(o.output)) yield* prepareOutputFile("--output", o.output.value)
      if (Option.isSome(o.run)) {
        return yield* calibrateFromRun({
          run: o.run.value,
          workload: Option.getOrUndefined(o.workload),
          hardware: Option.getOrUndefined(o.hardware),
          model: Option.getOrUndefined(o.model),
          network: Option.getOrUndefined(o.network),
          seed: Option.getOrUndefined(o.seed),
          stepOverheadUs: Option.getOrUndefined(o.stepOverheadUs),
          overrides: engineOverrides,
          overridden,
          holdout: Option.getOrUndefined(o.holdout),
          holdoutSeed: Option.getOrUndefined(o.holdoutSeed),
          fit: Option.getOrUndefined(o.fit),
          objective: Option.getOrUndefined(o.objective),
          maxEvals: Option.getOrUndefined(o.maxEvals),
          start: Option.getOrUndefined(o.start),
          transferHardware: Option.getOrUndefined(o.transferHardware),
          transferProfile: Option.getOrUndefined(o.transferProfile),
          output: Option.getOrUndefined(o.output),
          json: o.json
        })
      }
      // --profile: the flags of --run do not apply
      const runOnly = ([["--workload", o.workload], ["--holdout", o.holdout], ["--holdout-seed", o.holdoutSeed], ["--fit", o.fit], ["--objective", o.objective], ["--max-evals", o.maxEvals],
        ["--start", o.start], ["--transfer-hardware", o.transferHardware], ["--transfer-profile", o.transferProfile], ["--network", o.network], ["--seed", o.seed], ["--step-overhead-us", o.stepOverheadUs],
        ...overridden.filter((x) => !x.startsWith("tensor_parallel_size")).map((x) => [`--${x.split("=")[0]!.replace(/_/g, "-")}`, Option.some(0)] as const)] as const)
        .find(([, v]) => Option.isSome(v as Option.Option<unknown>))
      if (runOnly !== undefined) return yield* new InvalidOption({ option: runOnly[0], reason: "applies to calibrate --run (a serving run); a kernel profile has no requests, engine settings or CPU time" })
      if (Option.isNone(o.hardware)) return yield* new InvalidOption({ option: "--hardware", reason: "required with --profile: the GPU the profile was measured on" })
      if (Option.isNone(o.model)) return yield* new InvalidOption({ option: "--model", reason: "required with --profile: the model the profile measured" })
      const tp = Option.getOrElse(o.tensorParallelSize, () => 1)
      if (tp < 1) return yield* new InvalidOption({ option: "--tensor-parallel-size", reason: "expected a positive integer" })
      const model = (yield* loadModel(o.model.value)).shape
      const hw = yield* loadHardware(o.hardware.value)
      const prof = yield* loadProfile(Option.getOrThrow(o.profile), { model, hardware: hw, tp })
      const engine = { ...defaultEngineConfig(model.maxPositions, model.dtypeBytes), tensorParallelSize: prof.tp }
      yield* checkFamilies(prof)
      const t0 = Date.now()
      const r = calibrate(prof, model, hw, engine)
      const notes = efficiencyNotes(r.params, hw, engine.weightDtypeBytes)
      const doc: CalibrationFile = {
        format: "llmservingsim-ts/calibration",
        version: 2,
        hardware: hw.name,
        fitted_on: { model: model.id, format: prof.format, profile: prof.source },
        gpu: gpuPartOf(r.params),
        // kernel profiles time GPU kernels only: no stack part is measured (0 per step, no front end)
        stack: { step_overhead_ns: r.params.stepOverheadNs },
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
).pipe(Command.withDescription("Fit the roofline's efficiencies and overheads to a measured kernel profile (--profile; prints per-kernel fit error) or to a measured serving run (--run; prints fit and held-out TTFT/TPOT/E2E error; the GPU part and the serving stack's part apart)"))



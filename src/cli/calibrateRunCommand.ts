/**
 * `llmservingsim calibrate --run RUN [--workload FILE] [--holdout 0.5] [--fit compute,...]
 * [--transfer-hardware H --transfer-profile DIR] [-o FILE]`: fit the GPU part and the stack part of
 * a calibration to a measured serving run (perf/runFit.ts), report the fit and held-out requests'
 * errors, write the calibration, and optionally check it carried to another GPU
 * (perf/calibrateRun.ts). The run is read and replayed as `validate` does (validate/replay.ts).
 */
import { Chunk, Console, Effect, Stream } from "effect"
import { FitRejected, InputError, InvalidOption } from "../domain/errors.js"
import { peakFlops } from "../domain/Hardware.js"
import type { RunSettings } from "../validate/bench.js"
import { prepareReplay } from "../validate/replay.js"
import { efficiencyNotes } from "../perf/calibrate.js"
import { opParamsOfApplied, type RunFitSource, replaySimulator, runCalibrationFile, type TransferCheck, transferCheck } from "../perf/calibrateRun.js"
import { applyCalibration, frontEndOf, gpuPartOf, readCalibration, writeCalibration } from "../perf/calibration.js"
import { defaultFitParams, fitRun, holdoutSplit, pairRequests, PARAM_PART, RUN_FIT_PARAMS, RUN_METRICS, RUN_STATS, type RunFitParam, type RunFitResult, type RunObjective, type RunParams, type SubsetError } from "../perf/runFit.js"
import { opParamsFromRoofline } from "../perf/spec.js"

/** What the --run mode of `calibrate` was given (undefined: the default). */
export interface CalibrateRunFlags {
  readonly run: string
  readonly workload?: string | undefined
  readonly hardware?: string | undefined
  readonly model?: string | undefined
  readonly network?: string | undefined
  readonly seed?: number | undefined
  readonly stepOverheadUs?: number | undefined
  readonly overrides: Partial<RunSettings["flags"]>
  readonly overridden: ReadonlyArray<string>
  readonly holdout?: number | undefined
  readonly holdoutSeed?: number | undefined
  readonly fit?: string | undefined
  readonly objective?: RunObjective | undefined
  readonly maxEvals?: number | undefined
  readonly start?: string | undefined
  readonly transferHardware?: string | undefined
  readonly transferProfile?: string | undefined
  readonly output?: string | undefined
  readonly json: boolean
}

const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(1)}` : "n/a")
const METRIC_LABEL = { ttft: "TTFT", tpot: "TPOT", e2el: "E2E" } as const

/**
 * The fit report: per metric, the % error of mean/p50/p90/p99 of the fit requests (in-sample) and
 * of the held-out requests (out-of-sample), with the start values and with the fitted ones.
 */
export const formatRunFitTable = (r: RunFitResult, startLabel: string): string => {
  const cols = (e: SubsetError | undefined, k: typeof RUN_METRICS[number]) => RUN_STATS.map((st) => (e === undefined ? "" : signed(e.pct[k][st])).padStart(7)).join("")
  const left = 6 + 26 + 6
  const head1 = `${"% error vs measured".padEnd(left)}${startLabel.length > 28 ? startLabel.slice(0, 25) + "..." : startLabel.padEnd(28)}   calibrated`
  const head2 = `${"".padEnd(6)}${"requests".padEnd(26)}${"n".padStart(6)}${RUN_STATS.map((s) => s.padStart(7)).join("")}   ${RUN_STATS.map((s) => s.padStart(7)).join("")}`
  const lines = [head1, head2, "-".repeat(head2.length)]
  for (const k of RUN_METRICS) {
    lines.push(`${METRIC_LABEL[k].padEnd(6)}${"fit (in-sample)".padEnd(26)}${String(r.error.fit.requests).padStart(6)}${cols(r.startError.fit, k)}   ${cols(r.error.fit, k)}`)
    if (r.error.heldOut !== undefined) {
      lines.push(`${"".padEnd(6)}${"held-out (out-of-sample)".padEnd(26)}${String(r.error.heldOut.requests).padStart(6)}${cols(r.startError.heldOut, k)}   ${cols(r.error.heldOut, k)}`)
    }
  }
  return lines.join("\n")
}

/** The transfer check's report: % vs the reference per perf model, the verdict, the per-kernel errors. */
export const formatTransferCheck = (t: TransferCheck, fittedOn: string): string => {
  const lines: Array<string> = []
  lines.push(`Transfer check on ${t.hardware} (no serving run there): the same workload and engine settings, simulated with`)
  lines.push(`  reference: ${t.reference}, the measured ${t.hardware} kernels + this calibration's stack part (${(t.stepOverheadNs / 1000).toFixed(1)} us per step)`)
  const head = `${"% vs reference (mean/p50/p90/p99)".padEnd(62)}${"TTFT".padEnd(28)}${"TPOT".padEnd(28)}${"E2E".padEnd(28)}TPOT+E2E mean|err|`
  lines.push(head)
  lines.push("-".repeat(head.length))
  for (const r of t.rows) {
    lines.push(`${r.label.slice(0, 61).padEnd(62)}${RUN_METRICS.map((k) => RUN_STATS.map((st) => signed(r.pct[k][st]).padStart(7)).join("")).join("")}${r.tpotE2eMeanAbsPct.toFixed(1).padStart(10)}%`)
  }
  const [carried, datasheet] = t.rows
  lines.push(`verdict: the calibration carried from ${fittedOn} to ${t.hardware} is ${t.noWorse ? "no worse than" : "WORSE than"} the datasheet roofline on TPOT and E2E ` +
    `(${carried!.tpotE2eMeanAbsPct.toFixed(1)}% vs ${datasheet!.tpotE2eMeanAbsPct.toFixed(1)}% mean |error|)`)
  lines.push(`per kernel against ${t.kernels.profile} (${t.kernels.points} points, as calibrate --profile computes it), mean over kernels of the mean |error|: ` +
    `datasheet ${t.kernels.datasheet.toFixed(1)}%, carried calibration ${t.kernels.carried.toFixed(1)}% (its GPU part is the datasheet's), GPU part carried as-is ${t.kernels.asIs.toFixed(1)}%`)
  return lines.join("\n")
}

const describeGpu = (p: RunParams, tflops: number, bw: number): string => {
  const g = p.gpu
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`
  const mem = g.gemmMemoryEff === g.attnMemoryEff && g.attnMemoryEff === g.elementwiseMemoryEff
    ? `memory-bound kernels ${pct(g.gemmMemoryEff)} of ${bw} GB/s`
    : `GEMM weights ${pct(g.gemmMemoryEff)}, KV reads ${pct(g.attnMemoryEff)}, element-wise ${pct(g.elementwiseMemoryEff)} of ${bw} GB/s`
  return `GEMM ${pct(g.gemmComputeEff)} of ${tflops.toFixed(1)} TFLOP/s, attention ${pct(g.attnComputeEff)}; ${mem}; kernel overhead ${(g.kernelOverheadNs / 1000).toFixed(2)} us`
}

/**
 * The --run mode of `calibrate` (see the module comment). Fails with InvalidOption for a bad flag
 * (naming it), the replay's errors (validate/replay.ts), InputError when the replay does not run
 * the measured requests, and FitRejected when the fit is worse than its start.
 */
export const calibrateFromRun = (o: CalibrateRunFlags) =>
  Effect.gen(function*() {
    const holdout = o.holdout ?? 0.5
    if (!(Number.isFinite(holdout) && holdout >= 0 && holdout < 1)) return yield* new InvalidOption({ option: "--holdout", reason: `expected a fraction in [0, 1) of the requests to hold out (got ${holdout})` })
    const holdoutSeed = o.holdoutSeed ?? 0
    if (!(Number.isInteger(holdoutSeed) && holdoutSeed >= 0)) return yield* new InvalidOption({ option: "--holdout-seed", reason: `expected an integer >= 0 (got ${holdoutSeed})` })
    const maxEvals = o.maxEvals ?? 200
    if (!(Number.isInteger(maxEvals) && maxEvals >= 1)) return yield* new InvalidOption({ option: "--max-evals", reason: `expected a positive integer (got ${maxEvals})` })
    if ((o.transferHardware === undefined) !== (o.transferProfile === undefined)) {
      return yield* new InvalidOption({ option: o.transferHardware === undefined ? "--transfer-hardware" : "--transfer-profile", reason: "the transfer check needs both --transfer-hardware (the other GPU) and --transfer-profile (its measured kernel profile)" })
    }
    const prep = yield* prepareReplay({
      run: o.run,
      workload: o.workload,
      network: o.network,
      hardware: o.hardware,
      model: o.model,
      stepOverheadUs: o.stepOverheadUs,
      seed: o.seed,
      overrides: o.overrides,
      overridden: o.overridden
    })
    const cfg = prep.cfg
    let names: ReadonlyArray<RunFitParam> = defaultFitParams(prep.clientMeasured)
    if (o.fit !== undefined) {
      const given = o.fit.split(",").map((x) => x.trim()).filter((x) => x !== "")
      const bad = given.find((x) => !(RUN_FIT_PARAMS as ReadonlyArray<string>).includes(x))
      if (bad !== undefined || given.length === 0) return yield* new InvalidOption({ option: "--fit", reason: `${bad === undefined ? "no parameter given" : `unknown parameter ${JSON.stringify(bad)}`}; expected a comma-separated subset of ${RUN_FIT_PARAMS.join(", ")}` })
      const fe = given.find((x) => x.startsWith("frontend-"))
      if (fe !== undefined && !prep.clientMeasured) {
        return yield* new InvalidOption({ option: "--fit", reason: `${fe}: ${o.run} is timed at the engine (the bench layout's queued_ts), so the front end does not show in it; fit it from a vllm bench serve result (timed at the client)` })
      }
      names = given as ReadonlyArray<RunFitParam>
    }
    // the start: the datasheet (with the run's per-step overhead default), or a calibration file
    const datasheet = opParamsFromRoofline(cfg.roofline)
    let start: RunParams = { gpu: gpuPartOf(datasheet), stepOverheadNs: cfg.roofline.stepOverheadNs, frontEnd: cfg.frontEnd }
    let startLabel = "start: datasheet"
    if (o.start !== undefined) {
      const c = yield* readCalibration(o.start)
      const a = opParamsOfApplied(applyCalibration(c, cfg.hardware.name, cfg.roofline, o.stepOverheadUs === undefined ? undefined : Math.round(o.stepOverheadUs * 1000)))
      start = { gpu: gpuPartOf(a), stepOverheadNs: a.stepOverheadNs, frontEnd: frontEndOf(c) ?? cfg.frontEnd }
      startLabel = `start: ${o.start}`
      if (c.hardware !== cfg.hardware.name) startLabel += ` (its stack part; fitted on ${c.hardware})`
    }
    const arrivals = Chunk.toReadonlyArray(yield* Stream.runCollect(prep.arrivals))
    const pairs = pairRequests(prep.run.perRequest, arrivals)
    if (typeof pairs === "string") {
      return yield* new InputError({ path: prep.workloadName, expected: `the workload the run replayed (the requests of ${prep.metaPath}, in order)`, got: pairs })
    }
    const n = arrivals.length
    if ((holdout > 0 && Math.round(n * holdout) === 0) || Math.round(n * holdout) === n) {
      return yield* new InvalidOption({ option: "--holdout", reason: `${holdout} of ${n} requests leaves ${Math.round(n * holdout) === 0 ? "none held out" : "none to fit"}` })
    }
    const split = holdoutSplit(n, holdout, holdoutSeed)
    const simulate = replaySimulator(cfg, arrivals, prep.clientMeasured)
    const first = yield* simulate(start)
    if (first.finished !== n) {
      return yield* new InputError({ path: prep.workloadName, expected: `a replay that runs all ${n} measured requests (engine settings as the run's)`, got: `${first.finished} finished (the others rejected or aborted: check --max-model-len and the KV capacity)` })
    }
    const r = yield* fitRun({ measured: prep.run.perRequest, pairs, simulate }, { start, params: names, fit: split.fit, heldOut: split.heldOut, objective: o.objective, maxEvaluations: maxEvals })
    if (r.loss > r.startLoss * (1 + 1e-9)) {
      return yield* new FitRejected({ reason: `the fit (objective ${r.loss.toExponential(3)}) is worse than its start (${r.startLoss.toExponential(3)}); calibration not written` })
    }
    const source: RunFitSource = {
      hardware: cfg.hardware.name,
      model: cfg.model.id,
      format: prep.run.format,
      run: o.run,
      workload: prep.workloadName,
      holdout,
      holdoutSeed,
      clientMeasured: prep.clientMeasured,
      start: o.start ?? "datasheet"
    }
    const doc0 = runCalibrationFile(r, source)
    const transfer = o.transferHardware === undefined
      ? undefined
      : yield* transferCheck(prep.engineFlags, arrivals, prep.clientMeasured, doc0, o.transferHardware, o.transferProfile!)
    const doc = transfer === undefined ? doc0 : { ...doc0, run_fit: { ...doc0.run_fit, transfer_check: transfer } }
    if (o.output !== undefined) yield* writeCalibration(o.output, doc)
    if (o.json) return yield* Console.log(JSON.stringify(doc, null, 2))
    const tflops = peakFlops(cfg.hardware, cfg.engine.weightDtypeBytes) / 1e12
    const fitted = (p: RunFitParam) => (names.includes(p) ? "fitted" : "not fitted")
    yield* Console.log(`Calibration of ${cfg.hardware.name} from the serving run ${o.run} (${prep.run.format}, ${n} requests; workload ${prep.workloadName}; ${cfg.model.id})`)
    yield* Console.log(`  hold-out: ${split.fit.length} requests fit, ${split.heldOut.length} held out (--holdout ${holdout}, --holdout-seed ${holdoutSeed}); every evaluation replays all ${n} requests and scores the fit ones only`)
    yield* Console.log(`  objective: ${r.objective === "stats" ? "squared log error of mean/p50/p90/p99 of TTFT, TPOT, E2E" : "mean squared log error of each request's TTFT, TPOT, E2E"} over the fit requests: ${r.startLoss.toExponential(3)} -> ${r.loss.toExponential(3)}`)
    yield* Console.log(`  fitted: ${r.fitted.join(", ")}; ${r.evaluations} evaluations (each a full simulation of the run), ${r.seconds.toFixed(1)} s`)
    yield* Console.log(`  GPU part (${cfg.hardware.name}): ${describeGpu(r.params, tflops, cfg.hardware.memoryBandwidthGBs)} (${fitted("kernel-overhead")})`)
    yield* Console.log(`  stack part: step overhead ${(r.params.stepOverheadNs / 1000).toFixed(1)} us per step (${fitted("step-overhead")}); ` +
      (prep.clientMeasured
        ? `front end: ingress ${r.params.frontEnd.ingressUs.toFixed(1)} us (${fitted("frontend-ingress")}) + ${r.params.frontEnd.tokenizeUsPerToken.toFixed(2)} us per prompt token (${fitted("frontend-tokenize")}), egress ${r.params.frontEnd.egressUs.toFixed(1)} us (not fitted: it moves TTFT and E2E as ingress does)`
        : "front end: not in this run's timings (the bench layout times from the engine's queued_ts), so not recorded"))
    for (const note of efficiencyNotes({ ...r.params.gpu, stepOverheadNs: r.params.stepOverheadNs }, cfg.hardware, cfg.engine.weightDtypeBytes)) yield* Console.log(`  note: ${note}`)
    yield* Console.log(`  parts: ${RUN_FIT_PARAMS.filter((p) => names.includes(p)).map((p) => `${p} (${PARAM_PART[p]})`).join(", ")}`)
    yield* Console.log("")
    yield* Console.log(formatRunFitTable(r, startLabel))
    if (split.heldOut.length > 0) {
      const worst = Math.max(...RUN_METRICS.flatMap((k) => RUN_STATS.map((st) => Math.abs(r.error.heldOut!.pct[k][st]))))
      yield* Console.log(`\nheld-out (out-of-sample) error: largest |error| ${worst.toFixed(1)}% over mean/p50/p90/p99 of TTFT, TPOT, E2E (${split.heldOut.length} requests the fit did not score)`)
    } else yield* Console.log("\nno requests held out (--holdout 0): every figure above is in-sample")
    if (transfer !== undefined) {
      yield* Console.log("")
      yield* Console.log(formatTransferCheck(transfer, `${cfg.hardware.name}`))
    }
    if (o.output !== undefined) yield* Console.log(`\ncalibration written to ${o.output} (use --perf-model calibrated:${o.output}; on another GPU it keeps the stack part and takes that GPU's datasheet efficiencies)`)
  })


/**
 * `--perf-model` selection:
 *   roofline          the datasheet roofline (perf/roofline.ts; default)
 *   op-roofline       the per-operator datasheet roofline (perf/opModel.ts, same defaults)
 *   profile:PATH      measured tables (LLMServingSim 2.0 bundle, v1/v0 CSV, Vidur CSV, or a folder
 *                     of them searched for the configured GPU and model); kernels a profile lacks
 *                     come from the per-operator roofline
 *   calibrated:FILE   the per-operator roofline with efficiencies fitted by `llmservingsim calibrate`
 *                     on the GPU it was fitted on; on another GPU the datasheet roofline with its
 *                     stack part (per-step and front-end overheads; perf/calibration.ts)
 */
import { Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { Network } from "../domain/Network.js"
import type { LoadedPerfModel, SimConfig } from "../domain/SimConfig.js"
import { type FileError, type InputError, InvalidOption } from "../domain/errors.js"
import type { Hardware } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import { GEMM_ROOFLINE_SMOOTHING, type RooflineParams } from "../domain/PerfParams.js"
import { fabricOf } from "../network/fabric.js"
import { NetworkService } from "../network/NetworkService.js"
import { applyCalibration, readCalibration } from "./calibration.js"
import { makeOpRoofline, type OpParams } from "./opModel.js"
import { type PerfModel, PerfModelService } from "./PerfModelService.js"
import { makeProfilePerf } from "./profilePerf.js"
import { loadProfile } from "./profile/load.js"
import { withPipeline } from "./pipeline.js"
import { makePimPerf } from "./pim.js"
import { makeRoofline } from "./roofline.js"

export type PerfModelSpec =
  | { readonly kind: "roofline" }
  | { readonly kind: "op-roofline" }
  | { readonly kind: "profile"; readonly path: string }
  | { readonly kind: "calibrated"; readonly path: string }

export const PERF_MODEL_HELP = "roofline | op-roofline | profile:DIR_OR_CSV | calibrated:FILE"

export const parsePerfModelSpec = (s: string): Effect.Effect<PerfModelSpec, InvalidOption> => {
  const t = s.trim()
  if (t === "roofline" || t === "datasheet") return Effect.succeed({ kind: "roofline" })
  if (t === "op-roofline") return Effect.succeed({ kind: "op-roofline" })
  const i = t.indexOf(":")
  const kind = i < 0 ? t : t.slice(0, i)
  const p = i < 0 ? "" : t.slice(i + 1)
  if ((kind === "profile" || kind === "calibrated") && p !== "") return Effect.succeed({ kind, path: p })
  return Effect.fail(new InvalidOption({ option: "--perf-model", reason: `expected ${PERF_MODEL_HELP} (got ${JSON.stringify(s)})` }))
}

export const specToString = (s: PerfModelSpec): string => (s.kind === "profile" || s.kind === "calibrated" ? `${s.kind}:${s.path}` : s.kind)

/** Datasheet per-operator parameters from the resolved roofline flags. */
export const opParamsFromRoofline = (r: RooflineParams): OpParams => ({
  gemmComputeEff: r.computeEfficiency,
  gemmMemoryEff: r.memoryEfficiency,
  attnComputeEff: r.attentionComputeEfficiency,
  attnMemoryEff: r.memoryEfficiency,
  elementwiseMemoryEff: r.memoryEfficiency,
  kernelOverheadNs: r.kernelOverheadNs,
  stepOverheadNs: r.stepOverheadNs,
  smoothing: GEMM_ROOFLINE_SMOOTHING
})

/**
 * Per-step overhead added to a profile's kernel times, ns, unless --step-overhead-us is given.
 * Profiles time GPU kernels only; vLLM 0.19's async scheduling overlaps the CPU's scheduling and
 * input preparation of step n+1 with step n, leaving only the per-step launch gap visible.
 */
export const PROFILE_STEP_OVERHEAD_NS = 0

export type PerfModelError = FileError | InputError | InvalidOption

export type { LoadedPerfModel } from "../domain/SimConfig.js"

/** Read the files a spec names, for `model` on `hardware` at TP `tp`. */
export const loadPerfModel = (spec: PerfModelSpec, model: ModelShape, hardware: Hardware, tp: number): Effect.Effect<LoadedPerfModel, PerfModelError> =>
  Effect.gen(function*() {
    switch (spec.kind) {
      case "roofline":
      case "op-roofline":
        return spec
      case "profile":
        return { ...spec, profile: yield* loadProfile(spec.path, { model, hardware, tp }) }
      case "calibrated":
        return { ...spec, calibration: yield* readCalibration(spec.path) }
    }
  })

/**
 * The perf model of a loaded spec (no I/O, cannot fail), priced per pipeline stage when
 * `--pipeline-parallel-size` > 1 (perf/pipeline.ts).
 */
export const makePerfModel = (spec: LoadedPerfModel, cfg: SimConfig, net: Network, stepOverheadFlag?: number): PerfModel =>
  // --pim-config runs with the roofline only, without pipeline parallelism (resolve.ts refuses the rest)
  cfg.pim !== undefined && spec.kind === "roofline" ? makePimPerf(cfg.model, cfg.hardware, cfg.engine, cfg.roofline, net, cfg.pim) : withPipeline(cfg.model, cfg.engine.pipelineParallelSize, cfg.engine.tensorParallelSize, net, (m) => makeShapePerfModel(spec, m, cfg, net, stepOverheadFlag), fabricOf(cfg.hardware).gpusPerNode)

const makeShapePerfModel = (spec: LoadedPerfModel, m: ModelShape, cfg: SimConfig, net: Network, stepOverheadFlag?: number): PerfModel => {
  switch (spec.kind) {
    case "roofline":
      return makeRoofline(m, cfg.hardware, cfg.engine, cfg.roofline, net)
    case "op-roofline":
      return makeOpRoofline(`op-roofline(${cfg.hardware.name})`, m, cfg.hardware, cfg.engine, opParamsFromRoofline(cfg.roofline), net)
    case "profile":
      return makeProfilePerf(spec.profile, m, cfg.hardware, cfg.engine, net, opParamsFromRoofline(cfg.roofline), stepOverheadFlag ?? PROFILE_STEP_OVERHEAD_NS)
    case "calibrated": {
      // on another GPU: the stack part only, the GPU part from this GPU's datasheet (perf/calibration.ts)
      const a = applyCalibration(spec.calibration, cfg.hardware.name, cfg.roofline, stepOverheadFlag)
      if (a.gpuPart === "datasheet") return { ...makeRoofline(m, cfg.hardware, cfg.engine, a.roofline, net), name: a.name }
      return makeOpRoofline(a.name, m, cfg.hardware, cfg.engine, a.params, net)
    }
  }
}

/** PerfModelService for a loaded spec (the standard layer picks it from SimConfig.perfModel). */
export const perfModelLayer = (spec: LoadedPerfModel, stepOverheadFlag?: number): Layer.Layer<PerfModelService, never, ConfigService | NetworkService> =>
  Layer.effect(PerfModelService, Effect.gen(function*() {
    const cfg = yield* ConfigService
    const net = yield* NetworkService
    return makePerfModel(spec, cfg, net, stepOverheadFlag)
  }))

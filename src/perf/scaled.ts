/**
 * A perf model whose step times are another's multiplied by a constant factor: what the engine
 * would do if every step were `factor` times as long (`simulate --sensitivity` runs the same
 * workload at 1 - PCT/100 and 1 + PCT/100 to show how close a prediction sits to saturation).
 *
 * Every way the engine prices a step goes through the wrapper: `stepTimeNs` (a normal step, and
 * each step Instance.fastForward takes in one move: it calls `stepTimeNs` once per skipped step, so
 * the fast path and `--exact-steps` stay identical) and, under pipeline parallelism, `pipeline.price`
 * (each stage's compute time and each stage-to-stage send, which the PipelineGate adds up), and
 * the per-step overhead it declares (`stepOverheadNs`, which multi-step blocks pay once). Each
 * priced time is rounded to the nearest integer ns after scaling (virtual time is integer ns), so a
 * 10 ms step becomes exactly 11 ms at factor 1.1. What is not a step is not scaled: KV transfers
 * between prefill and decode instances (NetworkService) and the front end's ingress and egress.
 */
import type { BatchShape } from "./BatchShape.js"
import type { PerfModel } from "./PerfModelService.js"

/** `ns` times `factor`, rounded to integer ns (0 stays 0: an empty batch costs nothing). */
const scaleNs = (ns: number, factor: number): number => Math.round(ns * factor)

/**
 * `model` with every step time (and, under pipeline parallelism, every stage and send time)
 * multiplied by `factor` (> 0) and rounded to integer ns; factor 1 returns `model` itself. The
 * name says the factor (`roofline(H100) x1.1`).
 */
export const scalePerfModel = (model: PerfModel, factor: number): PerfModel => {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new Error(`step-time scale must be a positive number (got ${factor})`)
  if (factor === 1) return model
  const inner = model.stepTimeNs
  const stepTimeNs = (b: BatchShape): number => scaleNs(inner(b), factor)
  const pp = model.pipeline
  const pipeline = pp === undefined ? undefined : {
    stages: pp.stages,
    layers: pp.layers,
    price: (b: BatchShape, stageNs: Float64Array, sendNs: Float64Array): void => {
      pp.price(b, stageNs, sendNs)
      for (let s = 0; s < pp.stages; s++) stageNs[s] = scaleNs(stageNs[s]!, factor)
      for (let s = 0; s < pp.stages - 1; s++) sendNs[s] = scaleNs(sendNs[s]!, factor)
    }
  }
  return {
    name: `${model.name} x${Number(factor.toPrecision(6))}`,
    stepTimeNs,
    ...(pipeline === undefined ? {} : { pipeline }),
    // the per-step overhead inside every step time (multi-step pays it once per block) scales with it
    ...(model.stepOverheadNs === undefined ? {} : { stepOverheadNs: scaleNs(model.stepOverheadNs, factor) })
  }
}

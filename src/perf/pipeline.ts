/**
 * Stage pricing under pipeline parallelism, as a wrapper around any per-instance perf model
 * (roofline, op-roofline, profile, calibrated). Every model here prices a step as
 *   A(b) + L x B(b)
 * (per-layer kernels, attention and TP all-reduces times the L decoder layers, plus the once-per-step
 * embedding, final norm, LM head, sampler and step overhead), so pricing the batch with the model
 * built for 1 and for L layers gives B = (T_L - T_1) / (L - 1) and A = T_1 - B. Stage s with n_s
 * layers then takes n_s x B, and the last stage also A (LM head, sampler; the embedding gather and
 * the CPU step overhead are put there too: they are small, and the pipeline's throughput is set by
 * its slowest stage either way). MoE layers are spread over the stages in proportion to their
 * layers (the shape records only how many there are).
 *
 * Between stages each micro-batch sends its activations: vLLM's Llama-family models pass
 * IntermediateTensors {hidden_states, residual}, i.e. 2 tensors of tokens x hidden x 2 bytes,
 * priced by `net.sendRecvNs` (crossing nodes where the stage's GPUs do, cluster/pipeline.ts).
 */
import type { ModelShape } from "../domain/Model.js"
import type { Network } from "../domain/Network.js"
import { crossNodeBoundaries, GPUS_PER_NODE, stageLayers } from "../cluster/pipeline.js"
import type { BatchShape } from "./BatchShape.js"
import type { PerfModel } from "./PerfModelService.js"

/** Bytes of one activation element (16-bit). */
const ACT_BYTES = 2
/** Tensors sent stage to stage per token: hidden_states and residual (vLLM LlamaModel under PP). */
const SENT_TENSORS = 2

/** Per-stage times of one micro-batch. */
export interface StagePricing {
  readonly stages: number
  /** Decoder layers of each stage. */
  readonly layers: ReadonlyArray<number>
  /** Write each stage's compute time (`stageNs[s]`) and each boundary's send time (`sendNs[s]`, s < P-1), integer ns. */
  readonly price: (b: BatchShape, stageNs: Float64Array, sendNs: Float64Array) => void
}

/** The model shape of a slice of `layers` decoder layers (MoE layers in proportion). */
export const sliceShape = (m: ModelShape, layers: number): ModelShape => ({
  ...m,
  layers,
  moe: m.moe === null ? null : { ...m.moe, moeLayers: m.moe.moeLayers * layers / m.layers }
})

/**
 * Wrap `makeFor` (the perf model of a given shape) for `pp` stages at TP `tp`, `gpusPerNode` GPUs
 * per node (the hardware's fabric; decides which sends cross nodes). With pp = 1 it
 * returns the full model unchanged. The result's `stepTimeNs` is one micro-batch's latency (sum of
 * the stages and sends); `pipeline` gives the stage times the engine's PipelineGate uses.
 */
export const withPipeline = (
  m: ModelShape,
  pp: number,
  tp: number,
  net: Network,
  makeFor: (shape: ModelShape) => PerfModel,
  gpusPerNode = GPUS_PER_NODE
): PerfModel => {
  const full = makeFor(m)
  if (pp <= 1) return full
  const parts = stageLayers(m.layers, pp)
  const one = makeFor(sliceShape(m, 1))
  const L = m.layers
  const cross = crossNodeBoundaries(tp, pp, gpusPerNode)
  const h = m.hidden
  const price = (b: BatchShape, stageNs: Float64Array, sendNs: Float64Array): void => {
    const T = b.prefillTokens + b.numDecode
    const tL = full.stepTimeNs(b)
    const t1 = one.stepTimeNs(b)
    const perLayer = (tL - t1) / (L - 1)
    const once = t1 - perLayer
    for (let s = 0; s < pp; s++) stageNs[s] = Math.round(parts[s]! * perLayer + (s === pp - 1 ? once : 0))
    const bytes = T * h * ACT_BYTES * SENT_TENSORS
    for (let s = 0; s < pp - 1; s++) sendNs[s] = T === 0 ? 0 : Math.round(net.sendRecvNs(bytes, cross[s]))
  }
  const stageNs = new Float64Array(pp)
  const sendNs = new Float64Array(pp - 1)
  const stepTimeNs = (b: BatchShape): number => {
    price(b, stageNs, sendNs)
    let t = 0
    for (let s = 0; s < pp; s++) t += stageNs[s]!
    for (let s = 0; s < pp - 1; s++) t += sendNs[s]!
    return t
  }
  return { name: `${full.name}, pp${pp} [${parts.join(",")}]`, stepTimeNs, pipeline: { stages: pp, layers: parts, price } }
}

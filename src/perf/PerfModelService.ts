/**
 * PerfModelService: the time of one engine step on one instance for a given batch. The hot loop
 * calls `stepTimeNs` as a plain function (no Effect per step).
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import { fabricOf } from "../network/fabric.js"
import { NetworkService } from "../network/NetworkService.js"
import type { BatchShape } from "./BatchShape.js"
import { type StagePricing, withPipeline } from "./pipeline.js"
import { makePimPerf } from "./pim.js"
import { makeRoofline } from "./roofline.js"

/** A step time's parts, ns (PerfModel.breakdown). */
export interface StepBreakdown {
  computeNs: number
  commNs: number
  overheadNs: number
}

export interface PerfModel {
  /** Human-readable name for reports. */
  readonly name: string
  /** Duration of one step computing `batch`, integer ns (> 0 for a non-empty batch). */
  readonly stepTimeNs: (batch: BatchShape) => number
  /**
   * The fixed per-step time (CPU scheduling, input preparation, output processing) included in
   * every `stepTimeNs`, ns; absent = 0. A multi-step block (`--num-scheduler-steps`) pays it once
   * per scheduler call, not once per forward pass (Instance.ts).
   */
  readonly stepOverheadNs?: number | undefined
  /**
   * Under pipeline parallelism (`--pipeline-parallel-size` > 1): per-stage times, which the engine's
   * PipelineGate uses to overlap micro-batches; `stepTimeNs` is then one micro-batch's latency.
   */
  readonly pipeline?: StagePricing | undefined
  /**
   * The step time of `batch` split into compute, communication (TP all-reduces, MoE token
   * exchange) and fixed overhead (kernel launches, the scheduler's per-step CPU time), ns, written
   * to `out` (for timelines, not the hot loop); absent when the model cannot tell them apart.
   */
  readonly breakdown?: ((batch: BatchShape, out: StepBreakdown) => void) | undefined
}

export class PerfModelService extends Context.Tag("llmservingsim/PerfModelService")<PerfModelService, PerfModel>() {
  /** Datasheet roofline for the configured model, hardware and engine (with `--pim-config`: its decode attention on the PIM device, perf/pim.ts). */
  static readonly roofline: Layer.Layer<PerfModelService, never, ConfigService | NetworkService> = Layer.effect(
    PerfModelService,
    Effect.gen(function*() {
      const cfg = yield* ConfigService
      const net = yield* NetworkService
      const e = cfg.engine
      // --pim-config: decode attention on the PIM device (resolve.ts refuses it with pipeline parallelism)
      if (cfg.pim !== undefined) return makePimPerf(cfg.model, cfg.hardware, e, cfg.roofline, net, cfg.pim)
      return withPipeline(cfg.model, e.pipelineParallelSize, e.tensorParallelSize, net, (m) => makeRoofline(m, cfg.hardware, e, cfg.roofline, net), fabricOf(cfg.hardware).gpusPerNode)
    })
  )

  /** Every non-empty step takes `ns` (hand-computable tests). */
  static readonly constant = (ns: number): Layer.Layer<PerfModelService> =>
    Layer.succeed(PerfModelService, { name: `constant(${ns}ns)`, stepTimeNs: (b) => (b.prefillTokens + b.numDecode === 0 ? 0 : ns) })

  /** A perf model from a plain function. */
  static readonly fromFunction = (name: string, f: (b: BatchShape) => number): Layer.Layer<PerfModelService> =>
    Layer.succeed(PerfModelService, { name, stepTimeNs: f })
}

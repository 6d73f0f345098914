/**
 * The profile-table perf model: every kernel a measured profile has is read from its table
 * (interpolated / extrapolated as in profile/interp.ts); kernels it lacks (Vidur has no LM head,
 * v0 tables no decode attention) come from the per-operator roofline with `fallback` parameters.
 * When the profile was measured at a lower TP degree than configured, per-shard kernels (GEMMs,
 * attention, RoPE, activation) are divided by the ratio, as LLMServingSim v1 did.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { Hardware } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import type { Network } from "../domain/Network.js"
import { composeStep, LAYER_TOKEN_OPS, type LayerTokenOp, makeOpCosts, type OpCosts, type OpParams, STEP_SEQ_OPS, STEP_TOKEN_OPS, type StepSeqOp, type StepTokenOp } from "./opModel.js"
import type { PerfModel } from "./PerfModelService.js"
import { lookup1D, type Table1D } from "./profile/interp.js"
import type { LayerProfile } from "./profile/types.js"

const TP_STABLE = new Set(["layernorm", "embedding", "final_layernorm", "sampler"])

export interface ProfileCosts {
  readonly ops: OpCosts
  /** Kernels taken from the roofline because the profile lacks them. */
  readonly fallbacks: ReadonlyArray<string>
}

/** Kernel costs from a profile, with roofline fallbacks. */
export const profileCosts = (prof: LayerProfile, m: ModelShape, hw: Hardware, e: EngineConfig, fallback: OpParams): ProfileCosts => {
  const roof = makeOpCosts(m, hw, e, fallback)
  const scale = prof.tp < e.tensorParallelSize ? prof.tp / e.tensorParallelSize : 1
  const fallbacks: Array<string> = []
  const fromTable = (name: string, t: Table1D | undefined, f: (x: number) => number): ((x: number) => number) => {
    if (t === undefined) {
      fallbacks.push(name)
      return f
    }
    const s = TP_STABLE.has(name) ? 1 : scale
    return s === 1 ? (x) => lookup1D(t, x) : (x) => s * lookup1D(t, x)
  }
  const layer = {} as Record<LayerTokenOp, (T: number) => number>
  for (const op of LAYER_TOKEN_OPS) layer[op] = fromTable(op, prof.layer[op], roof.layer[op])
  const step = {} as Record<StepTokenOp, (T: number) => number>
  for (const op of STEP_TOKEN_OPS) step[op] = fromTable(op, prof.step[op], roof.step[op])
  const seq = {} as Record<StepSeqOp, (S: number) => number>
  for (const op of STEP_SEQ_OPS) seq[op] = fromTable(op, prof.seq[op], roof.seq[op])
  const at = prof.attention
  let attention: OpCosts["attention"]
  if (at === null) {
    fallbacks.push("attention")
    attention = roof.attention
  } else if (!at.hasDecode) {
    fallbacks.push("decode attention")
    const roofAttn = roof.attention
    const dec = { pc: 0, kp: 0, nd: 0, kdSum: 0, area: 0, kvRead: 0 }
    attention = (a) => {
      let t = a.pc > 0 ? scale * at.lookup(a) : 0
      if (a.nd > 0) {
        dec.nd = a.nd; dec.kdSum = a.kdSum
        t += roofAttn(dec)
      }
      return t
    }
  } else attention = scale === 1 ? at.lookup : (a) => scale * at.lookup(a)
  if (m.moe !== null) fallbacks.push("moe")
  return { ops: { layer, step, seq, attention, moe: roof.moe }, fallbacks }
}

/** The profile perf model. `stepOverheadNs` is added per step (the profile measures kernels only). */
export const makeProfilePerf = (prof: LayerProfile, m: ModelShape, hw: Hardware, e: EngineConfig, net: Network, fallback: OpParams, stepOverheadNs: number): PerfModel => {
  const { fallbacks, ops } = profileCosts(prof, m, hw, e, fallback)
  const name = `profile(${prof.format}: ${prof.hardware ?? hw.name}/${prof.model ?? m.id}, tp${prof.tp}` +
    (fallbacks.length > 0 ? `; roofline for ${fallbacks.join(", ")}` : "") +
    ((prof.ignored?.length ?? 0) > 0 ? `; not modelled, not priced: ${prof.ignored!.join(", ")}` : "") + `)`
  return composeStep(name, ops, m, e, net, stepOverheadNs)
}

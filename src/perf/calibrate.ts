/**
 * Fit the per-operator roofline (opModel.ts) to a measured profile: the efficiencies of GEMMs,
 * attention and element-wise kernels, the per-kernel overhead and the roofline's corner
 * smoothing, by Nelder-Mead on the squared log error, each kernel weighted equally (so the fit
 * describes the GPU, not one kernel's grid density) and points within a kernel by sqrt(time). Profiles time kernels only, so the
 * per-step overhead is not fitted (0: vLLM's async scheduling hides the CPU's work).
 * A profile without points of one kernel family (GEMM, attention, element-wise) is refused
 * (`checkFamilies`): that family's efficiencies would be unconstrained. Fitted efficiencies above
 * 100% of a datasheet peak are kept and explained (`efficiencyNotes`).
 */
import { Effect } from "effect"
import type { EngineConfig } from "../domain/EngineConfig.js"
import { FitRejected } from "../domain/errors.js"
import { type Hardware, peakFlops } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import type { FitStat } from "./calibration.js"
import { attnArgsOf, datasheetOpParams, LAYER_TOKEN_OPS, makeAttnArgs, makeOpCosts, type OpCosts, type OpParams, STEP_SEQ_OPS, STEP_TOKEN_OPS } from "./opModel.js"
import type { LayerProfile } from "./profile/types.js"

/** One measured point of one kernel. */
export interface FitPoint {
  readonly op: string
  readonly measuredNs: number
  readonly predict: (c: OpCosts) => number
}

const ATTN_PC = [0, 16, 64, 256, 1024, 2048]
const ATTN_KP = [0, 512, 2048, 8192]
const ATTN_ND = [0, 1, 4, 16, 64, 256]
const ATTN_KD = [128, 1024, 4096, 16384]

/** Points of every kernel the profile measured (attention sampled on a fixed grid). */
export const fitPoints = (p: LayerProfile): ReadonlyArray<FitPoint> => {
  const pts: Array<FitPoint> = []
  for (const op of LAYER_TOKEN_OPS) {
    const t = p.layer[op]
    if (t !== undefined) t.keys.forEach((k, i) => pts.push({ op, measuredNs: t.values[i]!, predict: (c) => c.layer[op](k) }))
  }
  for (const op of STEP_TOKEN_OPS) {
    const t = p.step[op]
    if (t !== undefined) t.keys.forEach((k, i) => pts.push({ op, measuredNs: t.values[i]!, predict: (c) => c.step[op](k) }))
  }
  for (const op of STEP_SEQ_OPS) {
    const t = p.seq[op]
    if (t !== undefined) t.keys.forEach((k, i) => pts.push({ op, measuredNs: t.values[i]!, predict: (c) => c.seq[op](k) }))
  }
  const at = p.attention
  if (at !== null) {
    for (const pc of ATTN_PC) for (const kp of pc === 0 ? [0] : ATTN_KP) for (const nd of at.hasDecode ? ATTN_ND : [0]) for (const kd of nd === 0 ? [0] : ATTN_KD) {
      if (pc + nd === 0) continue
      const a = attnArgsOf(makeAttnArgs(), pc, kp, nd, kd)
      const v = at.lookup(a)
      if (v > 0) pts.push({ op: "attention", measuredNs: v, predict: (c) => c.attention(a) })
    }
  }
  return pts.filter((x) => x.measuredNs > 0)
}

/** The kernel families whose efficiencies the fit sets, and the kernels that measure each. */
export const KERNEL_FAMILIES: Readonly<Record<string, ReadonlyArray<string>>> = {
  GEMM: ["qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"],
  attention: ["attention"],
  "element-wise": ["layernorm", "rotary_emb", "act_fn", "embedding", "final_layernorm", "sampler"]
}

/** Refuse a profile that has no points of some kernel family (its efficiencies would be unconstrained). */
export const checkFamilies = (p: LayerProfile): Effect.Effect<void, FitRejected> => {
  const ops = new Set(fitPoints(p).map((x) => x.op))
  const missing = Object.entries(KERNEL_FAMILIES).filter(([, ks]) => !ks.some((k) => ops.has(k)))
  if (missing.length === 0) return Effect.void
  return Effect.fail(new FitRejected({
    reason: `cannot calibrate from ${p.source}: it has no ${missing.map(([f, ks]) => `${f} kernel points (${ks.join(", ")})`).join(" and no ")}, ` +
      `so the ${missing.map(([f]) => f).join(" and ")} efficiencies would be unconstrained; profile those kernels or use the datasheet roofline`
  }))
}

/**
 * One line for each fitted efficiency above 1.0 (100% of the datasheet peak), saying why it can
 * be real; the values are kept.
 */
export const efficiencyNotes = (p: OpParams, hw: Hardware, weightBytes = 2): Array<string> => {
  const tflops = peakFlops(hw, weightBytes) / 1e12
  const bw = `${hw.memoryBandwidthGBs} GB/s`
  const notes: Array<string> = []
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`
  const add = (x: number | undefined, what: string) => {
    if (x !== undefined && x > 1) notes.push(`${what.replace("{}", pct(x))}; kept`)
  }
  add(p.gemmComputeEff, `GEMM {} of datasheet ${tflops.toFixed(1)} TFLOP/s: the GPU ran above the clock the datasheet peak assumes, or the datasheet figure is conservative`)
  add(p.gemmMemoryEff, `GEMM {} of datasheet ${bw}: small weight and activation tiles served from L2`)
  add(p.attnComputeEff, `attention {} of datasheet ${tflops.toFixed(1)} TFLOP/s: the kernel does less work than the roofline counts (e.g. causal masking skips tiles)`)
  add(p.attnMemoryEff, `decode attention {} of datasheet ${bw}: KV shared by the query heads of a GQA group is re-read from L2, not HBM`)
  add(p.attnMixedMemoryEff, `mixed-batch attention {} of datasheet ${bw}: KV shared by the query heads of a GQA group is re-read from L2, not HBM`)
  add(p.elementwiseMemoryEff, `element-wise {} of datasheet ${bw}: small tensors served from L2`)
  return notes
}

/** Per-kernel error of `params` against the points. */
export const fitStats = (pts: ReadonlyArray<FitPoint>, m: ModelShape, hw: Hardware, e: EngineConfig, params: OpParams): Record<string, FitStat> => {
  const c = makeOpCosts(m, hw, e, params)
  const acc = new Map<string, { n: number; abs: number; max: number; signed: number }>()
  for (const p of pts) {
    const err = (p.predict(c) - p.measuredNs) / p.measuredNs * 100
    let s = acc.get(p.op)
    if (s === undefined) acc.set(p.op, s = { n: 0, abs: 0, max: 0, signed: 0 })
    s.n++
    s.abs += Math.abs(err)
    s.signed += err
    if (Math.abs(err) > s.max) s.max = Math.abs(err)
  }
  const out: Record<string, FitStat> = {}
  for (const [op, s] of acc) out[op] = { points: s.n, mean_abs_err_pct: s.abs / s.n, max_abs_err_pct: s.max, signed_mean_err_pct: s.signed / s.n }
  return out
}

const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x)

/** Map an unconstrained vector to parameters (efficiencies in (0.02, 1.2), element-wise up to 2.5 (L2-resident), overhead >= 0, p in [1, 50]). */
const toParams = (v: ReadonlyArray<number>): OpParams => {
  const eff = (x: number) => 0.02 + 1.18 / (1 + Math.exp(-x))
  const effL2 = (x: number) => 0.02 + 2.48 / (1 + Math.exp(-x))
  return {
    gemmComputeEff: eff(v[0]!),
    gemmMemoryEff: eff(v[1]!),
    attnComputeEff: eff(v[2]!),
    attnMemoryEff: eff(v[3]!),
    elementwiseMemoryEff: effL2(v[4]!),
    kernelOverheadNs: Math.exp(clamp(v[5]!, -5, 12)),
    stepOverheadNs: 0,
    smoothing: 1 + 49 / (1 + Math.exp(-v[6]!)),
    attnSeqBandwidthGBs: Math.exp(clamp(v[7]!, -3, 12)),
    attnPrefillBandwidthGBs: Math.exp(clamp(v[8]!, -3, 12)),
    attnMixedMemoryEff: eff(v[9]!)
  }
}
const fromParams = (p: OpParams): Array<number> => {
  const inv = (y: number) => {
    const s = clamp((y - 0.02) / 1.18, 1e-4, 1 - 1e-4)
    return Math.log(s / (1 - s))
  }
  const invL2 = (y: number) => {
    const s = clamp((y - 0.02) / 2.48, 1e-4, 1 - 1e-4)
    return Math.log(s / (1 - s))
  }
  const s = clamp((Math.min(p.smoothing, 49.9) - 1) / 49, 1e-4, 1 - 1e-4)
  return [inv(p.gemmComputeEff), inv(p.gemmMemoryEff), inv(p.attnComputeEff), inv(p.attnMemoryEff), invL2(p.elementwiseMemoryEff), Math.log(Math.max(1, p.kernelOverheadNs)), Math.log(s / (1 - s)), Math.log(p.attnSeqBandwidthGBs !== undefined && p.attnSeqBandwidthGBs > 0 ? p.attnSeqBandwidthGBs : 200), Math.log(p.attnPrefillBandwidthGBs !== undefined && p.attnPrefillBandwidthGBs > 0 ? p.attnPrefillBandwidthGBs : 200), inv(p.attnMixedMemoryEff ?? p.attnMemoryEff)]
}

/** Nelder-Mead minimisation (deterministic). */
const nelderMead = (f: (x: ReadonlyArray<number>) => number, x0: ReadonlyArray<number>, iters: number): Array<number> => {
  const n = x0.length
  let simplex: Array<{ x: Array<number>; f: number }> = [{ x: [...x0], f: f(x0) }]
  for (let i = 0; i < n; i++) {
    const x = [...x0]
    x[i] = x[i]! + 0.5
    simplex.push({ x, f: f(x) })
  }
  for (let it = 0; it < iters; it++) {
    simplex.sort((a, b) => a.f - b.f)
    const best = simplex[0]!
    const worst = simplex[n]!
    const cen = new Array<number>(n).fill(0)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) cen[j]! += simplex[i]!.x[j]! / n
    const at = (t: number) => cen.map((c, j) => c + t * (worst.x[j]! - c))
    const xr = at(-1)
    const fr = f(xr)
    if (fr < best.f) {
      const xe = at(-2)
      const fe = f(xe)
      simplex[n] = fe < fr ? { x: xe, f: fe } : { x: xr, f: fr }
    } else if (fr < simplex[n - 1]!.f) simplex[n] = { x: xr, f: fr }
    else {
      const xc = at(fr < worst.f ? -0.5 : 0.5)
      const fc = f(xc)
      if (fc < Math.min(fr, worst.f)) simplex[n] = { x: xc, f: fc }
      else simplex = simplex.map((s, i) => (i === 0 ? s : { x: s.x.map((v, j) => best.x[j]! + 0.5 * (v - best.x[j]!)), f: 0 })).map((s, i) => (i === 0 ? s : { x: s.x, f: f(s.x) }))
    }
    if (Math.abs(simplex[n]!.f - simplex[0]!.f) < 1e-12 && it > 200) break
  }
  simplex.sort((a, b) => a.f - b.f)
  return simplex[0]!.x
}

export interface CalibrationResult {
  readonly params: OpParams
  readonly fit: Record<string, FitStat>
  readonly datasheet: Record<string, FitStat>
  readonly points: number
}

/** Fit `OpParams` for `hw` to a profile of model `m`. */
export const calibrate = (prof: LayerProfile, m: ModelShape, hw: Hardware, e: EngineConfig, start: OpParams = datasheetOpParams): CalibrationResult => {
  const pts = fitPoints(prof)
  const byOp = new Map<string, Array<FitPoint>>()
  for (const p of pts) {
    let l = byOp.get(p.op)
    if (l === undefined) byOp.set(p.op, l = [])
    l.push(p)
  }
  const groups = [...byOp.values()]
  // within a kernel, points weigh by sqrt(time): the large batches that dominate step time count
  // more than launch-bound single-token points, without ignoring those
  const weights = groups.map((g) => {
    const w = g.map((p) => Math.sqrt(p.measuredNs))
    const sum = w.reduce((a, b) => a + b, 0)
    return w.map((x) => x / sum)
  })
  const loss = (v: ReadonlyArray<number>): number => {
    const c = makeOpCosts(m, hw, e, toParams(v))
    let total = 0
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi]!
      const w = weights[gi]!
      let s = 0
      for (let i = 0; i < g.length; i++) {
        const r = Math.log(g[i]!.predict(c) / g[i]!.measuredNs)
        s += w[i]! * r * r
      }
      total += s
    }
    return total / groups.length
  }
  let x = fromParams({ ...start, smoothing: Math.min(start.smoothing, 8) })
  for (let round = 0; round < 4; round++) x = nelderMead(loss, x, 1500)
  const params = toParams(x)
  return { params, fit: fitStats(pts, m, hw, e, params), datasheet: fitStats(pts, m, hw, e, start), points: pts.length }
}

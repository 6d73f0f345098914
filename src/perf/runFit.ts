/**
 * `calibrate --run`: fit the per-operator roofline's GPU part and the serving stack's overheads to a
 * measured serving run, by replaying the run once per evaluation (a whole simulation each: the
 * requests of a serving run are coupled through the batch, so no request can be priced alone).
 *
 * Parameters (each a bounded coordinate; the optimiser works on those):
 *   GPU part (perf/calibration.ts `gpu`, multiplying the start values, log scale):
 *     compute           GEMM compute efficiency (gemmComputeEff)
 *     attention         prefill attention compute efficiency (attnComputeEff)
 *     memory            every memory-bound rate together: GEMM weight streaming, KV reads (pure
 *                       decode and mixed batches, the per-sequence rates), element-wise kernels
 *     kernel-overhead   fixed time per kernel launch (coordinate log(1 + ns / 1 us))
 *   stack part (`stack`):
 *     step-overhead     per-step CPU time the GPU does not hide (log(1 + ns / 100 us))
 *     frontend-ingress  the API server's fixed time per request (log(1 + us / 100 us))
 *     frontend-tokenize its tokenization time per prompt token (log(1 + us / 1 us))
 * Efficiencies are bounded to [0.05, 1.2] of the datasheet peak (element-wise kernels, served from
 * L2, to 2.5), overheads to [0, 50 ms] per step, [0, 50 us] per kernel, [0, 1 s] per request and
 * [0, 100 us] per prompt token.
 *
 * Not every parameter is identified by a serving run: per-kernel and per-step overheads are both
 * a fixed time per step for one model (so `kernel-overhead` is not fitted by default and the
 * per-step time a run shows beyond the kernels goes to the stack part), and the front end only
 * shows in a run timed at the client (vllm bench). A weak quadratic pull of every coordinate
 * towards its start (PRIOR_WEIGHT) keeps directions the data does not see where they started.
 *
 * Objective ("requests", the default): mean over TTFT, TPOT and E2E of the mean squared log error
 * of each fit request's simulated vs measured value; or ("stats") of the squared log error of the
 * mean, p50, p90 and p99 over the fit requests. "stats" matches the reported statistics a little
 * closer in-sample, but pooled statistics hardly tell a slower memory system from a per-step
 * overhead (on a run the simulator made with 92% memory efficiency and 2 ms per step, it stopped
 * at 84% and 0.04 ms, 0.07% rms over the statistics), where each request's own TPOT, at its own
 * batch and context, does (recovered to 0.1%: test/perf/calibrateRun.test.ts). Only the fit
 * requests are scored; the held-out requests (`holdoutSplit`) are simulated in the same replay and
 * scored apart (out-of-sample).
 * Optimiser: Nelder-Mead on the coordinates, projected onto the bounds, restarted from its best
 * point while it improves, within a budget of evaluations (each one simulation).
 */
import { Effect } from "effect"
import type { FrontEndParams } from "../frontend/FrontEnd.js"
import { distributionOfValues } from "../metrics/stats.js"
import type { MeasuredRequests } from "../validate/measured.js"
import type { SimRequestValues } from "../validate/simSamples.js"
import { Rng } from "../workload/Rng.js"
import type { GpuParams } from "./calibration.js"

/** What one evaluation simulates with: the GPU part, the per-step overhead (ns) and the front end (us). */
export interface RunParams {
  readonly gpu: GpuParams
  readonly stepOverheadNs: number
  readonly frontEnd: FrontEndParams
}

/** The parameters `calibrate --run --fit` takes (see the module comment). */
export const RUN_FIT_PARAMS = ["compute", "attention", "memory", "kernel-overhead", "step-overhead", "frontend-ingress", "frontend-tokenize"] as const
export type RunFitParam = typeof RUN_FIT_PARAMS[number]

/** Which part of a calibration each parameter belongs to. */
export const PARAM_PART: Readonly<Record<RunFitParam, "gpu" | "stack">> = {
  compute: "gpu", attention: "gpu", memory: "gpu", "kernel-overhead": "gpu",
  "step-overhead": "stack", "frontend-ingress": "stack", "frontend-tokenize": "stack"
}

/** The default parameter set: GPU efficiencies and the per-step overhead; the front end too for a run timed at the client. */
export const defaultFitParams = (clientMeasured: boolean): ReadonlyArray<RunFitParam> =>
  clientMeasured ? ["compute", "attention", "memory", "step-overhead", "frontend-ingress", "frontend-tokenize"] : ["compute", "attention", "memory", "step-overhead"]

/** Weight of the pull towards the start (per squared coordinate unit; see the module comment). */
export const PRIOR_WEIGHT = 1e-7

const EFF_MIN = 0.05
const EFF_MAX = 1.2
const L2_MAX = 2.5

interface Coord {
  readonly lo: number
  readonly hi: number
  readonly x0: number
  /** Initial simplex step. */
  readonly step: number
  readonly apply: (p: RunParams, x: number) => RunParams
}

const shiftedLog = (v: number, unit: number) => Math.log(1 + Math.max(0, v) / unit)
const fromShiftedLog = (x: number, unit: number) => unit * (Math.exp(x) - 1)

const memoryKeys = ["gemmMemoryEff", "attnMemoryEff", "elementwiseMemoryEff", "attnMixedMemoryEff", "attnSeqBandwidthGBs", "attnPrefillBandwidthGBs"] as const

/** The coordinate of parameter `name` around start `s`. */
const coordOf = (name: RunFitParam, s: RunParams): Coord => {
  const scale = (key: "gemmComputeEff" | "attnComputeEff"): Coord => {
    const v0 = s.gpu[key]
    return { lo: Math.log(EFF_MIN / v0), hi: Math.log(Math.max(EFF_MAX, v0) / v0), x0: 0, step: 0.3, apply: (p, x) => ({ ...p, gpu: { ...p.gpu, [key]: v0 * Math.exp(x) } }) }
  }
  switch (name) {
    case "compute":
      return scale("gemmComputeEff")
    case "attention":
      return scale("attnComputeEff")
    case "memory": {
      const g = s.gpu
      const effs = [g.gemmMemoryEff, g.attnMemoryEff, g.attnMixedMemoryEff ?? g.attnMemoryEff]
      const hi = Math.min(...effs.map((e) => Math.max(EFF_MAX, e) / e), Math.max(L2_MAX, g.elementwiseMemoryEff) / g.elementwiseMemoryEff)
      const lo = Math.max(...[...effs, g.elementwiseMemoryEff].map((e) => EFF_MIN / e))
      return {
        lo: Math.log(lo), hi: Math.log(hi), x0: 0, step: 0.3,
        apply: (p, x) => {
          const k = Math.exp(x)
          const gpu: Record<string, number | undefined> = { ...p.gpu }
          for (const key of memoryKeys) {
            const v = s.gpu[key]
            if (v !== undefined && v > 0) gpu[key] = v * k
          }
          return { ...p, gpu: gpu as unknown as GpuParams }
        }
      }
    }
    case "kernel-overhead":
      return { lo: 0, hi: shiftedLog(50_000, 1000), x0: shiftedLog(s.gpu.kernelOverheadNs, 1000), step: 0.5, apply: (p, x) => ({ ...p, gpu: { ...p.gpu, kernelOverheadNs: fromShiftedLog(x, 1000) } }) }
    case "step-overhead":
      return { lo: 0, hi: shiftedLog(50e6, 100_000), x0: shiftedLog(s.stepOverheadNs, 100_000), step: 1, apply: (p, x) => ({ ...p, stepOverheadNs: Math.round(fromShiftedLog(x, 100_000)) }) }
    case "frontend-ingress":
      return { lo: 0, hi: shiftedLog(1e6, 100), x0: shiftedLog(s.frontEnd.ingressUs, 100), step: 1, apply: (p, x) => ({ ...p, frontEnd: { ...p.frontEnd, ingressUs: fromShiftedLog(x, 100) } }) }
    case "frontend-tokenize":
      return { lo: 0, hi: shiftedLog(100, 1), x0: shiftedLog(s.frontEnd.tokenizeUsPerToken, 1), step: 1, apply: (p, x) => ({ ...p, frontEnd: { ...p.frontEnd, tokenizeUsPerToken: fromShiftedLog(x, 1) } }) }
  }
}

/**
 * Split `n` requests (indices 0..n-1) into a fit set and a held-out set of round(n x fraction)
 * requests, drawn by a seeded shuffle (workload/Rng.ts): the same (n, fraction, seed) always give
 * the same split; the sets are disjoint, cover 0..n-1 and are each ascending. `fraction` in [0, 1);
 * 0 holds nothing out. Throws RangeError for a fraction outside [0, 1) or one that would leave a
 * set empty (callers check the flag first).
 */
export const holdoutSplit = (n: number, fraction: number, seed: number): { readonly fit: ReadonlyArray<number>; readonly heldOut: ReadonlyArray<number> } => {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`hold-out fraction ${fraction} outside [0, 1)`)
  const k = Math.round(n * fraction)
  if (fraction > 0 && (k === 0 || k === n)) throw new RangeError(`hold-out ${fraction} of ${n} requests leaves a set empty`)
  const perm = Array.from({ length: n }, (_, i) => i)
  const rng = new Rng(seed)
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i)
    const t = perm[i]!
    perm[i] = perm[j]!
    perm[j] = t
  }
  const heldOut = perm.slice(0, k).sort((a, b) => a - b)
  const fit = perm.slice(k).sort((a, b) => a - b)
  return { fit, heldOut }
}

/**
 * Pair each measured request with the simulated one: result[i] = the arrival index (SimRequest.id)
 * of measured request i. Measured requests are taken in send order (ties by index) and matched to
 * the arrivals in order by (prompt, output) tokens, so a replay that submits them in the same order
 * pairs exactly. Returns a reason string when some arrival has no measured request of its lengths.
 */
export const pairRequests = (m: MeasuredRequests, arrivals: ReadonlyArray<{ readonly promptTokens: number; readonly outputTokens: number }>): Int32Array | string => {
  const n = m.inputTokens.length
  if (arrivals.length !== n) return `${arrivals.length} replayed requests for ${n} measured ones`
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => m.sendS[a]! - m.sendS[b]! || a - b)
  const queues = new Map<string, Array<number>>()
  for (const i of order) {
    const key = `${m.inputTokens[i]}/${m.outputTokens[i]}`
    let q = queues.get(key)
    if (q === undefined) queues.set(key, q = [])
    q.push(i)
  }
  const heads = new Map<string, number>()
  const out = new Int32Array(n).fill(-1)
  for (let a = 0; a < n; a++) {
    const key = `${arrivals[a]!.promptTokens}/${arrivals[a]!.outputTokens}`
    const q = queues.get(key)
    const h = heads.get(key) ?? 0
    if (q === undefined || h >= q.length) return `replayed request ${a} (${arrivals[a]!.promptTokens} prompt, ${arrivals[a]!.outputTokens} output tokens) has no measured request of those lengths left`
    out[q[h]!] = a
    heads.set(key, h + 1)
  }
  return out
}

/** The metrics a run fit scores and reports (TTFT, TPOT, E2E; ms). */
export const RUN_METRICS = ["ttft", "tpot", "e2el"] as const
export type RunMetric = typeof RUN_METRICS[number]
/** The statistics reported per metric (p50 = median; numpy "linear" percentiles, metrics/stats.ts). */
export const RUN_STATS = ["mean", "p50", "p90", "p99"] as const
export type RunStat = typeof RUN_STATS[number]

/** % error of simulated vs measured per metric and statistic over a set of requests. */
export interface SubsetError {
  readonly requests: number
  readonly pct: Readonly<Record<RunMetric, Readonly<Record<RunStat, number>>>>
}

const measuredOf = (m: MeasuredRequests, k: RunMetric) => (k === "ttft" ? m.ttftMs : k === "tpot" ? m.tpotMs : m.e2elMs)
const simOf = (s: SimRequestValues, k: RunMetric) => (k === "ttft" ? s.ttftMs : k === "tpot" ? s.tpotMs : s.e2elMs)

/** Measured and simulated values of metric `k` over the requests of `subset` that have both (ms). */
const pairedValues = (m: MeasuredRequests, s: SimRequestValues, pairs: Int32Array, subset: ReadonlyArray<number>, k: RunMetric): [Array<number>, Array<number>] => {
  const mv = measuredOf(m, k)
  const sv = simOf(s, k)
  const a: Array<number> = []
  const b: Array<number> = []
  for (const i of subset) {
    const x = mv[i]!
    const y = sv[pairs[i]!]!
    if (Number.isNaN(x) || Number.isNaN(y)) continue
    a.push(x)
    b.push(y)
  }
  return [a, b]
}

const statsOf = (xs: ReadonlyArray<number>): Record<RunStat, number> => {
  const d = distributionOfValues(xs)
  return { mean: d.mean, p50: d.median, p90: d.p90, p99: d.p99 }
}

/** The % error of mean/p50/p90/p99 of TTFT, TPOT and E2E over `subset` (measured request indices). */
export const subsetError = (m: MeasuredRequests, s: SimRequestValues, pairs: Int32Array, subset: ReadonlyArray<number>): SubsetError => {
  const pct = {} as Record<RunMetric, Record<RunStat, number>>
  for (const k of RUN_METRICS) {
    const [a, b] = pairedValues(m, s, pairs, subset, k)
    const ma = statsOf(a)
    const sb = statsOf(b)
    pct[k] = { mean: 0, p50: 0, p90: 0, p99: 0 }
    for (const st of RUN_STATS) pct[k][st] = ma[st] === 0 ? 0 : (sb[st] - ma[st]) / ma[st] * 100
  }
  return { requests: subset.length, pct }
}

/** What the fit minimises (see runLoss). */
export type RunObjective = "stats" | "requests"

/** Penalty of a replay that did not finish every request (a configuration that cannot run the workload). */
const UNFINISHED_LOSS = 100

/**
 * The objective over the fit requests `subset`: "requests", the mean over TTFT/TPOT/E2E of the
 * mean over requests of (log(simulated / measured))^2; "stats", the mean over the three metrics and
 * over mean/p50/p90/p99 of (log(simulated / measured))^2. UNFINISHED_LOSS when a scored request did not finish.
 */
export const runLoss = (objective: RunObjective, m: MeasuredRequests, s: SimRequestValues, pairs: Int32Array, subset: ReadonlyArray<number>): number => {
  for (const i of subset) if (Number.isNaN(s.e2elMs[pairs[i]!]!)) return UNFINISHED_LOSS
  let total = 0
  let terms = 0
  for (const k of RUN_METRICS) {
    const [a, b] = pairedValues(m, s, pairs, subset, k)
    if (a.length === 0) continue
    if (objective === "stats") {
      const ma = statsOf(a)
      const sb = statsOf(b)
      for (const st of RUN_STATS) {
        if (!(ma[st] > 0 && sb[st] > 0)) continue
        total += Math.log(sb[st] / ma[st]) ** 2
        terms++
      }
    } else {
      let sq = 0
      let n = 0
      for (let i = 0; i < a.length; i++) {
        if (!(a[i]! > 0 && b[i]! > 0)) continue
        sq += Math.log(b[i]! / a[i]!) ** 2
        n++
      }
      if (n > 0) {
        total += sq / n
        terms++
      }
    }
  }
  return terms === 0 ? 0 : total / terms
}

/**
 * Bounded Nelder-Mead (reflection 1, expansion 2, contraction 1/2, shrink 1/2), each point projected
 * onto [lo, hi]; minimises `f` from `x0` with initial steps `steps` (towards the roomier bound),
 * within `maxEvals` evaluations, restarting from the best point with half the previous steps while
 * a round improves it by more than 1e-9 (at most 8 rounds; the replay's loss is piecewise
 * constant at the scale of one step's time, so a fresh, smaller simplex refines where a collapsed
 * one stalls). Evaluations of the same point are cached (not counted twice). Deterministic.
 */
export const boundedNelderMead = <E>(
  f: (x: ReadonlyArray<number>) => Effect.Effect<number, E>,
  x0: ReadonlyArray<number>,
  lo: ReadonlyArray<number>,
  hi: ReadonlyArray<number>,
  steps: ReadonlyArray<number>,
  maxEvals: number
): Effect.Effect<{ readonly x: ReadonlyArray<number>; readonly f: number; readonly evaluations: number }, E> =>
  Effect.gen(function*() {
    const n = x0.length
    const cache = new Map<string, number>()
    let evaluations = 0
    const clampX = (x: ReadonlyArray<number>) => x.map((v, i) => Math.min(hi[i]!, Math.max(lo[i]!, v)))
    const evalAt = (x: ReadonlyArray<number>) =>
      Effect.gen(function*() {
        const key = x.map((v) => v.toFixed(6)).join(",")
        const hit = cache.get(key)
        if (hit !== undefined) return hit
        evaluations++
        const v = yield* f(x)
        cache.set(key, v)
        return v
      })
    let best = { x: clampX(x0), f: yield* evalAt(clampX(x0)) }
    if (n === 0) return { x: best.x, f: best.f, evaluations }
    let scale = 1
    for (let round = 0; round < 8 && evaluations < maxEvals; round++) {
      const simplex: Array<{ x: Array<number>; f: number }> = [{ x: [...best.x], f: best.f }]
      for (let i = 0; i < n && evaluations < maxEvals; i++) {
        const x = [...best.x]
        const room = hi[i]! - x[i]! >= x[i]! - lo[i]! ? 1 : -1
        x[i] = x[i]! + room * steps[i]! * scale
        const xc = clampX(x)
        simplex.push({ x: xc, f: yield* evalAt(xc) })
      }
      if (simplex.length < n + 1) break
      while (evaluations < maxEvals) {
        simplex.sort((a, b) => a.f - b.f)
        const spread = simplex[n]!.f - simplex[0]!.f
        let size = 0
        for (let i = 1; i <= n; i++) for (let j = 0; j < n; j++) size = Math.max(size, Math.abs(simplex[i]!.x[j]! - simplex[0]!.x[j]!))
        if (spread < 1e-9 || size < 1e-4) break
        const worst = simplex[n]!
        const cen = new Array<number>(n).fill(0)
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) cen[j]! += simplex[i]!.x[j]! / n
        const at = (t: number) => clampX(cen.map((c, j) => c + t * (worst.x[j]! - c)))
        const xr = at(-1)
        const fr = yield* evalAt(xr)
        if (fr < simplex[0]!.f) {
          const xe = at(-2)
          const fe = yield* evalAt(xe)
          simplex[n] = fe < fr ? { x: xe, f: fe } : { x: xr, f: fr }
        } else if (fr < simplex[n - 1]!.f) simplex[n] = { x: xr, f: fr }
        else {
          const xc = at(fr < worst.f ? -0.5 : 0.5)
          const fc = yield* evalAt(xc)
          if (fc < Math.min(fr, worst.f)) simplex[n] = { x: xc, f: fc }
          else {
            const b = simplex[0]!
            for (let i = 1; i <= n && evaluations < maxEvals; i++) {
              const xs = clampX(simplex[i]!.x.map((v, j) => b.x[j]! + 0.5 * (v - b.x[j]!)))
              simplex[i] = { x: xs, f: yield* evalAt(xs) }
            }
          }
        }
      }
      simplex.sort((a, b) => a.f - b.f)
      const improved = best.f - simplex[0]!.f
      if (simplex[0]!.f < best.f) best = { x: simplex[0]!.x, f: simplex[0]!.f }
      if (!(improved > 1e-9)) break
      scale *= 0.5
    }
    return { x: best.x, f: best.f, evaluations }
  })

/** What `fitRun` needs: the measured requests, their pairing with the replay, and one replay per call. */
export interface RunFitProblem<E> {
  readonly measured: MeasuredRequests
  /** measured index -> simulated request id (pairRequests). */
  readonly pairs: Int32Array
  /** Replay the whole run with these parameters. */
  readonly simulate: (p: RunParams) => Effect.Effect<SimRequestValues, E>
}

/** What to fit, from where, scored on which requests. */
export interface RunFitOptions {
  readonly start: RunParams
  readonly params: ReadonlyArray<RunFitParam>
  /** Measured request indices scored by the objective. */
  readonly fit: ReadonlyArray<number>
  /** Measured request indices scored apart (may be empty). */
  readonly heldOut: ReadonlyArray<number>
  /** Default "requests". */
  readonly objective?: RunObjective | undefined
  /** Simulations at most (default 150). */
  readonly maxEvaluations?: number | undefined
}

/** A run fit: start and fitted parameters, objective values and the % errors of both on the fit and held-out requests. */
export interface RunFitResult {
  readonly start: RunParams
  readonly params: RunParams
  readonly fitted: ReadonlyArray<RunFitParam>
  readonly objective: RunObjective
  /** Simulations run by the optimiser (the start's included), plus the two scoring replays. */
  readonly evaluations: number
  readonly startLoss: number
  readonly loss: number
  readonly startError: { readonly fit: SubsetError; readonly heldOut: SubsetError | undefined }
  readonly error: { readonly fit: SubsetError; readonly heldOut: SubsetError | undefined }
  readonly seconds: number
}

/** The parameters at coordinates `x` of `names` around `start`. */
export const paramsAt = (start: RunParams, names: ReadonlyArray<RunFitParam>, x: ReadonlyArray<number>): RunParams => {
  let p = start
  names.forEach((name, i) => {
    p = coordOf(name, start).apply(p, x[i]!)
  })
  return p
}

/**
 * Fit `options.params` to the fit requests of `problem` from `options.start`, every evaluation a
 * full replay (see the module comment). Fails with the replay's error.
 */
export const fitRun = <E>(problem: RunFitProblem<E>, options: RunFitOptions): Effect.Effect<RunFitResult, E> =>
  Effect.gen(function*() {
    const t0 = Date.now()
    const objective = options.objective ?? "requests"
    const names = [...new Set(options.params)]
    const coords = names.map((nm) => coordOf(nm, options.start))
    const x0 = coords.map((c) => Math.min(c.hi, Math.max(c.lo, c.x0)))
    const lossAt = (x: ReadonlyArray<number>) =>
      Effect.map(problem.simulate(paramsAt(options.start, names, x)), (s) => {
        let prior = 0
        for (let i = 0; i < x.length; i++) prior += (x[i]! - x0[i]!) ** 2
        return runLoss(objective, problem.measured, s, problem.pairs, options.fit) + PRIOR_WEIGHT * prior
      })
    const r = yield* boundedNelderMead(lossAt, x0, coords.map((c) => c.lo), coords.map((c) => c.hi), coords.map((c) => c.step), options.maxEvaluations ?? 150)
    const params = paramsAt(options.start, names, r.x)
    const score = (p: RunParams) =>
      Effect.map(problem.simulate(p), (s) => ({
        loss: runLoss(objective, problem.measured, s, problem.pairs, options.fit),
        fit: subsetError(problem.measured, s, problem.pairs, options.fit),
        heldOut: options.heldOut.length === 0 ? undefined : subsetError(problem.measured, s, problem.pairs, options.heldOut)
      }))
    const before = yield* score(options.start)
    const after = yield* score(params)
    return {
      start: options.start,
      params,
      fitted: names,
      objective,
      evaluations: r.evaluations + 2,
      startLoss: before.loss,
      loss: after.loss,
      startError: { fit: before.fit, heldOut: before.heldOut },
      error: { fit: after.fit, heldOut: after.heldOut },
      seconds: (Date.now() - t0) / 1000
    }
  })

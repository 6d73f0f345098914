/**
 * Networks from measured collective tables (network/vidurCsv.ts):
 *  - `curveLookup`: time vs message size on one measured curve, linear interpolation in size
 *    between measured points. Vidur's sizes are dense (8 KiB steps up to 256 KiB, then 32 KiB and
 *    128 KiB steps up to 64 MiB), so linear and log-log interpolation differ by well under the
 *    measurement noise; linear keeps a measured point exact and an alpha-beta-shaped table
 *    exactly alpha-beta between points. Below the smallest measured size the smallest size's time
 *    is used (latency bound); above the largest, time grows with the bandwidth of the upper points
 *    (least-squares slope over the sizes >= half the largest; the fitted bus bandwidth when that
 *    slope is not positive).
 *  - `fitAlphaBeta`: least-squares alpha-beta over a table's points, ring model
 *      all-reduce over n GPUs: t = 2(n-1) x alpha + 2(n-1)/n x bytes / B
 *      send/recv:              t = alpha + bytes / B
 *    with alpha in ns per hop and B the effective bus bandwidth in bytes/ns (= GB/s; nccl-tests'
 *    "busbw", comparable to NetworkService.alphaBeta's link x efficiency). Least squares on the
 *    relative error, so a 2 KiB and a 64 MiB message weigh alike.
 *  - `fitCurves`: one such fit per measured num_workers, on the rows `table:` keeps for that
 *    num_workers (vidurCsv.ts `curvesOf`); `fitTable`: one fit over the whole table.
 *  - `tableNetwork` / `fittedNetwork`: the Network of a loaded table (see each for fall-backs).
 */
import type { Network } from "../domain/Network.js"
import type { Collective, CollectiveCurve, CollectiveTable } from "./vidurCsv.js"

/** Hops and bytes-per-GPU factor of a collective over n GPUs (ring). */
export const ringTerms = (collective: Collective, n: number): { readonly hops: number; readonly volume: number } =>
  collective === "all_reduce" ? { hops: 2 * (n - 1), volume: (2 * (n - 1)) / n } : { hops: 1, volume: 1 }

export interface AlphaBetaFit {
  /** Latency per hop, ns. */
  readonly alphaNs: number
  /** Effective bus bandwidth, bytes/ns (= GB/s); Infinity when the times do not grow with size. */
  readonly busBytesPerNs: number
  /** Points fitted (with a time > 0). */
  readonly points: number
  /** Mean absolute relative error of the fit over the points, fraction. */
  readonly mape: number
  /** Largest absolute relative error, fraction. */
  readonly maxRelErr: number
}

export interface FitPoint {
  /** GPUs taking part. */
  readonly n: number
  /** Message size, bytes. */
  readonly bytes: number
  /** Measured time, ns. */
  readonly ns: number
}

/** Time of the alpha-beta model `fit` for `bytes` over `n` GPUs, ns (unrounded). */
export const alphaBetaNs = (collective: Collective, fit: Pick<AlphaBetaFit, "alphaNs" | "busBytesPerNs">, bytes: number, n: number): number => {
  if (collective === "all_reduce" && n <= 1) return 0
  const { hops, volume } = ringTerms(collective, n)
  return hops * fit.alphaNs + (volume * bytes) / fit.busBytesPerNs
}

/**
 * Least-squares alpha-beta fit (minimising the sum of squared relative errors) of a collective's
 * measured points; alpha is kept >= 0 (refit with alpha = 0 when the unconstrained fit is negative).
 */
export const fitAlphaBeta = (collective: Collective, points: ReadonlyArray<FitPoint>): AlphaBetaFit => {
  // t ~ a x1 + b x2 with x1 = hops, x2 = volume x bytes, weights 1/t^2; a = alpha, b = 1/B
  let s11 = 0, s12 = 0, s22 = 0, s1t = 0, s2t = 0, count = 0
  for (const p of points) {
    if (!(p.ns > 0)) continue
    const { hops, volume } = ringTerms(collective, p.n)
    const x1 = hops, x2 = volume * p.bytes, w = 1 / (p.ns * p.ns)
    s11 += w * x1 * x1
    s12 += w * x1 * x2
    s22 += w * x2 * x2
    s1t += w * x1 * p.ns
    s2t += w * x2 * p.ns
    count++
  }
  let a = 0
  let b = 0
  const det = s11 * s22 - s12 * s12
  if (count >= 2 && det > 1e-12 * s11 * s22) {
    a = (s1t * s22 - s2t * s12) / det
    b = (s2t * s11 - s1t * s12) / det
  }
  if (!(a >= 0) || !(b > 0)) {
    // one-parameter fits: bandwidth only, or latency only; keep the better
    const bOnly = s22 > 0 ? s2t / s22 : 0
    const aOnly = s11 > 0 ? s1t / s11 : 0
    const err = (aa: number, bb: number) => {
      let e = 0
      for (const p of points) {
        if (!(p.ns > 0)) continue
        const { hops, volume } = ringTerms(collective, p.n)
        e += ((aa * hops + bb * volume * p.bytes - p.ns) / p.ns) ** 2
      }
      return e
    }
    if (bOnly > 0 && err(0, bOnly) <= err(aOnly, 0)) { a = 0; b = bOnly } else { a = aOnly; b = 0 }
  }
  const fit = { alphaNs: a, busBytesPerNs: b > 0 ? 1 / b : Infinity }
  let sum = 0
  let max = 0
  for (const p of points) {
    if (!(p.ns > 0)) continue
    const e = Math.abs(alphaBetaNs(collective, fit, p.bytes, p.n) - p.ns) / p.ns
    sum += e
    if (e > max) max = e
  }
  return { ...fit, points: count, mape: count === 0 ? 0 : sum / count, maxRelErr: max }
}

/** The measured points of a table (all its curves, before the isotonic fit). */
export const tablePoints = (t: CollectiveTable, numWorkers?: number): Array<FitPoint> =>
  t.curves.filter((c) => numWorkers === undefined || c.numWorkers === numWorkers)
    .flatMap((c) => c.sizes.map((bytes, i) => ({ n: c.numWorkers, bytes, ns: c.measuredNs[i]! })))

/**
 * Fit of each measured num_workers on its own, from the rows `table:` uses for it (the curve's
 * measured medians, before the isotonic fit), keyed by num_workers.
 */
export const fitCurves = (t: CollectiveTable): ReadonlyMap<number, AlphaBetaFit> =>
  new Map(t.curves.map((c) => [c.numWorkers, fitAlphaBeta(t.collective, tablePoints(t, c.numWorkers))] as const))

/**
 * Fit of a whole table: every num_workers together, from the single-node curves (devices_per_node
 * equal to num_workers) when the table has any, so that multi-node rows (a100_dgx's 16 workers over
 * two 8-GPU nodes) do not drag the fit used for intra-node TP.
 */
export const fitTable = (t: CollectiveTable): AlphaBetaFit => {
  const single = t.curves.filter((c) => c.devicesPerNode === c.numWorkers)
  const use = single.length > 0 ? { ...t, curves: single } : t
  return fitAlphaBeta(t.collective, tablePoints(use))
}

/** Bandwidth of a curve's upper points, bytes/ns: least-squares slope of time vs size over sizes >= half the largest. */
const tailBytesPerNs = (c: CollectiveCurve): number => {
  const last = c.sizes[c.sizes.length - 1]!
  let sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0
  for (let i = 0; i < c.sizes.length; i++) {
    const x = c.sizes[i]!
    if (x < last / 2) continue
    const y = c.ns[i]!
    sx += x; sy += y; sxx += x * x; sxy += x * y; k++
  }
  const d = k * sxx - sx * sx
  if (k < 2 || !(d > 0)) return Number.NaN
  const slope = (k * sxy - sx * sy) / d
  return slope > 0 ? 1 / slope : Number.NaN
}

/**
 * Time lookup on one measured curve, ns (unrounded): linear between measured sizes, the smallest
 * size's time below it, and beyond the largest size the largest's time plus the extra bytes at the
 * upper points' bandwidth (`fallbackBytesPerNs`, bytes of message per ns, when that is undefined).
 */
export const curveLookup = (c: CollectiveCurve, fallbackBytesPerNs: number): (bytes: number) => number => {
  const xs = Float64Array.from(c.sizes)
  const ys = Float64Array.from(c.ns)
  const last = xs.length - 1
  const tail = tailBytesPerNs(c)
  const bw = Number.isFinite(tail) && tail > 0 ? tail : fallbackBytesPerNs
  return (bytes) => {
    if (bytes <= xs[0]!) return ys[0]!
    if (bytes >= xs[last]!) return ys[last]! + (bytes - xs[last]!) / bw
    let lo = 0
    let hi = last
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1
      if (xs[mid]! <= bytes) lo = mid
      else hi = mid
    }
    const x0 = xs[lo]!, x1 = xs[hi]!
    return ys[lo]! + (ys[hi]! - ys[lo]!) * (bytes - x0) / (x1 - x0)
  }
}

/** Message bandwidth (bytes/ns) of a fit for n GPUs, for extrapolating a curve when its tail is flat. */
const messageBytesPerNs = (collective: Collective, fit: AlphaBetaFit, n: number) => fit.busBytesPerNs / ringTerms(collective, n).volume

/**
 * Table-driven network (`--network table:DIR`).
 * All-reduce over n GPUs: 0 for n <= 1; the measured curve for n when the table has it; otherwise
 * the alpha-beta fitted to the whole all-reduce table (`fitTable`) for that n; `base` when
 * there is no all-reduce table. Send/recv: the measured curve (Vidur measures 2 GPUs; the
 * single-node rows are used), or `base` without a send/recv table. Never throws; times in ns,
 * rounded to integers like the alpha-beta model.
 */
export const tableNetwork = (allReduce: CollectiveTable | undefined, sendRecv: CollectiveTable | undefined, base: Network): Network => {
  let allReduceNs = base.allReduceNs
  if (allReduce !== undefined) {
    const fit = fitTable(allReduce)
    const curves = new Map(allReduce.curves.map((c) => [c.numWorkers, curveLookup(c, messageBytesPerNs("all_reduce", fit, c.numWorkers))]))
    allReduceNs = (bytes, n) => {
      if (n <= 1) return 0
      const f = curves.get(n)
      return Math.round(f === undefined ? alphaBetaNs("all_reduce", fit, bytes, n) : f(bytes))
    }
  }
  let sendRecvNs = base.sendRecvNs
  if (sendRecv !== undefined) {
    const fit = fitTable(sendRecv)
    const c = sendRecv.curves.find((x) => x.numWorkers === 2) ?? sendRecv.curves[0]!
    const f = curveLookup(c, messageBytesPerNs("send_recv", fit, 2))
    sendRecvNs = (bytes, crossNode) => crossNode === true ? base.sendRecvNs(bytes, true) : Math.round(f(bytes))
  }
  return { ...base, allReduceNs, sendRecvNs, kvTransferNs: (bytes, crossNode) => crossNode === true ? base.kvTransferNs(bytes, true) : sendRecvNs(bytes, false) }
}

/**
 * Fitted alpha-beta network (`--network fit:DIR`): each collective priced by an alpha-beta fitted
 * to its table, or by `base` when its table is absent. All-reduce over n GPUs: 0 for n <= 1; the
 * fit of the rows for n (`fitCurves`: the rows `table:` uses for n) when the table measured n;
 * otherwise the whole-table fit (`fitTable`: one alpha and bus bandwidth across the measured
 * num_workers) for that n. Send/recv: the fit of the num_workers 2 rows, or the whole-table fit
 * when the table has none. Times in ns, rounded.
 */
export const fittedNetwork = (allReduce: CollectiveTable | undefined, sendRecv: CollectiveTable | undefined, base: Network): Network => {
  let allReduceNs = base.allReduceNs
  if (allReduce !== undefined) {
    const whole = fitTable(allReduce)
    const byN = fitCurves(allReduce)
    allReduceNs = (bytes, n) => n <= 1 ? 0 : Math.round(alphaBetaNs("all_reduce", byN.get(n) ?? whole, bytes, n))
  }
  let sendRecvNs = base.sendRecvNs
  if (sendRecv !== undefined) {
    const sr = fitCurves(sendRecv).get(2) ?? fitTable(sendRecv)
    sendRecvNs = (bytes, crossNode) => crossNode === true ? base.sendRecvNs(bytes, true) : Math.round(alphaBetaNs("send_recv", sr, bytes, 2))
  }
  return { ...base, allReduceNs, sendRecvNs, kvTransferNs: (bytes, crossNode) => crossNode === true ? base.kvTransferNs(bytes, true) : sendRecvNs(bytes, false) }
}

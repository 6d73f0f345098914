/**
 * Interpolation over measured grids, allocation-free at lookup time (the engine's hot loop).
 *
 * Rules (the same for every profile format):
 *  - inside the measured keys: linear interpolation between the two bracketing keys (binary
 *    search), on a linear scale on every axis. Layer kernels are linear in tokens, sequences and
 *    KV length between grid points (LLMServingSim 2.0 measured log-space blending to be
 *    +12-14% biased on doubling grids, linear +2-4%);
 *  - below the smallest key: the smallest key's value (a kernel never gets cheaper than its
 *    smallest measured launch);
 *  - above the largest key x_max: linear extrapolation along the secant from x_max/2 to x_max
 *    (slope clamped at >= 0), i.e. the kernel's throughput over the upper half of the grid. On
 *    the doubling grids the profilers use this is the top two points; on dense token grids it
 *    averages out the noise of adjacent samples. Never an error: the seed crashed above 2,048.
 */

export interface Table1D {
  readonly keys: Float64Array
  readonly values: Float64Array
  /** Slope used above the largest key (value per key unit, >= 0). */
  readonly tailSlope: number
}

/** Build from (key, value) points; duplicate keys keep the last value. Needs at least one point. */
export const makeTable1D = (points: ReadonlyArray<readonly [number, number]>): Table1D => {
  const m = new Map<number, number>()
  for (const [k, v] of points) m.set(k, v)
  const keys = [...m.keys()].sort((a, b) => a - b)
  const ks = Float64Array.from(keys)
  const vs = Float64Array.from(keys.map((k) => m.get(k)!))
  const base: Table1D = { keys: ks, values: vs, tailSlope: 0 }
  const n = ks.length
  if (n < 2) return base
  const xm = ks[n - 1]!
  let half = xm / 2
  if (half <= ks[0]!) half = ks[n - 2]!
  const slope = (vs[n - 1]! - interpInside(base, half)) / (xm - half)
  return { keys: ks, values: vs, tailSlope: slope > 0 && Number.isFinite(slope) ? slope : 0 }
}

/** Index of the last key <= x (or -1). */
export const bracket = (keys: Float64Array, x: number): number => {
  let lo = 0
  let hi = keys.length - 1
  if (x < keys[0]!) return -1
  if (x >= keys[hi]!) return hi
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1
    if (keys[mid]! <= x) lo = mid
    else hi = mid
  }
  return lo
}

const interpInside = (t: Table1D, x: number): number => {
  const k = t.keys
  const i = bracket(k, x)
  if (i < 0) return t.values[0]!
  if (i >= k.length - 1) return t.values[k.length - 1]!
  const x0 = k[i]!
  const x1 = k[i + 1]!
  const v0 = t.values[i]!
  return v0 + (t.values[i + 1]! - v0) * (x - x0) / (x1 - x0)
}

/** Value at `x` under the rules above. */
export const lookup1D = (t: Table1D, x: number): number => {
  const k = t.keys
  const n = k.length
  const xm = k[n - 1]!
  if (x > xm) return t.values[n - 1]! + (x - xm) * t.tailSlope
  return interpInside(t, x)
}

/** Largest measured key. */
export const maxKey = (t: Table1D): number => t.keys[t.keys.length - 1]!

/** Multiply every value (e.g. ms -> ns). */
export const scaleTable = (t: Table1D, f: number): Table1D => ({
  keys: t.keys,
  values: t.values.map((v) => v * f),
  tailSlope: t.tailSlope * f
})

/** Sum of tables on the union of their keys (q+k+v -> qkv, gate+up -> gate_up). */
export const sumTables = (ts: ReadonlyArray<Table1D>): Table1D => {
  const keys = new Set<number>()
  for (const t of ts) for (const k of t.keys) keys.add(k)
  return makeTable1D([...keys].map((k) => [k, ts.reduce((s, t) => s + lookup1D(t, k), 0)] as const))
}

/**
 * Bracket with linear weight on an axis of grid values, with the tail rule (above the max:
 * extrapolate along the top two values; below the min: clamp). Writes into `out` [lo, hi, w].
 */
export const axisWeights = (axis: Float64Array, x: number, out: Float64Array): void => {
  const n = axis.length
  if (n === 1 || x <= axis[0]!) {
    out[0] = 0; out[1] = 0; out[2] = 0
    return
  }
  let i = bracket(axis, x)
  if (i >= n - 1) i = n - 2
  out[0] = i
  out[1] = i + 1
  out[2] = (x - axis[i]!) / (axis[i + 1]! - axis[i]!)
}

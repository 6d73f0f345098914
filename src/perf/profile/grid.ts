/**
 * Multi-axis attention grids with linear interpolation on every axis and the tail rule of
 * interp.ts (clamp below the grid, extend along the top two grid values above it).
 * Allocation-free lookups: every scratch buffer is preallocated per table.
 */
import { axisWeights, lookup1D, makeTable1D, type Table1D } from "./interp.js"

/** f(x, y): a sorted x axis, each x with its own 1-D table over y. */
export interface Grid2D {
  readonly xs: Float64Array
  readonly rows: ReadonlyArray<Table1D>
  readonly w: Float64Array
}

export const makeGrid2D = (points: ReadonlyArray<readonly [number, number, number]>): Grid2D => {
  const by = new Map<number, Array<readonly [number, number]>>()
  for (const [x, y, v] of points) {
    let l = by.get(x)
    if (l === undefined) by.set(x, l = [])
    l.push([y, v])
  }
  const xs = [...by.keys()].sort((a, b) => a - b)
  return { xs: Float64Array.from(xs), rows: xs.map((x) => makeTable1D(by.get(x)!)), w: new Float64Array(3) }
}

export const lookup2D = (g: Grid2D, x: number, y: number): number => {
  axisWeights(g.xs, x, g.w)
  const lo = g.w[0]!
  const hi = g.w[1]!
  const t = g.w[2]!
  const v0 = lookup1D(g.rows[lo]!, y)
  if (lo === hi || t === 0) return v0
  return v0 + t * (lookup1D(g.rows[hi]!, y) - v0)
}

/**
 * LLMServingSim 2.0 attention: f(pc, kp, nd, kd), measured on slices (pc, nd) each holding a 2-D
 * grid over (kp, kd). Missing slices: (0, 0) is no work (0 ns); others take the present corners.
 */
export interface Grid4D {
  readonly pcs: Float64Array
  readonly nds: Float64Array
  readonly slices: ReadonlyArray<Grid2D | null>
  readonly wPc: Float64Array
  readonly wNd: Float64Array
}

export const makeGrid4D = (rows: ReadonlyArray<readonly [pc: number, kp: number, nd: number, kd: number, v: number]>): Grid4D => {
  const pcs = [...new Set(rows.map((r) => r[0]))].sort((a, b) => a - b)
  const nds = [...new Set(rows.map((r) => r[2]))].sort((a, b) => a - b)
  const pts = new Map<string, Array<readonly [number, number, number]>>()
  for (const [pc, kp, nd, kd, v] of rows) {
    const key = `${pc}|${nd}`
    let l = pts.get(key)
    if (l === undefined) pts.set(key, l = [])
    l.push([kp, kd, v])
  }
  const slices: Array<Grid2D | null> = []
  for (const pc of pcs) for (const nd of nds) {
    const l = pts.get(`${pc}|${nd}`)
    slices.push(l === undefined ? null : makeGrid2D(l))
  }
  return { pcs: Float64Array.from(pcs), nds: Float64Array.from(nds), slices, wPc: new Float64Array(3), wNd: new Float64Array(3) }
}

export const lookup4D = (g: Grid4D, pc: number, kp: number, nd: number, kd: number): number => {
  axisWeights(g.pcs, pc, g.wPc)
  axisWeights(g.nds, nd, g.wNd)
  const nN = g.nds.length
  const p0 = g.wPc[0]!, p1 = g.wPc[1]!, tp = g.wPc[2]!
  const n0 = g.wNd[0]!, n1 = g.wNd[1]!, tn = g.wNd[2]!
  let acc = 0
  let wsum = 0
  for (let a = 0; a < 2; a++) {
    const ip = a === 0 ? p0 : p1
    const wp = a === 0 ? 1 - tp : tp
    if (wp === 0 || (a === 1 && p1 === p0)) continue
    for (let c = 0; c < 2; c++) {
      const inn = c === 0 ? n0 : n1
      const wn = c === 0 ? 1 - tn : tn
      if (wn === 0 || (c === 1 && n1 === n0)) continue
      const s = g.slices[ip * nN + inn]!
      let v: number
      if (s === null) {
        if (g.pcs[ip] === 0 && g.nds[inn] === 0) v = 0
        else continue
      } else v = lookup2D(s, kp, kd)
      acc += wp * wn * v
      wsum += wp * wn
    }
  }
  // weights outside [0,1] (extrapolation) sum to 1 when all corners are present
  return wsum === 0 ? 0 : acc / wsum
}

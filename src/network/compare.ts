/**
 * Measured all-reduce tables (Vidur's all_reduce.csv, network/vidurCsv.ts) against the analytic
 * model (network/analytic.ts), for `llmservingsim network-fit DIR --compare HARDWARE`.
 *
 * What is compared: Vidur's profiler times `torch.distributed.all_reduce` (NCCL, eager, no CUDA
 * graph; vidur/profiling/collectives) with CUDA events, so the model side is NCCL's all-reduce
 * (`ncclAllReduce`: no vLLM custom kernel, which Vidur does not run) plus
 * `VIDUR_EAGER_OVERHEAD_NS`, the fixed per-call cost the eager measurement adds (Python, c10d and
 * the kernel launch inside the timed region). That constant is FITTED to Vidur's a100_dgx and
 * h100_dgx all_reduce.csv (jointly with `RING_EFFICIENCY.nvlink3` / `nvlink4`: least mean |error| on the
 * octave-smoothed medians of 2, 4 and 8 GPUs; 12 us for a100_dgx, 8 us for h100_dgx, 10 us kept) and is not part of the
 * simulator's all-reduce price.
 *
 * Vidur's medians come from 3 timed runs per size and are noisy below a few MiB (neighbouring
 * sizes differ by 5x in h100_dgx at 2 GPUs), so each point is reported twice: against its own
 * median (`err`), and against the median of the measured medians within half an octave
 * (sizes in [s / sqrt 2, s x sqrt 2], `smoothErr`). Errors are (model - measured) / measured.
 */
import type { AnalyticNetwork } from "./analytic.js"
import type { CollectiveTable } from "./vidurCsv.js"

/** Per-call overhead of Vidur's eager torch.distributed measurement, ns (FITTED; see the module comment). */
export const VIDUR_EAGER_OVERHEAD_NS = 10_000

export interface ComparePoint {
  readonly n: number
  readonly bytes: number
  /** The size's measured median, ns. */
  readonly measuredNs: number
  /** Median of the measured medians within half an octave, ns. */
  readonly smoothNs: number
  /** Model: NCCL all-reduce + the eager overhead, ns. */
  readonly modelNs: number
  readonly algorithm: string
  readonly err: number
  readonly smoothErr: number
}

export interface CompareSummary {
  readonly n: number
  readonly points: number
  readonly maxAbsErr: number
  readonly mape: number
  readonly maxAbsSmoothErr: number
  readonly smoothMape: number
}

const median = (xs: Array<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Every measured point with minBytes <= size <= maxBytes, per num_workers, against the model. */
export const compareAllReduce = (
  table: CollectiveTable,
  net: AnalyticNetwork,
  opts: { readonly minBytes?: number; readonly maxBytes?: number; readonly overheadNs?: number } = {}
): Array<ComparePoint> => {
  const lo = opts.minBytes ?? 16 * 1024
  const hi = opts.maxBytes ?? 256 * 1024 * 1024
  const over = opts.overheadNs ?? VIDUR_EAGER_OVERHEAD_NS
  const out: Array<ComparePoint> = []
  for (const c of table.curves) {
    for (let i = 0; i < c.sizes.length; i++) {
      const bytes = c.sizes[i]!
      if (bytes < lo || bytes > hi) continue
      const win: Array<number> = []
      for (let j = 0; j < c.sizes.length; j++) {
        if (c.sizes[j]! >= bytes / Math.SQRT2 && c.sizes[j]! <= bytes * Math.SQRT2) win.push(c.measuredNs[j]!)
      }
      const measuredNs = c.measuredNs[i]!
      const smoothNs = median(win)
      const p = net.ncclAllReduce(bytes, c.numWorkers)
      const modelNs = p.ns + over
      out.push({
        n: c.numWorkers, bytes, measuredNs, smoothNs, modelNs, algorithm: p.algorithm,
        err: (modelNs - measuredNs) / measuredNs,
        smoothErr: (modelNs - smoothNs) / smoothNs
      })
    }
  }
  return out
}

/** Max |error| and mean |error| per num_workers (and n = 0: all together). */
export const summarize = (pts: ReadonlyArray<ComparePoint>): Array<CompareSummary> => {
  const ns = [...new Set(pts.map((p) => p.n))].sort((a, b) => a - b)
  const one = (n: number, xs: ReadonlyArray<ComparePoint>): CompareSummary => ({
    n,
    points: xs.length,
    maxAbsErr: Math.max(0, ...xs.map((p) => Math.abs(p.err))),
    mape: xs.reduce((a, p) => a + Math.abs(p.err), 0) / Math.max(1, xs.length),
    maxAbsSmoothErr: Math.max(0, ...xs.map((p) => Math.abs(p.smoothErr))),
    smoothMape: xs.reduce((a, p) => a + Math.abs(p.smoothErr), 0) / Math.max(1, xs.length)
  })
  return [...ns.map((n) => one(n, pts.filter((p) => p.n === n))), one(0, pts)]
}

/**
 * Summary statistics with numpy's definitions, as vLLM's `bench serve` computes them:
 * mean, median, population std (np.std) and percentiles with linear interpolation
 * (np.percentile's default). Empty input gives 0, as vLLM reports for missing metrics.
 */

/** A growable Float64 array (no per-push allocation once grown). */
export class Samples {
  private data = new Float64Array(1024)
  length = 0

  push(x: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2)
      next.set(this.data)
      this.data = next
    }
    this.data[this.length++] = x
  }

  /** The samples as pushed (a view, no copy). */
  values(): Float64Array {
    return this.data.subarray(0, this.length)
  }

  /** The samples sorted ascending, in place (a view, no copy: pushing afterwards re-sorts). */
  sorted(): Float64Array {
    return this.data.subarray(0, this.length).sort()
  }

  sum(): number {
    let s = 0
    for (let i = 0; i < this.length; i++) s += this.data[i]!
    return s
  }
}

export interface Distribution {
  readonly mean: number
  readonly median: number
  readonly std: number
  readonly p90: number
  readonly p95: number
  readonly p99: number
}

/** Percentile `q` in [0, 100] of an ascending array (numpy "linear"). */
export const percentileSorted = (xs: Float64Array, q: number): number => {
  if (xs.length === 0) return 0
  const rank = (q / 100) * (xs.length - 1)
  const lo = Math.floor(rank)
  const hi = Math.ceil(rank)
  const a = xs[lo]!
  return a + (xs[hi]! - a) * (rank - lo)
}

export const distributionOf = (s: Samples): Distribution => distributionOfSorted(s.sorted())

/** The same of plain values (copied, then sorted). */
export const distributionOfValues = (values: ArrayLike<number>): Distribution => distributionOfSorted(Float64Array.from(values).sort())

/** The same of an ascending array. */
export const distributionOfSorted = (xs: Float64Array): Distribution => {
  if (xs.length === 0) return { mean: 0, median: 0, std: 0, p90: 0, p95: 0, p99: 0 }
  let sum = 0
  for (let i = 0; i < xs.length; i++) sum += xs[i]!
  const mean = sum / xs.length
  let sq = 0
  for (let i = 0; i < xs.length; i++) sq += (xs[i]! - mean) ** 2
  return {
    mean,
    median: percentileSorted(xs, 50),
    std: Math.sqrt(sq / xs.length),
    p90: percentileSorted(xs, 90),
    p95: percentileSorted(xs, 95),
    p99: percentileSorted(xs, 99)
  }
}

/**
 * Fixed-memory distribution of positive values (inter-token latencies: one sample per generated
 * token, too many to keep). Logarithmic buckets of ratio gamma = (1 + a) / (1 - a) with a = 0.001
 * (the DDSketch construction, Masson et al., VLDB 2019): any reported percentile is within 0.1% of
 * a value in the data. Count and mean are exact (integer samples, as ns gaps are, sum exactly while
 * the total stays below 2^53); std is computed from the buckets (within 0.1%). Adding n samples at
 * once gives bit-for-bit the same state as adding them one by one, which fast-forward relies on.
 */
import type { Distribution } from "./stats.js"

const ALPHA = 0.001
const GAMMA = (1 + ALPHA) / (1 - ALPHA)
const LOG_GAMMA = Math.log(GAMMA)
/** Buckets for values from 1 to about 1e13 (ns: 1 ns to ~3 hours). */
const NUM_BUCKETS = Math.ceil(Math.log(1e13) / LOG_GAMMA) + 2

export class LogHistogram {
  private readonly counts = new Float64Array(NUM_BUCKETS)
  count = 0
  sum = 0
  private zeros = 0
  /** The bucket of the last value added, and an open interval of values sure to fall in it. */
  private lastIndex = 0
  private lastLo = Infinity
  private lastHi = -Infinity

  /** Add `n` samples of value `x` (x >= 0). */
  add(x: number, n = 1): void {
    this.count += n
    this.sum += x * n
    if (x < 1) {
      this.zeros += n
      return
    }
    // consecutive samples are often equal or close (every decode of a step has the same gap, and
    // the next step's differs by little): skip the log while they stay inside the last bucket, well
    // clear of its edges (by 1e-9 of a bucket; the log's rounding is ~1e-12 of one), so the bucket
    // is the one the formula gives
    let i: number
    if (x > this.lastLo && x < this.lastHi) i = this.lastIndex
    else {
      i = Math.ceil(Math.log(x) / LOG_GAMMA)
      if (i >= NUM_BUCKETS) {
        i = NUM_BUCKETS - 1
        this.lastLo = Infinity
        this.lastHi = -Infinity
      } else {
        this.lastLo = Math.exp((i - 1 + 1e-9) * LOG_GAMMA)
        this.lastHi = Math.exp((i - 1e-9) * LOG_GAMMA)
      }
      this.lastIndex = i
    }
    this.counts[i]! += n
  }

  /** Representative value of bucket i (relative error <= ALPHA for every value in it). */
  private value(i: number): number {
    return (2 * Math.pow(GAMMA, i)) / (GAMMA + 1)
  }

  /** Value of the k-th smallest sample (0-based). */
  private nth(k: number): number {
    if (k < this.zeros) return 0
    let seen = this.zeros
    for (let i = 0; i < NUM_BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen > k) return this.value(i)
    }
    return this.value(NUM_BUCKETS - 1)
  }

  /** Percentile q in [0, 100], numpy "linear" between neighbouring ranks. */
  percentile(q: number): number {
    if (this.count === 0) return 0
    const rank = (q / 100) * (this.count - 1)
    const lo = Math.floor(rank)
    const a = this.nth(lo)
    if (rank === lo) return a
    return a + (this.nth(lo + 1) - a) * (rank - lo)
  }

  distribution(scale = 1): Distribution {
    if (this.count === 0) return { mean: 0, median: 0, std: 0, p90: 0, p95: 0, p99: 0 }
    const mean = this.sum / this.count
    let sq = this.zeros * mean * mean
    for (let i = 0; i < NUM_BUCKETS; i++) {
      const c = this.counts[i]!
      if (c !== 0) sq += c * (this.value(i) - mean) ** 2
    }
    const variance = sq / this.count
    return {
      mean: mean * scale,
      median: this.percentile(50) * scale,
      std: Math.sqrt(variance) * scale,
      p90: this.percentile(90) * scale,
      p95: this.percentile(95) * scale,
      p99: this.percentile(99) * scale
    }
  }
}

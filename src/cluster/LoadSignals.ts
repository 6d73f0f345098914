/**
 * The load signals a router reads for each candidate instance: waiting requests, running
 * requests and KV-cache usage (used blocks / total blocks, as vLLM's `kv_cache_usage`:
 * vllm/v1/core/block_pool.py `get_usage`, 1 - free / total, cached-but-free blocks counted free).
 *
 * Exact (interval 0): read from the instances at the moment of routing. Stale (interval > 0): as
 * an endpoint picker that scrapes each server's /metrics periodically (llm-d's EPP refreshes
 * endpoint metrics on an interval, 50 ms by default in the Gateway API Inference Extension) the
 * router sees what was sampled at the last scrape: an instance's values are resampled by the first
 * routing decision after each multiple of the interval (simulated time), and stay fixed until the
 * next one, so the router does not see the requests it has itself sent since. Sampling at the
 * first arrival after a scrape tick, not at the tick itself, is an approximation (the engine does
 * not keep past states); the signal is at most one interval old.
 * Cost: O(candidates) per routing decision, nothing per engine step.
 */
import type { Routable } from "./Router.js"

export class LoadSignals {
  /** Per candidate of the last `read`: waiting requests. */
  waiting = new Float64Array(8)
  /** Per candidate of the last `read`: running requests. */
  running = new Float64Array(8)
  /** Per candidate of the last `read`: KV-cache usage, 0..1. */
  kvUsage = new Float64Array(8)
  // last samples by instance id (stale mode)
  private sWaiting = new Float64Array(8)
  private sRunning = new Float64Array(8)
  private sKv = new Float64Array(8)
  private sTick = new Float64Array(8).fill(-1)

  /** @param intervalNs refresh interval of the signals, ns of simulated time (0 = exact). */
  constructor(readonly intervalNs: number) {
    if (!(Number.isFinite(intervalNs) && intervalNs >= 0)) throw new Error(`LoadSignals: interval must be >= 0 ns (got ${intervalNs})`)
  }

  /** Fill `waiting`, `running`, `kvUsage` for `candidates` (index-aligned) as seen at `nowNs`. */
  read(candidates: ReadonlyArray<Routable>, nowNs: number): void {
    const n = candidates.length
    if (this.waiting.length < n) {
      this.waiting = new Float64Array(2 * n)
      this.running = new Float64Array(2 * n)
      this.kvUsage = new Float64Array(2 * n)
    }
    if (this.intervalNs === 0) {
      for (let i = 0; i < n; i++) {
        const s = candidates[i]!.scheduler
        this.waiting[i] = s.waiting.length
        this.running[i] = s.running.length
        this.kvUsage[i] = s.kv.numBlocks > 0 ? s.kv.usedBlocks / s.kv.numBlocks : 1
      }
      return
    }
    const tick = Math.floor(nowNs / this.intervalNs)
    for (let i = 0; i < n; i++) {
      const inst = candidates[i]!
      const id = inst.id
      if (id >= this.sTick.length) this.grow(id + 1)
      if (this.sTick[id] !== tick) {
        const s = inst.scheduler
        this.sWaiting[id] = s.waiting.length
        this.sRunning[id] = s.running.length
        this.sKv[id] = s.kv.numBlocks > 0 ? s.kv.usedBlocks / s.kv.numBlocks : 1
        this.sTick[id] = tick
      }
      this.waiting[i] = this.sWaiting[id]!
      this.running[i] = this.sRunning[id]!
      this.kvUsage[i] = this.sKv[id]!
    }
  }

  private grow(n: number): void {
    const m = Math.max(n, 2 * this.sTick.length)
    const g = (a: Float64Array, fill: number) => {
      const b = new Float64Array(m).fill(fill)
      b.set(a)
      return b
    }
    this.sWaiting = g(this.sWaiting, 0)
    this.sRunning = g(this.sRunning, 0)
    this.sKv = g(this.sKv, 0)
    this.sTick = g(this.sTick, -1)
  }
}

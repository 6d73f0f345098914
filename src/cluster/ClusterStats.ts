/**
 * Per-instance and per-pool results of a cluster run (summary.json `instances` and `pools`). An
 * EngineObserver keeping O(1) counters per event; per-pool latency distributions come from one
 * MetricsCollector per pool, fed only when there is more than one pool (with one pool they equal
 * the run's).
 */
import type { SimRequest } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import { type Instance, ROLE_NAMES } from "../engine/Instance.js"
import { MetricsCollector } from "../metrics/MetricsCollector.js"

export interface PoolInfo {
  readonly name: string
  readonly role: number
  readonly hardware: string
  readonly model: string
  readonly kvBlocks: number
}

export class ClusterStats {
  private readonly finished: Float64Array
  private readonly prefilled: Float64Array
  private readonly preempted: Float64Array
  private readonly outputTokens: Float64Array
  private readonly poolMetrics: ReadonlyArray<MetricsCollector> | undefined
  private readonly poolOf: Int32Array
  readonly observer: EngineObserver

  constructor(instancePools: ReadonlyArray<number>, private readonly pools: ReadonlyArray<PoolInfo>) {
    const n = instancePools.length
    this.finished = new Float64Array(n)
    this.prefilled = new Float64Array(n)
    this.preempted = new Float64Array(n)
    this.outputTokens = new Float64Array(n)
    this.poolOf = Int32Array.from(instancePools)
    this.poolMetrics = pools.length > 1 ? pools.map(() => new MetricsCollector()) : undefined
    this.observer = this.makeObserver()
  }

  private makeObserver(): EngineObserver {
    const pm = this.poolMetrics
    return {
      onFinish: (r) => {
        this.finished[r.instance]++
        this.outputTokens[r.instance] += r.numOutput
        if (r.prefillInstance >= 0) this.prefilled[r.prefillInstance]++
        if (pm !== undefined) {
          // a disaggregated request belongs to both pools; its latencies are reported under the decode pool
          const o = pm[this.poolOf[r.instance]!]!.observer
          o.onArrive!(r)
          o.onFinish!(r)
        }
      },
      onPreempt: (r) => {
        this.preempted[r.instance]++
      },
      ...(pm === undefined ? {} : {
        onReject: (r: SimRequest, why: string) => {
          const o = pm[this.poolOf[r.instance]!]!.observer
          o.onArrive!(r)
          o.onReject!(r, why)
        }
      })
    }
  }

  /**
   * summary.json `instances`: one entry per instance (a pipeline-parallel replica sums its virtual
   * engines: steps are micro-batches, busy time and KV blocks added up, utilization over P).
   */
  instancesJson(instances: ReadonlyArray<Instance>, durationS: number) {
    const byId = new Map<number, Array<Instance>>()
    for (const x of instances) {
      const g = byId.get(x.id)
      if (g === undefined) byId.set(x.id, [x])
      else g.push(x)
    }
    return [...byId.values()].map((ves) => {
      const x = ves[0]!
      let steps = 0, busy = 0, blocks = 0, queries = 0, hits = 0
      for (const v of ves) {
        steps += v.steps
        busy += v.busyNs / 1e9
        blocks += v.scheduler.kv.numBlocks
        queries += v.scheduler.kv.stats.queries
        hits += v.scheduler.kv.stats.hits
      }
      return {
        instance: x.id,
        pool: x.poolName,
        role: ROLE_NAMES[x.role],
        completed: this.finished[x.id]!,
        prefilled: this.prefilled[x.id]!,
        output_tokens: this.outputTokens[x.id]!,
        num_steps: steps,
        busy_s: busy,
        utilization: durationS > 0 ? Math.min(1, busy / ves.length / durationS) : 0,
        num_preemptions: this.preempted[x.id]!,
        kv_cache_blocks: blocks,
        prefix_cache_hit_rate: queries === 0 ? 0 : hits / queries
      }
    })
  }

  /** summary.json `pools`: per pool, its instances and (several pools) its latency summary. */
  poolsJson(instances: ReadonlyArray<Instance>, durationS: number) {
    return this.pools.map((p, i) => {
      const units = instances.filter((x) => x.pool === i)
      const mine = units.filter((x) => x.virtualEngine === 0)
      const busy = units.reduce((a, x) => a + x.busyNs / (x.gate === undefined ? 1 : x.gate.freeAt.length), 0) / 1e9
      const m = this.poolMetrics?.[i]
      const s = m?.summary({ kvCacheBlocks: p.kvBlocks, prefixCache: { queries: 0, hits: 0, preemptedQueries: 0, preemptedHits: 0 }, seed: 0, config: {} })
      return {
        pool: p.name,
        role: ROLE_NAMES[p.role as 0 | 1 | 2],
        model: p.model,
        hardware: p.hardware,
        instances: mine.length,
        kv_cache_blocks: p.kvBlocks,
        completed: mine.reduce((a, x) => a + this.finished[x.id]!, 0),
        prefilled: mine.reduce((a, x) => a + this.prefilled[x.id]!, 0),
        num_steps: units.reduce((a, x) => a + x.steps, 0),
        utilization: durationS > 0 && mine.length > 0 ? Math.min(1, busy / durationS / mine.length) : 0,
        ...(s === undefined || p.role === 1 ? {} : {
          mean_ttft_ms: s.mean_ttft_ms, p99_ttft_ms: s.p99_ttft_ms,
          mean_tpot_ms: s.mean_tpot_ms, p99_tpot_ms: s.p99_tpot_ms,
          mean_e2el_ms: s.mean_e2el_ms, p99_e2el_ms: s.p99_e2el_ms
        })
      }
    })
  }
}

/**
 * Pipeline parallelism (`--pipeline-parallel-size P`), scheduled as vLLM V0 does it (the engine the
 * published vLLM 0.6 rows ran): each replica runs P virtual engines, each with its own scheduler
 * and 1/P of the KV blocks (V0 `Scheduler.__init__`: `num_gpu_blocks //= pipeline_parallel_size`),
 * so up to P micro-batches are in flight. A new request goes to the virtual engine with the fewest
 * unfinished requests (V0 `LLMEngine.add_request`: `min(schedulers, key=get_num_unfinished_seq_groups)`).
 *
 * The stages are shared: a `PipelineGate` per replica holds when each stage is next free. A
 * micro-batch enters stage 0 when both its virtual engine (its previous micro-batch has returned)
 * and stage 0 are free, then runs stage by stage, each stage starting when the micro-batch has
 * arrived from the previous one (its stage time plus the send/recv of the activations) and that
 * stage has finished the micro-batch before it. Its tokens appear when the last stage ends.
 */
import type { BatchShape } from "../perf/BatchShape.js"
import type { StagePricing } from "../perf/pipeline.js"
import type { Instance } from "../engine/Instance.js"
import type { KvHolder } from "../memory/KvCache.js"
import type { Routable } from "./Router.js"

/**
 * GPUs in one node where the hardware's fabric does not say (it gives `gpusPerNode`, used by the
 * perf models): the HGX/DGX baseboard's 8 (H100/H200/B200/A100 SXM).
 */
export const GPUS_PER_NODE = 8

/**
 * Decoder layers of each stage, vLLM's default split (`vllm.distributed.utils.get_pp_indices`):
 * floor(L / P) each, and the L mod P remaining layers go one each to the stages before the last,
 * counting back from the second to last (the last stage holds the final norm and LM head; the
 * first the embedding). Errors: P < 1 or P > L.
 */
export const stageLayers = (numLayers: number, pp: number): Array<number> => {
  if (!Number.isInteger(pp) || pp < 1 || pp > numLayers) throw new Error(`pipeline_parallel_size ${pp} must be in [1, ${numLayers}]`)
  const base = Math.floor(numLayers / pp)
  const parts = Array.from({ length: pp }, () => base)
  const rest = numLayers % pp
  for (let i = 2; i < rest + 2; i++) parts[pp - i]!++
  return parts
}

/**
 * For each of the P - 1 stage boundaries, whether the send crosses nodes: stage s holds GPUs
 * s x TP .. (s + 1) x TP - 1 (vLLM places ranks TP-major within a stage), GPUS_PER_NODE per node.
 */
export const crossNodeBoundaries = (tp: number, pp: number, gpusPerNode = GPUS_PER_NODE): Array<boolean> =>
  Array.from({ length: pp - 1 }, (_, s) => Math.floor(((s + 1) * tp - 1) / gpusPerNode) !== Math.floor(((s + 1) * tp) / gpusPerNode))

/** The stages of one replica, shared by its virtual engines: when each is next free (ns). */
export class PipelineGate {
  /** When stage s has finished every micro-batch admitted so far, ns. */
  readonly freeAt: Float64Array
  private readonly stageNs: Float64Array
  private readonly sendNs: Float64Array

  constructor(readonly pricing: StagePricing) {
    this.freeAt = new Float64Array(pricing.stages)
    this.stageNs = new Float64Array(pricing.stages)
    this.sendNs = new Float64Array(Math.max(0, pricing.stages - 1))
  }

  /** When a virtual engine whose previous micro-batch returned at `clockNs` can start its next one. */
  startAt(clockNs: number): number {
    const f = this.freeAt[0]!
    return clockNs > f ? clockNs : f
  }

  /**
   * Run micro-batch `b` entering stage 0 at `startNs` (from startAt): occupies each stage in turn
   * and returns when its last stage ends, ns (integer: stage and send times are integer ns).
   */
  run(startNs: number, b: BatchShape): number {
    const P = this.freeAt.length
    this.pricing.price(b, this.stageNs, this.sendNs)
    let t = startNs
    for (let s = 0; s < P; s++) {
      const f = this.freeAt[s]!
      if (f > t) t = f
      t += this.stageNs[s]!
      this.freeAt[s] = t
      if (s < P - 1) t += this.sendNs[s]!
    }
    return t
  }
}

/**
 * One replica under PP: its virtual engines (Instances sharing one PipelineGate). Exposes the
 * replica's load summed over them, so the engine's routers balance replicas.
 */
export class Replica {
  /**
   * What a router reads (cluster/Router.ts `Routable`): waiting and running requests and KV blocks
   * summed over the virtual engines; the longest cached prefix over them.
   */
  readonly scheduler: Routable["scheduler"]

  constructor(readonly virtualEngines: ReadonlyArray<Instance>, readonly gate: PipelineGate) {
    const ves = virtualEngines
    const sum = (f: (v: Instance) => number) => {
      let n = 0
      for (const v of ves) n += f(v)
      return n
    }
    this.scheduler = {
      waiting: { get length() { return sum((v) => v.scheduler.waiting.length) } },
      running: { get length() { return sum((v) => v.scheduler.running.length) } },
      kv: {
        get usedBlocks() { return sum((v) => v.scheduler.kv.usedBlocks) },
        get numBlocks() { return sum((v) => v.scheduler.kv.numBlocks) },
        peekCachedPrefix: (r: KvHolder) => {
          let best = 0
          for (const v of ves) best = Math.max(best, v.scheduler.kv.peekCachedPrefix(r))
          return best
        }
      }
    }
  }

  /** The replica's id (its virtual engines share it: requests.csv's `instance`). */
  get id(): number {
    return this.virtualEngines[0]!.id
  }

  /** The virtual engine a new request joins: fewest unfinished (waiting + running), lowest index on ties. */
  pick(): Instance {
    let best = this.virtualEngines[0]!
    let bestN = Infinity
    for (const v of this.virtualEngines) {
      const n = v.scheduler.waiting.length + v.scheduler.running.length
      if (n < bestN) {
        best = v
        bestN = n
      }
    }
    return best
  }

  /**
   * When the replica's next micro-batch can enter stage 0, ns: the earliest start over its virtual
   * engines with work (Infinity when none has work). The time-ordered engine's key for the replica.
   */
  nextEventNs(): number {
    let t = Infinity
    for (const v of this.virtualEngines) {
      if (!v.hasWork()) continue
      const s = this.gate.startAt(v.clock)
      if (s < t) t = s
    }
    return t
  }

  /**
   * One move of the time-ordered engine: run the micro-batch that enters stage 0 next (its start
   * is nextEventNs(), which the engine has checked against its limits; PP never fast-forwards, so
   * `_limitNs` and `_exact` change nothing). Throws like advanceTo().
   */
  advance(_limitNs: number, _exact: boolean): void {
    let next: Instance | undefined
    let nextStart = Infinity
    for (const v of this.virtualEngines) {
      if (!v.hasWork()) continue
      const s = this.gate.startAt(v.clock)
      if (s < nextStart) {
        next = v
        nextStart = s
      }
    }
    if (next !== undefined && next.step() === 0) {
      throw new Error(`engine stalled on instance ${next.id} (virtual engine ${next.virtualEngine}) at ${next.clock} ns with work queued`)
    }
  }

  /**
   * Run the micro-batches that enter stage 0 before `tNs`, in the order they enter it: each time the
   * virtual engine with work whose next start is earliest (lowest index on ties). Throws when a
   * virtual engine with queued work can schedule nothing (a request that can never fit).
   */
  advanceTo(tNs: number): void {
    const ves = this.virtualEngines
    for (;;) {
      let next: Instance | undefined
      let nextStart = Infinity
      for (const v of ves) {
        if (!v.hasWork()) continue
        const s = this.gate.startAt(v.clock)
        if (s < nextStart) {
          next = v
          nextStart = s
        }
      }
      if (next === undefined || nextStart >= tNs) return
      if (next.step() === 0) {
        throw new Error(`engine stalled on instance ${next.id} (virtual engine ${next.virtualEngine}) at ${next.clock} ns with work queued`)
      }
    }
  }
}

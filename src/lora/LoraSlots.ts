/**
 * One instance's LoRA adapters at run time, as vLLM's worker manages them
 * (vllm/lora/worker_manager.py LRUCacheWorkerLoRAManager, vllm/lora/models.py
 * LRUCacheLoRAModelManager): `max_loras` GPU slots and `max_cpu_loras` adapters cached in host
 * memory, both least-recently-used. Before a step's forward pass the adapters its requests name are
 * activated: one not in a GPU slot is copied into one (evicting the least recently used slot the
 * step does not need), and one not in host memory is first read from storage. vLLM does this inside
 * `execute_model`, so every request of the step waits for it: the load time is added to the step
 * (a "load stall").
 *
 * The step also pays the punica LoRA kernels (shrink x·A, expand ·B per wrapped module and layer)
 * for the tokens of requests that use an adapter, priced on the datasheet roofline:
 *   compute = 2 · lora_tokens · max_lora_rank · layers · elements-per-layer-per-rank / (peak · compute efficiency)
 *   memory  = (adapters in the step · slot bytes + activations read and written) / (bandwidth · memory efficiency)
 *   time    = max(compute, memory) + layers · 8 kernels · kernel overhead
 * at `max_lora_rank`, whatever the adapter's own rank: vLLM's slots are padded to it and its kernels
 * run over the full slot width (which is why vLLM advises the smallest max_lora_rank that fits).
 * LoRA weights are 16-bit (vLLM's lora_dtype "auto" is the activation dtype).
 */
import type { LoraConfig } from "../domain/LoraConfig.js"
import { type Hardware, peakFlops } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import type { RooflineParams } from "../domain/PerfParams.js"
import type { StepPlan } from "../scheduler/StepPlan.js"
import { adapterBytes, LORA_KERNELS_PER_LAYER, loraElementsPerLayerPerRank } from "./adapterSize.js"

/** LoRA element width, bytes (16-bit: vLLM's lora_dtype "auto"). */
const LORA_DTYPE_BYTES = 2

/** Run-wide LoRA counters, shared by every instance's LoraSlots (summary.json `lora`). */
export interface LoraCounters {
  /** Adapters copied from host memory into a GPU slot. */
  gpuLoads: number
  /** Of those, adapters first read from storage (not in the host cache). */
  storageLoads: number
  /** Time steps waited for adapter loads, ns. */
  loadNs: number
  /** Steps that waited for at least one load. */
  stalledSteps: number
  /** Time of the LoRA kernels, ns. */
  kernelNs: number
  /** Steps that ran LoRA kernels. */
  loraSteps: number
}

export const makeLoraCounters = (): LoraCounters => ({ gpuLoads: 0, storageLoads: 0, loadNs: 0, stalledSteps: 0, kernelNs: 0, loraSteps: 0 })

/** What LoraSlots needs to price loads and kernels. */
export interface LoraPricing {
  readonly model: ModelShape
  readonly hardware: Hardware
  readonly roofline: RooflineParams
  readonly tensorParallelSize: number
}

export class LoraSlots {
  /** Adapter id (1..n) held by each GPU slot, 0 = empty. */
  private readonly gpu: Int32Array
  private readonly gpuUsed: Float64Array
  /** Adapter ids cached in host memory, 0 = empty. */
  private readonly cpu: Int32Array
  private readonly cpuUsed: Float64Array
  /** Distinct adapters of the step being priced (first `seenCount`). */
  private readonly seen: Int32Array
  private stepNo = 0
  /** Per adapter id: ns to copy its per-GPU shard from host memory, and to read it whole from storage. */
  private readonly copyNs: Float64Array
  private readonly readNs: Float64Array
  private readonly flopsPerTokenNs: number
  private readonly slotBytesNsPerAdapter: number
  private readonly actNsPerToken: number
  private readonly fixedNs: number

  constructor(readonly config: LoraConfig, p: LoraPricing, private readonly counters: LoraCounters) {
    const { model: m, hardware: hw, roofline: rf, tensorParallelSize: tp } = p
    this.gpu = new Int32Array(config.maxLoras)
    this.gpuUsed = new Float64Array(config.maxLoras)
    this.cpu = new Int32Array(config.maxCpuLoras)
    this.cpuUsed = new Float64Array(config.maxCpuLoras)
    this.seen = new Int32Array(config.maxLoras)
    const n = config.adapters.length
    this.copyNs = new Float64Array(n + 1)
    this.readNs = new Float64Array(n + 1)
    // host to device only: half the hardware file's hostLinkGBs (both directions), as KV offload and swap
    const host = (hw.hostLinkGBs ?? 0) / 2
    for (let i = 0; i < n; i++) {
      const r = config.adapters[i]!.rank
      // every TP rank copies its own shard over its own host link, in parallel
      this.copyNs[i + 1] = host > 0 ? (adapterBytes(m, r, tp, LORA_DTYPE_BYTES) / (host * 1e9)) * 1e9 : 0
      // every TP rank's worker reads the whole adapter file
      this.readNs[i + 1] = (adapterBytes(m, r, 1, LORA_DTYPE_BYTES) / (config.storageGBs * 1e9)) * 1e9
    }
    const perRank = loraElementsPerLayerPerRank(m, tp)
    const rank = config.maxLoraRank
    const flops = peakFlops(hw, LORA_DTYPE_BYTES) * rf.computeEfficiency
    const bw = hw.memoryBandwidthGBs * 1e9 * rf.memoryEfficiency
    this.flopsPerTokenNs = ((2 * rank * m.layers * perRank) / flops) * 1e9
    this.slotBytesNsPerAdapter = ((m.layers * rank * perRank * LORA_DTYPE_BYTES) / bw) * 1e9
    // activations per token and layer: each module's input read by the shrink, its output read and written by the expand
    const h = m.hidden, q = m.heads * m.headDim, kv = m.kvHeads * m.headDim, s = m.gatedMlp ? 2 : 1
    const act = (h + (2 * (q + 2 * kv)) / tp) + (q / tp + 2 * h) + (h + (2 * s * m.intermediate) / tp) + (m.intermediate / tp + 2 * h)
    this.actNsPerToken = ((m.layers * act * LORA_DTYPE_BYTES) / bw) * 1e9
    this.fixedNs = m.layers * LORA_KERNELS_PER_LAYER * rf.kernelOverheadNs
  }

  /** The adapter ids in GPU slots now (0 = empty slot), for tests and metrics. */
  resident(): ReadonlyArray<number> {
    return Array.from(this.gpu).filter((x) => x > 0)
  }

  /**
   * The LoRA time of the step just scheduled in `plan`, ns: the loads of the adapters its requests
   * name that are not in a GPU slot, plus the LoRA kernels. Throws when the step names more than
   * `max_loras` adapters (the scheduler never schedules that).
   */
  stepNs(plan: StepPlan): number {
    const step = ++this.stepNo
    const seen = this.seen
    let count = 0
    let tokens = 0
    for (let i = 0; i < plan.count; i++) {
      const id = plan.reqs[i]!.lora
      if (id <= 0) continue
      tokens += plan.tokens[i]!
      let k = 0
      while (k < count && seen[k] !== id) k++
      if (k === count) {
        if (count === seen.length) throw new Error(`lora: a step names more than --max-loras ${seen.length} adapters`)
        seen[count++] = id
      }
    }
    if (count === 0) return 0
    let load = 0
    for (let k = 0; k < count; k++) load += this.activate(seen[k]!, step)
    const c = this.counters
    if (load > 0) {
      c.loadNs += load
      c.stalledSteps++
    }
    const compute = tokens * this.flopsPerTokenNs
    const memory = count * this.slotBytesNsPerAdapter + tokens * this.actNsPerToken
    const kernels = Math.round((compute > memory ? compute : memory) + this.fixedNs)
    c.kernelNs += kernels
    c.loraSteps++
    return Math.round(load) + kernels
  }

  /**
   * Make adapter `id` resident in a GPU slot for step `step`; returns the load time, ns. A use
   * refreshes it in both caches (vLLM's activate_adapter touches the GPU and the host LRU), so with
   * max_cpu_loras >= max_loras an adapter in a GPU slot is never the host cache's LRU victim.
   */
  private activate(id: number, step: number): number {
    const inCpu = lruTouch(this.cpu, this.cpuUsed, id, step)
    const s = lruFind(this.gpu, id)
    if (s >= 0) {
      this.gpuUsed[s] = step
      return 0
    }
    const victim = lruVictim(this.gpu, this.gpuUsed, step)
    if (victim < 0) throw new Error("lora: no GPU slot free for the step's adapters")
    this.gpu[victim] = id
    this.gpuUsed[victim] = step
    const c = this.counters
    c.gpuLoads++
    let ns = this.copyNs[id]!
    if (!inCpu) {
      c.storageLoads++
      ns += this.readNs[id]!
    }
    return ns
  }
}

/** The slot holding `id`, or -1. */
const lruFind = (ids: Int32Array, id: number): number => {
  for (let s = 0; s < ids.length; s++) if (ids[s] === id) return s
  return -1
}

/** An empty slot, else the least recently used one not used in step `step`; -1 when every slot is in use this step. */
const lruVictim = (ids: Int32Array, used: Float64Array, step: number): number => {
  let victim = -1
  for (let s = 0; s < ids.length; s++) {
    if (ids[s] === 0) return s
    if (used[s]! < step && (victim < 0 || used[s]! < used[victim]!)) victim = s
  }
  return victim
}

/** Mark `id` used at `step` in an LRU cache; false when it was not there (it then takes the victim's slot). */
const lruTouch = (ids: Int32Array, used: Float64Array, id: number, step: number): boolean => {
  const s = lruFind(ids, id)
  if (s >= 0) {
    used[s] = step
    return true
  }
  const v = lruVictim(ids, used, step)
  if (v < 0) throw new Error("lora: no host cache slot free for the step's adapters")
  ids[v] = id
  used[v] = step
  return false
}

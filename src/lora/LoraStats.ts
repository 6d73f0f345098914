/**
 * summary.json's `lora` section: the configuration, the run's adapter loads and LoRA kernel time
 * (LoraCounters, from every instance's LoraSlots), admissions set aside by the max_loras rule, and
 * per adapter the requests finished and their mean TTFT (an observer of finishes).
 */
import type { LoraConfig } from "../domain/LoraConfig.js"
import type { ModelShape } from "../domain/Model.js"
import { RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"
import { loraSlotBytesPerGpu } from "./adapterSize.js"
import type { LoraCounters } from "./LoraSlots.js"

export class LoraStats {
  /** Per adapter id (0 = base model): finished requests and the sum of their TTFT, ns. */
  private readonly finished: Float64Array
  private readonly ttftSum: Float64Array
  readonly observer: EngineObserver

  constructor(private readonly config: LoraConfig, private readonly counters: LoraCounters) {
    this.finished = new Float64Array(config.adapters.length + 1)
    this.ttftSum = new Float64Array(config.adapters.length + 1)
    this.observer = {
      onFinish: (r: SimRequest) => {
        if (r.status !== RequestStatus.Finished) return
        this.finished[r.lora]!++
        this.ttftSum[r.lora]! += ttftNs(r)
      }
    }
  }

  /** The `lora` section; `skips` = waiting requests set aside by the max_loras rule (all instances). */
  json(m: ModelShape, tp: number, skips: number) {
    const c = this.config
    const n = this.counters
    const row = (id: number) => ({
      requests: this.finished[id]!,
      mean_ttft_ms: this.finished[id]! === 0 ? null : this.ttftSum[id]! / this.finished[id]! / 1e6
    })
    return {
      max_loras: c.maxLoras,
      max_lora_rank: c.maxLoraRank,
      max_cpu_loras: c.maxCpuLoras,
      storage_gbps: c.storageGBs,
      slot_memory_gib_per_gpu: loraSlotBytesPerGpu(m, c.maxLoras, c.maxLoraRank, tp, 2) / 2 ** 30,
      adapters: c.adapters.map((a, i) => ({ name: a.name, rank: a.rank, ...row(i + 1) })),
      base_model: row(0),
      /** Adapters copied into a GPU slot (each a load stall of its step). */
      gpu_loads: n.gpuLoads,
      /** Of those, read from storage first (not in the host cache). */
      storage_loads: n.storageLoads,
      /** Steps that waited for adapter loads, and how long in all. */
      stalled_steps: n.stalledSteps,
      load_stall_s: n.loadNs / 1e9,
      lora_steps: n.loraSteps,
      lora_kernel_s: n.kernelNs / 1e9,
      /** Admissions set aside because the step already had max_loras adapters (vLLM skips them). */
      max_loras_skips: skips
    }
  }
}

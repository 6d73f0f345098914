/**
 * EnergyMeter (`--energy`): an EngineObserver that prices every step's GPU energy with the power
 * model of energy/power.ts, and the summary.json `energy` section. Each GPU draws its idle power
 * over the whole run (first arrival to last finish, the summary's `duration`) and, during a step,
 * (TDP − idle) × utilisation on top; a step on an instance of G GPUs (tensor × pipeline
 * parallel) is shared evenly by its G GPUs. Only added when --energy is given: the default path
 * has no such observer and costs nothing.
 */
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { Hardware } from "../domain/Hardware.js"
import { peakFlops } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import type { EngineObserver, StepInfo } from "../engine/EngineObserver.js"
import { type GpuPower, utilisation } from "./power.js"
import { makeStepWork, type StepWork, type Work } from "./stepWork.js"

/** What the meter needs of one pool. */
export interface EnergyPool {
  readonly name: string
  readonly instances: number
  readonly model: ModelShape
  readonly hardware: Hardware
  readonly engine: EngineConfig
  readonly power: GpuPower
}

/** One instance's line of the `energy` section (per GPU figures are per GPU of the instance). */
export interface InstanceEnergy {
  readonly instance: number
  readonly pool: string
  readonly hardware: string
  readonly gpus: number
  readonly tdp_w: number
  readonly idle_w: number
  /** Energy of one of its GPUs, J. */
  readonly per_gpu_j: number
  /** Mean power of one of its GPUs over the run, W. */
  readonly per_gpu_avg_power_w: number
  /** Time-weighted mean utilisation while busy (0..1). */
  readonly mean_busy_utilization: number
  /** Fraction of the run the instance was running a step. */
  readonly busy_fraction: number
}

/** summary.json's `energy` section. */
export interface EnergySummary {
  /** All GPUs, J. */
  readonly total_j: number
  /** Of which idle power over the run, J. */
  readonly idle_j: number
  /** Of which the utilisation-dependent part, J. */
  readonly active_j: number
  /** total_j / completed requests, J. */
  readonly per_request_j: number
  /** total_j / output tokens, J. */
  readonly per_output_token_j: number
  /** total_j / duration, W (all GPUs). */
  readonly avg_power_w: number
  readonly gpus: number
  readonly model: string
  readonly per_gpu: ReadonlyArray<InstanceEnergy>
}

interface Slot {
  readonly pool: EnergyPool
  readonly gpus: number
  readonly work: StepWork
  readonly flopsPerNs: number
  readonly bytesPerNs: number
  /** Σ (TDP − idle) × u × duration over its steps, all its GPUs, W·ns. */
  activeWns: number
  /** Σ u × duration, ns. */
  uNs: number
  busyNs: number
}

/** See the module doc. `instancePools[i]` is the pool index of engine instance i. */
export class EnergyMeter {
  private readonly slots: Array<Slot>
  private readonly w: Work = { flops: 0, bytes: 0 }
  readonly observer: EngineObserver

  constructor(pools: ReadonlyArray<EnergyPool>) {
    this.slots = pools.flatMap((p) => {
      const gpus = p.engine.tensorParallelSize * p.engine.pipelineParallelSize
      return Array.from({ length: p.instances }, (): Slot => ({
        pool: p,
        gpus,
        work: makeStepWork(p.model, p.engine),
        flopsPerNs: peakFlops(p.hardware, p.engine.weightDtypeBytes) / 1e9,
        bytesPerNs: p.hardware.memoryBandwidthGBs, // GB/s = bytes/ns
        activeWns: 0,
        uNs: 0,
        busyNs: 0
      }))
    })
    this.observer = { onStep: (s) => this.onStep(s) }
  }

  private onStep(s: StepInfo): void {
    const slot = this.slots[s.instance]
    if (slot === undefined || s.durationNs <= 0) return
    const w = slot.work(s.shape, s.steps ?? 1, this.w)
    const u = utilisation(w.flops, w.bytes, slot.gpus, slot.flopsPerNs, slot.bytesPerNs, s.durationNs)
    slot.activeWns += slot.gpus * (slot.pool.power.tdpW - slot.pool.power.idleW) * u * s.durationNs
    slot.uNs += u * s.durationNs
    slot.busyNs += s.durationNs
  }

  /** The `energy` section for a run of `durationS` seconds that completed `completed` requests and `outputTokens` tokens. */
  summary(durationS: number, completed: number, outputTokens: number): EnergySummary {
    const durNs = durationS * 1e9
    let idleJ = 0
    let activeJ = 0
    let gpus = 0
    const perGpu = this.slots.map((s, i): InstanceEnergy => {
      const idle = s.gpus * s.pool.power.idleW * durationS
      const active = s.activeWns / 1e9
      idleJ += idle
      activeJ += active
      gpus += s.gpus
      const perGpuJ = (idle + active) / s.gpus
      return {
        instance: i,
        pool: s.pool.name,
        hardware: s.pool.hardware.name,
        gpus: s.gpus,
        tdp_w: s.pool.power.tdpW,
        idle_w: s.pool.power.idleW,
        per_gpu_j: perGpuJ,
        per_gpu_avg_power_w: durationS > 0 ? perGpuJ / durationS : 0,
        mean_busy_utilization: s.busyNs > 0 ? s.uNs / s.busyNs : 0,
        busy_fraction: durNs > 0 ? Math.min(1, s.busyNs / durNs) : 0
      }
    })
    const total = idleJ + activeJ
    return {
      total_j: total,
      idle_j: idleJ,
      active_j: activeJ,
      per_request_j: completed > 0 ? total / completed : 0,
      per_output_token_j: outputTokens > 0 ? total / outputTokens : 0,
      avg_power_w: durationS > 0 ? total / durationS : 0,
      gpus,
      model: "P = idle + (TDP - idle) x max(compute share, memory share) per step; idle over the whole run",
      per_gpu: perGpu
    }
  }
}

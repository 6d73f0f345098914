/**
 * GPU power model: P = P_idle + (TDP − P_idle) × u, u the step's utilisation, the linear
 * utilisation model (as in Kansal et al., "Virtual Machine Power Metering and Provisioning",
 * SoCC 2010; LLMServingSim 2.0 likewise splits NPU power into idle and active states). Here u is the busier
 * of the step's compute share (FLOPs / (peak FLOP/s × step time)) and memory share (bytes /
 * (peak bandwidth × step time)), clipped to [0, 1]: the roofline's bottleneck unit sets the pace
 * and the other waits on it. This is a modelling choice, not a measurement; published
 * measurements (Splitwise, Patel et al., ISCA 2024) show memory-bound decode drawing
 * less than TDP, which this model overstates when a step is bandwidth-bound.
 */
import type { Hardware } from "../domain/Hardware.js"
import { InvalidOption } from "../domain/errors.js"

/** A GPU's power figures, W. */
export interface GpuPower {
  readonly tdpW: number
  readonly idleW: number
}

/**
 * The power figures of `hw` (its file's `tdpW` and `idleW`). Fails with InvalidOption naming
 * --energy when the file has no `idleW` or it exceeds the TDP.
 */
export const gpuPower = (hw: Hardware): GpuPower | InvalidOption => {
  if (hw.idleW === undefined) {
    return new InvalidOption({ option: "--energy", reason: `hardware ${hw.name} has no idleW: its hardware file (--hardware FILE, or resources/hardware/) needs "idleW" (idle power, W) with its source in "powerSource" (every bundled file has one)` })
  }
  if (hw.idleW > hw.tdpW) {
    return new InvalidOption({ option: "--energy", reason: `hardware ${hw.name}: idleW ${hw.idleW} exceeds tdpW ${hw.tdpW}` })
  }
  return { tdpW: hw.tdpW, idleW: hw.idleW }
}

/** Utilisation of a step: max(compute share, memory share) clipped to [0, 1] (see the module doc). */
export const utilisation = (flops: number, bytes: number, gpus: number, peakFlopsPerNs: number, bytesPerNs: number, durationNs: number): number => {
  if (durationNs <= 0) return 0
  const c = flops / (gpus * peakFlopsPerNs * durationNs)
  const m = bytes / (gpus * bytesPerNs * durationNs)
  const u = c > m ? c : m
  return u > 1 ? 1 : u
}

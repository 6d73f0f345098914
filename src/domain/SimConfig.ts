/**
 * The resolved configuration of one simulation, as plain data: model, hardware, engine flags,
 * perf-model parameters, instances, seed, and the perf-model and network specs with their files
 * already read. ConfigService provides it; `config/resolve.ts` builds it from flags.
 */
import type { CalibrationFile } from "../perf/calibration.js"
import type { PimConfig } from "./Pim.js"
import type { FrontEndParams } from "../frontend/FrontEnd.js"
import type { LayerProfile } from "../perf/profile/types.js"
import type { CollectiveTable } from "../network/vidurCsv.js"
import type { EngineConfig } from "./EngineConfig.js"
import type { Hardware } from "./Hardware.js"
import type { ModelShape } from "./Model.js"
import type { RooflineParams } from "./PerfParams.js"

/** A `--perf-model` spec with its files read (done while resolving, so a bad file fails early). */
export type LoadedPerfModel =
  | { readonly kind: "roofline" }
  | { readonly kind: "op-roofline" }
  | { readonly kind: "profile"; readonly path: string; readonly profile: LayerProfile }
  | { readonly kind: "calibrated"; readonly path: string; readonly calibration: CalibrationFile }

/** A `--network` spec with its tables read. */
export type LoadedNetwork =
  | { readonly kind: "alpha-beta" }
  | {
    readonly kind: "table" | "fit"
    readonly path: string
    readonly allReduce: CollectiveTable | undefined
    readonly sendRecv: CollectiveTable | undefined
  }

export interface SimConfig {
  readonly model: ModelShape
  /** The model config.json that was read (for reports). */
  readonly modelSource: string
  readonly hardware: Hardware
  readonly engine: EngineConfig
  readonly roofline: RooflineParams
  /** Number of identical instances (replicas) behind the router. */
  readonly numInstances: number
  /** Seed of every random draw (workload generator, router ties). */
  readonly seed: number
  /** `--perf-model` (absent: the datasheet roofline) and an explicit --step-overhead-us, ns. */
  readonly perfModel?: { readonly spec: LoadedPerfModel; readonly stepOverheadNs?: number | undefined } | undefined
  /** `--network` (absent: alpha-beta from the hardware's interconnect). */
  readonly network?: LoadedNetwork | undefined
  /** The API server in front of the engine (frontend/FrontEnd.ts): ingress and egress, us. */
  readonly frontEnd: FrontEndParams
  /** `--pim-config`: decode attention on a PIM device per GPU, which holds the KV cache (perf/pim.ts). */
  readonly pim?: PimConfig | undefined
}

/**
 * ConfigService: the resolved configuration of one simulation (model, hardware, engine flags,
 * perf-model parameters, instances, seed). Built from CLI flags by `config/resolve.ts`, or given
 * directly in tests with `ConfigService.make`.
 */
import { Context, Layer } from "effect"
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { Hardware } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import type { RooflineParams } from "../domain/PerfParams.js"
import type { LoadedNetwork } from "../network/spec.js"
import type { LoadedPerfModel } from "../perf/spec.js"

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
}

export class ConfigService extends Context.Tag("llmservingsim/ConfigService")<ConfigService, SimConfig>() {
  /** A layer holding a fixed configuration. */
  static readonly make = (config: SimConfig): Layer.Layer<ConfigService> => Layer.succeed(ConfigService, config)
}

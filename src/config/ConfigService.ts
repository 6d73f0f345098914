/**
 * ConfigService: the resolved configuration of one simulation (model, hardware, engine flags,
 * perf-model parameters, instances, seed). Built from CLI flags by `config/resolve.ts`, or given
 * directly in tests with `ConfigService.make`.
 */
import { Context, Layer } from "effect"
import type { SimConfig } from "../domain/SimConfig.js"

export type { SimConfig } from "../domain/SimConfig.js"

export class ConfigService extends Context.Tag("llmservingsim/ConfigService")<ConfigService, SimConfig>() {
  /** A layer holding a fixed configuration. */
  static readonly make = (config: SimConfig): Layer.Layer<ConfigService> => Layer.succeed(ConfigService, config)
}

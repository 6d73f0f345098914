/**
 * A measured per-kernel profile in one normalised shape, whatever format it was read from
 * (LLMServingSim 2.0 bundle, LLMServingSim v1/v0 layer CSV, Vidur operator CSVs). Times are ns for
 * one call of one kernel in one decoder layer (or once per step for the step kernels).
 */
import type { AttnArgs, LayerTokenOp, StepSeqOp, StepTokenOp } from "../opModel.js"
import type { Table1D } from "./interp.js"

export type ProfileFormat = "llmservingsim2" | "llmservingsim-v1" | "vidur"

/** Attention of one decoder layer, ns. */
export interface AttentionTable {
  readonly lookup: (a: AttnArgs) => number
  /** Measured ranges, for reports. */
  readonly describe: string
  /** False when the table cannot price decodes (v0 tables without KV rows): decodes then fall back. */
  readonly hasDecode: boolean
}

/** Shape of the model the profile measured, as far as the files say. */
export interface ProfiledShape {
  readonly hidden?: number | undefined
  readonly heads?: number | undefined
  readonly kvHeads?: number | undefined
  readonly intermediate?: number | undefined
  readonly vocab?: number | undefined
}

export interface LayerProfile {
  /** File or folder read. */
  readonly source: string
  readonly format: ProfileFormat
  readonly hardware: string | null
  readonly model: string | null
  /** TP degree the tables were measured at (per-shard work). */
  readonly tp: number
  readonly shape: ProfiledShape
  readonly layer: Partial<Record<LayerTokenOp, Table1D>>
  readonly step: Partial<Record<StepTokenOp, Table1D>>
  readonly seq: Partial<Record<StepSeqOp, Table1D>>
  readonly attention: AttentionTable | null
  /** Layers the files measured that we do not model (known to the format, e.g. Qwen3's qk_norm); not priced. */
  readonly ignored?: ReadonlyArray<string> | undefined
  /** Largest token count measured by the dense tables (for reports). */
  readonly maxTokens: number
}

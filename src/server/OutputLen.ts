/** Output length of requests that give no max_tokens (kept apart from Http.ts so the CLI loads it cheaply). */

/** Distribution of the output length of requests that give no max_tokens (before the context cap). */
export interface OutputLenSpec {
  readonly dist: "fixed" | "uniform" | "lognormal"
  /** Median / fixed length, tokens. */
  readonly len: number
  readonly rangeRatio: number
  readonly sigma: number
}

export const defaultOutputLen: OutputLenSpec = { dist: "fixed", len: 256, rangeRatio: 0.5, sigma: 0.5 }

/**
 * vLLM's 400s for invalid sampling parameters. The rules and messages follow vLLM's
 * `SamplingParams._verify_args` (vllm/sampling_params.py) and, for `stream_options`, the request
 * validator of vLLM's OpenAI protocol (vllm/entrypoints/openai/protocol.py), which vLLM answers
 * with HTTP 400 BadRequestError. Checked in vLLM's order; the first failing rule is reported.
 */
import { Effect } from "effect"
import { reject } from "./errors.js"

/** The sampling fields the checks read (all optional, `null` = unset, as in the request body). */
export interface SamplingInput {
  readonly stream?: boolean | null | undefined
  readonly stream_options?: unknown
  readonly n?: number | null | undefined
  readonly presence_penalty?: number | null | undefined
  readonly frequency_penalty?: number | null | undefined
  readonly repetition_penalty?: number | null | undefined
  readonly temperature?: number | null | undefined
  readonly top_p?: number | null | undefined
  readonly top_k?: number | null | undefined
  readonly min_p?: number | null | undefined
  readonly min_tokens?: number | null | undefined
}

const set = (x: number | null | undefined): x is number => x !== undefined && x !== null

/**
 * The first violated rule as `[message, param]`, or undefined when the parameters are valid.
 * `maxTokens` is the request's output cap (`max_completion_tokens ?? max_tokens`), `maxParam` the
 * name of the field it came from. Pure: no I/O.
 */
export const samplingError = (r: SamplingInput, maxTokens: number | null | undefined, maxParam: string): readonly [string, string] | undefined => {
  if (r.stream !== true && r.stream_options !== undefined && r.stream_options !== null) {
    return ["Stream options can only be defined when `stream=True`.", "stream_options"]
  }
  if (set(r.n) && r.n < 1) return [`n must be at least 1, got ${r.n}.`, "n"]
  if (set(r.presence_penalty) && !(r.presence_penalty >= -2 && r.presence_penalty <= 2)) {
    return [`presence_penalty must be in [-2, 2], got ${r.presence_penalty}.`, "presence_penalty"]
  }
  if (set(r.frequency_penalty) && !(r.frequency_penalty >= -2 && r.frequency_penalty <= 2)) {
    return [`frequency_penalty must be in [-2, 2], got ${r.frequency_penalty}.`, "frequency_penalty"]
  }
  if (set(r.repetition_penalty) && !(r.repetition_penalty > 0)) {
    return [`repetition_penalty must be greater than zero, got ${r.repetition_penalty}.`, "repetition_penalty"]
  }
  if (set(r.temperature) && !(r.temperature >= 0)) return [`temperature must be non-negative, got ${r.temperature}.`, "temperature"]
  if (set(r.top_p) && !(r.top_p > 0 && r.top_p <= 1)) return [`top_p must be in (0, 1], got ${r.top_p}.`, "top_p"]
  // vLLM: -1 and 0 both disable top-k; anything below -1 is refused
  if (set(r.top_k) && r.top_k < -1) return [`top_k must be 0 (disable), or at least 1, got ${r.top_k}.`, "top_k"]
  if (set(r.min_p) && !(r.min_p >= 0 && r.min_p <= 1)) return [`min_p must be in [0, 1], got ${r.min_p}.`, "min_p"]
  if (set(maxTokens) && maxTokens < 1) return [`max_tokens must be at least 1, got ${maxTokens}.`, maxParam]
  if (set(r.min_tokens) && r.min_tokens < 0) return [`min_tokens must be greater than or equal to 0, got ${r.min_tokens}.`, "min_tokens"]
  if (set(r.min_tokens) && set(maxTokens) && r.min_tokens > maxTokens) {
    return [`min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${r.min_tokens}.`, "min_tokens"]
  }
  return undefined
}

/** Fail with vLLM's 400 (OpenAI error format, `param` = the field) when a sampling parameter is invalid. */
export const checkSampling = (r: SamplingInput, maxTokens: number | null | undefined, maxParam: string) => {
  const e = samplingError(r, maxTokens, maxParam)
  return e === undefined ? Effect.void : reject(400, e[0], e[1])
}

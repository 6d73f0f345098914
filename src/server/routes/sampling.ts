/**
 * vLLM's 400s for invalid sampling parameters: the checks and messages of vLLM's
 * `SamplingParams._verify_args` (vllm/sampling_params.py) and of its protocol's
 * `stream_options` validator ("Stream options can only be defined when `stream=True`.").
 * The simulator does not sample text, but a request vLLM would refuse must be refused here too.
 */
import { Effect } from "effect"
import { reject } from "../errors.js"

/** The sampling fields of a request (absent or null = vLLM's default). */
export interface SamplingArgs {
  readonly n?: number | null | undefined
  readonly temperature?: number | null | undefined
  readonly top_p?: number | null | undefined
  readonly top_k?: number | null | undefined
  readonly min_p?: number | null | undefined
  readonly presence_penalty?: number | null | undefined
  readonly frequency_penalty?: number | null | undefined
  readonly repetition_penalty?: number | null | undefined
  readonly max_tokens?: number | null | undefined
  readonly min_tokens?: number | null | undefined
  readonly stream?: boolean | null | undefined
  readonly stream_options?: unknown
}

const has = (x: number | null | undefined): x is number => x !== undefined && x !== null

/** The most choices one request may ask for (`n`): OpenAI's limit, and vLLM's. */
export const MAX_N = 128

/**
 * Fail with vLLM's 400 (OpenAI error body, `param` = the field) for the first invalid field.
 * `maxTokensField` names the max-tokens field of the endpoint (max_tokens, max_completion_tokens,
 * max_output_tokens).
 */
export const checkSampling = (a: SamplingArgs, maxTokensField = "max_tokens") => {
  if (a.stream_options !== undefined && a.stream_options !== null && a.stream !== true) {
    return reject(400, "Stream options can only be defined when `stream=True`.", "stream_options")
  }
  if (has(a.n) && a.n < 1) return reject(400, `n must be at least 1, got ${a.n}.`, "n")
  if (has(a.n) && a.n > MAX_N) return reject(400, `n must be at most ${MAX_N}, got ${a.n}.`, "n")
  if (has(a.presence_penalty) && !(a.presence_penalty >= -2 && a.presence_penalty <= 2)) {
    return reject(400, `presence_penalty must be in [-2, 2], got ${a.presence_penalty}.`, "presence_penalty")
  }
  if (has(a.frequency_penalty) && !(a.frequency_penalty >= -2 && a.frequency_penalty <= 2)) {
    return reject(400, `frequency_penalty must be in [-2, 2], got ${a.frequency_penalty}.`, "frequency_penalty")
  }
  if (has(a.repetition_penalty) && !(a.repetition_penalty > 0)) {
    return reject(400, `repetition_penalty must be greater than zero, got ${a.repetition_penalty}.`, "repetition_penalty")
  }
  if (has(a.temperature) && !(a.temperature >= 0)) return reject(400, `temperature must be non-negative, got ${a.temperature}.`, "temperature")
  if (has(a.top_p) && !(a.top_p > 0 && a.top_p <= 1)) return reject(400, `top_p must be in (0, 1], got ${a.top_p}.`, "top_p")
  if (has(a.top_k) && (a.top_k < -1 || a.top_k === 0)) return reject(400, `top_k must be -1 (disable), or at least 1, got ${a.top_k}.`, "top_k")
  if (has(a.min_p) && !(a.min_p >= 0 && a.min_p <= 1)) return reject(400, `min_p must be in [0, 1], got ${a.min_p}.`, "min_p")
  if (has(a.max_tokens) && a.max_tokens < 1) return reject(400, `${maxTokensField} must be at least 1, got ${a.max_tokens}.`, maxTokensField)
  if (has(a.min_tokens) && a.min_tokens < 0) return reject(400, `min_tokens must be greater than or equal to 0, got ${a.min_tokens}.`, "min_tokens")
  if (has(a.min_tokens) && has(a.max_tokens) && a.min_tokens > a.max_tokens) {
    return reject(400, `min_tokens must be less than or equal to ${maxTokensField}=${a.max_tokens}, got ${a.min_tokens}.`, "min_tokens")
  }
  return Effect.void
}

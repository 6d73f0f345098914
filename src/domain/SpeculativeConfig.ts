/**
 * Speculative decoding settings, as vLLM's `--speculative-config` JSON takes them
 * (vllm/config/speculative.py `SpeculativeConfig`: `method`, `num_speculative_tokens`, `model`),
 * plus the simulator's `acceptance_rates`: for each draft position i (0-based), the unconditional
 * probability that the draft token at position i is accepted, as vLLM's spec-decode logger prints
 * "Per-position acceptance rate" (accepted at position i / number of drafts). They are
 * non-increasing: position i can only be accepted if every position before it was.
 */
import { Effect } from "effect"
import { configTextProblem } from "./configText.js"
import { jsonSyntaxError } from "./jsonSyntax.js"
import { InvalidOption } from "./errors.js"

export type SpecMethod = "ngram" | "eagle" | "eagle3"

export interface SpeculativeConfig {
  readonly method: SpecMethod
  /** Draft tokens proposed per request per step, k (vLLM `num_speculative_tokens`). */
  readonly numSpeculativeTokens: number
  /** P(draft position i is accepted), i = 0 .. k-1, non-increasing, in [0, 1]. */
  readonly acceptanceRates: ReadonlyArray<number>
  /** Where `acceptanceRates` came from: "given" or the published measurement of the default. */
  readonly acceptanceRatesSource: string
  /** The draft model / EAGLE head checkpoint named in the JSON (`model`), reported only: the head is priced from the target's shape. */
  readonly model?: string
}

/**
 * Published per-position acceptance of EAGLE-3 (yuhuili/EAGLE3-LLaMA3.1-Instruct-8B) on
 * Llama-3.1-8B-Instruct, MT-Bench, temperature 0, k = 7: vLLM issue #26191
 * (github.com/vllm-project/vllm/issues/26191), the "Previous AL=3.53" run's "acceptance at token i"
 * lines. Used as the eagle3 default for k <= 7 (its first k entries).
 */
export const EAGLE3_LLAMA31_8B_ACCEPTANCE: ReadonlyArray<number> = [0.74, 0.54, 0.41, 0.31, 0.23, 0.17, 0.13]
const EAGLE3_SOURCE = "vLLM issue #26191: EAGLE-3 on Llama-3.1-8B-Instruct, MT-Bench, temperature 0 (AL 3.53)"

const OPTION = "--speculative-config"
const KEYS = ["method", "num_speculative_tokens", "acceptance_rates", "model"]
const fail = (reason: string) => Effect.fail(new InvalidOption({ option: OPTION, reason }))

/**
 * Parse and check `--speculative-config` JSON. Fails with InvalidOption naming the flag and the key
 * for: bad JSON, an unknown key, a missing or unknown `method`, `draft_model` (refused: pricing a
 * second model is not built), a `num_speculative_tokens` that is not a positive integer, or
 * `acceptance_rates` that are not k non-increasing numbers in [0, 1]. `acceptance_rates` may be left
 * out only for eagle3 with k <= 7 (EAGLE3_LLAMA31_8B_ACCEPTANCE).
 */
export const parseSpeculativeConfig = (text: string): Effect.Effect<SpeculativeConfig, InvalidOption> =>
  Effect.gen(function*() {
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (e) {
      return yield* fail(`expected a JSON object such as '{"method": "eagle3", "num_speculative_tokens": 3}' (not valid JSON: ${jsonSyntaxError(text, e)})`)
    }
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return yield* fail(`expected a JSON object (got ${text})`)
    const problem = configTextProblem(text)
    if (problem !== undefined) return yield* fail(`"${problem.path}": expected ${problem.expected}`)
    const o = raw as Record<string, unknown>
    for (const key of Object.keys(o)) {
      if (!KEYS.includes(key)) return yield* fail(`unknown key "${key}" (known: ${KEYS.join(", ")})`)
    }
    const method = o["method"]
    if (method === "draft_model") {
      return yield* fail(`method "draft_model" is not simulated (pricing a separate draft model is not built); use "ngram", "eagle" or "eagle3"`)
    }
    if (method !== "ngram" && method !== "eagle" && method !== "eagle3") {
      return yield* fail(`key "method": expected "ngram", "eagle" or "eagle3" (got ${JSON.stringify(method)})`)
    }
    const k = o["num_speculative_tokens"]
    if (typeof k !== "number" || !Number.isInteger(k) || k < 1) {
      return yield* fail(`key "num_speculative_tokens": expected a positive integer (got ${JSON.stringify(k)})`)
    }
    const model = o["model"]
    if (model !== undefined && typeof model !== "string") return yield* fail(`key "model": expected a string (got ${JSON.stringify(model)})`)
    const given = o["acceptance_rates"]
    let rates: ReadonlyArray<number>
    let source: string
    if (given === undefined) {
      if (method !== "eagle3" || k > EAGLE3_LLAMA31_8B_ACCEPTANCE.length) {
        return yield* fail(`key "acceptance_rates" is required for method "${method}" with num_speculative_tokens ${k} (a published default exists only for eagle3 with k <= 7)`)
      }
      rates = EAGLE3_LLAMA31_8B_ACCEPTANCE.slice(0, k)
      source = EAGLE3_SOURCE
    } else {
      if (!Array.isArray(given) || given.length !== k) {
        return yield* fail(`key "acceptance_rates": expected an array of num_speculative_tokens (${k}) numbers (got ${JSON.stringify(given)})`)
      }
      for (let i = 0; i < k; i++) {
        const p = given[i]
        if (typeof p !== "number" || !Number.isFinite(p) || p < 0 || p > 1) {
          return yield* fail(`key "acceptance_rates": entry ${i} must be a number in [0, 1] (got ${JSON.stringify(p)})`)
        }
        if (i > 0 && p > (given[i - 1] as number)) {
          return yield* fail(`key "acceptance_rates": must be non-increasing (entry ${i} = ${p} > entry ${i - 1} = ${given[i - 1]}): a position is accepted only if every earlier one was`)
        }
      }
      rates = given as Array<number>
      source = "given"
    }
    return {
      method,
      numSpeculativeTokens: k,
      acceptanceRates: rates,
      acceptanceRatesSource: source,
      ...(model === undefined ? {} : { model })
    }
  })

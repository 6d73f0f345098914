/**
 * The output-shaping fields of /v1/chat/completions and /v1/completions (vLLM's SamplingParams
 * and OpenAI's request fields): read from the raw JSON body, validated, and refused with vLLM's
 * 400 when the simulator does not implement them (never silently ignored).
 */
import { reject } from "../errors.js"
import type { Effect } from "effect"
import type { Reject } from "../errors.js"
import type { Kind } from "../Sse.js"

/** A function tool offered to the model (OpenAI `tools[i].function`). */
export interface ToolFn {
  readonly name: string
  readonly parameters: Record<string, unknown> | undefined
}

/** What the answer must look like (response_format / structured_outputs / guided_*). */
export type Structured =
  | { readonly type: "json_object" }
  | { readonly type: "json_schema"; readonly schema: Record<string, unknown> }
  | { readonly type: "choice"; readonly choices: ReadonlyArray<string> }

export interface GenFields {
  readonly stop: ReadonlyArray<string>
  readonly stopTokenIds: ReadonlyArray<number>
  readonly includeStopStr: boolean
  readonly minTokens: number
  readonly ignoreEos: boolean
  readonly seed: number | undefined
  readonly tools: ReadonlyArray<ToolFn>
  /** "none" / "auto" / "required" or the name of the function to call. */
  readonly toolChoice: "none" | "auto" | "required" | { readonly name: string }
  readonly parallelToolCalls: boolean
  readonly structured: Structured | undefined
  /** Chat: top_logprobs when logprobs is true; completions: the `logprobs` integer. undefined = none. */
  readonly logprobs: number | undefined
  readonly echo: boolean
  readonly truncatePromptTokens: number | undefined
  /** True when the last chat message is a tool result (the model then answers in text). */
  readonly afterToolResult: boolean
}

/** vLLM's default --max-logprobs. */
export const MAX_LOGPROBS = 20

type R = Record<string, unknown>
const isObj = (x: unknown): x is R => typeof x === "object" && x !== null && !Array.isArray(x)
const present = (x: unknown) => x !== undefined && x !== null

/**
 * Read and validate the generation fields of `body` (a JSON object). Fails with an OpenAI-format
 * 400 naming the field for malformed values and for fields the simulator refuses.
 */
export const parseGenFields = (body: unknown, kind: Kind): Effect.Effect<GenFields, Reject> | GenFields => {
  const b: R = isObj(body) ? body : {}
  const bad = (field: string, msg: string) => reject(400, msg, field)

  // refused: fields that would change the output in ways the simulator does not model
  if (present(b.logit_bias) && !(isObj(b.logit_bias) && Object.keys(b.logit_bias).length === 0)) return bad("logit_bias", "logit_bias is not supported by the simulator")
  if (present(b.suffix)) return bad("suffix", "suffix is not currently supported")
  if (present(b.best_of) && b.best_of !== 1) return bad("best_of", "best_of > 1 is not supported by the simulator")
  if (present(b.prompt_logprobs)) return bad("prompt_logprobs", "prompt_logprobs is not supported by the simulator")
  if (present(b.guided_regex)) return bad("guided_regex", "guided_regex (regex-constrained output) is not supported by the simulator")
  if (present(b.guided_grammar)) return bad("guided_grammar", "guided_grammar (grammar-constrained output) is not supported by the simulator")
  if (Array.isArray(b.bad_words) && b.bad_words.length > 0) return bad("bad_words", "bad_words is not supported by the simulator")
  if (Array.isArray(b.allowed_token_ids) && b.allowed_token_ids.length > 0) return bad("allowed_token_ids", "allowed_token_ids is not supported by the simulator")
  if (present(b.logits_processors)) return bad("logits_processors", "logits_processors is not supported by the simulator")

  let stop: Array<string> = []
  if (typeof b.stop === "string") stop = b.stop === "" ? [] : [b.stop]
  else if (Array.isArray(b.stop)) {
    if (!b.stop.every((s) => typeof s === "string")) return bad("stop", "stop must be a string or a list of strings")
    stop = (b.stop as Array<string>).filter((s) => s !== "")
  } else if (present(b.stop)) return bad("stop", "stop must be a string or a list of strings")
  let stopTokenIds: Array<number> = []
  if (Array.isArray(b.stop_token_ids)) {
    if (!b.stop_token_ids.every((s) => Number.isInteger(s) && (s as number) >= 0)) return bad("stop_token_ids", "stop_token_ids must be a list of non-negative integers")
    stopTokenIds = b.stop_token_ids as Array<number>
  } else if (present(b.stop_token_ids)) return bad("stop_token_ids", "stop_token_ids must be a list of non-negative integers")
  const bool = (f: string): boolean | Effect.Effect<never, Reject> => {
    const v = b[f]
    if (!present(v)) return false
    return typeof v === "boolean" ? v : bad(f, `${f} must be a boolean`)
  }
  const includeStopStr = bool("include_stop_str_in_output")
  if (typeof includeStopStr !== "boolean") return includeStopStr
  const ignoreEos = bool("ignore_eos")
  if (typeof ignoreEos !== "boolean") return ignoreEos
  let minTokens = 0
  if (present(b.min_tokens)) {
    if (!Number.isInteger(b.min_tokens) || (b.min_tokens as number) < 0) return bad("min_tokens", `min_tokens must be greater than or equal to 0, got ${JSON.stringify(b.min_tokens)}.`)
    minTokens = b.min_tokens as number
    const mt = kind === "chat" ? (b.max_completion_tokens ?? b.max_tokens) : b.max_tokens
    if (Number.isInteger(mt) && minTokens > (mt as number)) return bad("min_tokens", `min_tokens must be less than or equal to max_tokens=${mt as number}, got ${minTokens}.`)
  }
  let seed: number | undefined
  if (present(b.seed)) {
    if (!Number.isInteger(b.seed)) return bad("seed", "seed must be an integer")
    seed = b.seed as number
  }

  // tools
  const tools: Array<ToolFn> = []
  if (present(b.tools)) {
    if (kind !== "chat") return bad("tools", "tools are only supported on /v1/chat/completions")
    if (!Array.isArray(b.tools)) return bad("tools", "tools must be a list")
    for (const t of b.tools) {
      if (!isObj(t) || t.type !== "function" || !isObj(t.function) || typeof t.function.name !== "string") return bad("tools", "each tool must be {type: \"function\", function: {name, parameters}}")
      const p = t.function.parameters
      if (present(p) && !isObj(p)) return bad("tools", `tool ${t.function.name}: parameters must be a JSON schema object`)
      tools.push({ name: t.function.name, parameters: present(p) ? (p as R) : undefined })
    }
  }
  let toolChoice: GenFields["toolChoice"] = tools.length > 0 ? "auto" : "none"
  const tc = b.tool_choice
  if (present(tc)) {
    if (tc === "none" || tc === "auto" || tc === "required") toolChoice = tc
    else if (isObj(tc) && tc.type === "function" && isObj(tc.function) && typeof tc.function.name === "string") toolChoice = { name: tc.function.name }
    else return bad("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\" or {type: \"function\", function: {name}}")
    if (toolChoice !== "none" && tools.length === 0) return bad("tool_choice", "When using `tool_choice`, `tools` must be set.")
    if (typeof toolChoice === "object") {
      const name = toolChoice.name
      if (!tools.some((t) => t.name === name)) return bad("tool_choice", `Tool '${name}' has not been passed in \`tools\`.`)
    }
  }
  const ptc = bool("parallel_tool_calls")
  if (typeof ptc !== "boolean") return ptc
  const parallelToolCalls = present(b.parallel_tool_calls) ? ptc : true

  // structured output
  let structured: Structured | undefined
  const rf = b.response_format
  if (present(rf)) {
    if (!isObj(rf) || typeof rf.type !== "string") return bad("response_format", "response_format must be {type: \"text\" | \"json_object\" | \"json_schema\"}")
    if (rf.type === "json_object") structured = { type: "json_object" }
    else if (rf.type === "json_schema") {
      const js = rf.json_schema
      const schema = isObj(js) ? (js.schema ?? js.json_schema) : undefined
      if (!isObj(schema)) return bad("response_format", "response_format.json_schema.schema must be a JSON schema object")
      structured = { type: "json_schema", schema }
    } else if (rf.type !== "text") return bad("response_format", `response_format type ${JSON.stringify(rf.type)} is not supported by the simulator`)
  }
  const so = b.structured_outputs ?? b.guided_decoding
  if (present(so)) {
    if (!isObj(so)) return bad("structured_outputs", "structured_outputs must be an object")
    for (const k of ["regex", "grammar", "structural_tag"]) if (present(so[k])) return bad("structured_outputs", `structured_outputs.${k} is not supported by the simulator`)
    if (isObj(so.json)) structured = { type: "json_schema", schema: so.json }
    else if (typeof so.json === "string") {
      try {
        structured = { type: "json_schema", schema: JSON.parse(so.json) as R }
      } catch {
        return bad("structured_outputs", "structured_outputs.json must be a JSON schema")
      }
    } else if (Array.isArray(so.choice)) structured = { type: "choice", choices: so.choice.map(String) }
    else if (so.json_object === true) structured = { type: "json_object" }
  }
  if (isObj(b.guided_json)) structured = { type: "json_schema", schema: b.guided_json }
  else if (typeof b.guided_json === "string") {
    try {
      structured = { type: "json_schema", schema: JSON.parse(b.guided_json) as R }
    } catch {
      return bad("guided_json", "guided_json must be a JSON schema")
    }
  } else if (present(b.guided_json)) return bad("guided_json", "guided_json must be a JSON schema")
  if (present(b.guided_choice)) {
    if (!Array.isArray(b.guided_choice) || b.guided_choice.length === 0 || !b.guided_choice.every((c) => typeof c === "string")) return bad("guided_choice", "guided_choice must be a non-empty list of strings")
    structured = { type: "choice", choices: b.guided_choice as Array<string> }
  }

  // logprobs
  let logprobs: number | undefined
  if (kind === "chat") {
    const lp = bool("logprobs")
    if (typeof lp !== "boolean") return lp
    if (present(b.top_logprobs)) {
      if (!Number.isInteger(b.top_logprobs) || (b.top_logprobs as number) < 0) return bad("top_logprobs", "top_logprobs must be a non-negative integer")
      if (!lp && (b.top_logprobs as number) > 0) return bad("top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true.")
    }
    if (lp) logprobs = present(b.top_logprobs) ? (b.top_logprobs as number) : 0
  } else if (present(b.logprobs)) {
    if (!Number.isInteger(b.logprobs) || (b.logprobs as number) < 0) return bad("logprobs", "logprobs must be a non-negative integer")
    logprobs = b.logprobs as number
  }
  if (logprobs !== undefined && logprobs > MAX_LOGPROBS) return bad(kind === "chat" ? "top_logprobs" : "logprobs", `Requested sample logprobs of ${logprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`)

  const echo = bool("echo")
  if (typeof echo !== "boolean") return echo
  if (echo && kind === "chat") return bad("echo", "echo is not supported on /v1/chat/completions by the simulator")
  if (echo && logprobs !== undefined) return bad("echo", "echo together with logprobs (prompt logprobs) is not supported by the simulator")
  let truncatePromptTokens: number | undefined
  if (present(b.truncate_prompt_tokens)) {
    const t = b.truncate_prompt_tokens
    if (!Number.isInteger(t) || ((t as number) < 1 && t !== -1)) return bad("truncate_prompt_tokens", "truncate_prompt_tokens must be an integer >= 1, or -1 for the model's maximum length")
    truncatePromptTokens = t as number
  }
  const msgs = Array.isArray(b.messages) ? b.messages : []
  const last = msgs[msgs.length - 1]
  const afterToolResult = isObj(last) && last.role === "tool"

  return {
    stop, stopTokenIds, includeStopStr, minTokens, ignoreEos, seed, tools, toolChoice, parallelToolCalls, structured, logprobs, echo,
    truncatePromptTokens, afterToolResult
  }
}

/**
 * True when `f` changes nothing about the default output, so the fast default path is kept. With
 * max_tokens the answer runs to it anyway, so `ignore_eos` and `min_tokens` alone change nothing
 * (benchmark clients send both on every request).
 */
export const isDefault = (f: GenFields, hasMaxTokens: boolean): boolean =>
  f.stop.length === 0 && f.stopTokenIds.length === 0 && (hasMaxTokens || (f.minTokens === 0 && !f.ignoreEos)) && f.seed === undefined &&
  (f.tools.length === 0 || f.toolChoice === "none") && f.structured === undefined && f.logprobs === undefined && !f.echo &&
  f.truncatePromptTokens === undefined

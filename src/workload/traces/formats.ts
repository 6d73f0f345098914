/**
 * Trace formats: how each names its columns and turns one record into an arrival.
 *
 * | format               | file                     | fields                                                      |
 * |----------------------|--------------------------|-------------------------------------------------------------|
 * | azure                | Azure LLM inference 2023/2024 CSV | TIMESTAMP, ContextTokens, GeneratedTokens          |
 * | vidur                | Vidur processed trace CSV | arrived_at (s), num_prefill_tokens, num_decode_tokens      |
 * | llmservingsim-tsv    | LLMServingSim v1 TSV     | input_toks, output_toks, arrival_time_ns                    |
 * | llmservingsim-jsonl  | LLMServingSim 2.0 JSONL  | input_toks, output_toks, arrival_time_ns, optional input_tok_ids; or agentic sessions: arrival_time_ns, sub_requests |
 * | mooncake             | Mooncake FAST'25 JSONL   | timestamp (ms), input_length, output_length, optional hash_ids (512-token blocks) |
 *
 * Every format may also carry an optional integer `priority` column/field (vLLM's request
 * priority, lower first), used by --scheduling-policy priority, and an optional `lora` column/field
 * (the LoRA adapter the request names, "" = the base model; --enable-lora).
 *
 * Prompt content (token ids, Mooncake's block hash ids) feeds prefix-cache hits across requests;
 * formats without it give every request unique content.
 *
 * Arrival times are relative to the first record (Azure: its first timestamp).
 */
import { InputError } from "../../domain/errors.js"
import type { PromptContent } from "../../memory/blockHash.js"
import type { TraceSession, TraceTurn } from "../sessions.js"
import { azureTimestamp, intField, nonNegField, type Where } from "./fields.js"

export const TRACE_FORMATS = ["azure", "vidur", "llmservingsim-tsv", "llmservingsim-jsonl", "mooncake"] as const
export type TraceFormat = typeof TRACE_FORMATS[number]

/** Parsed record: arrival (ns, absolute in the trace's own clock as [seconds, ns]) and lengths. */
export interface TraceRecord {
  /** Whole seconds part of the arrival (Azure) or 0. */
  secs: number
  /** Nanoseconds part of the arrival. */
  ns: number
  prompt: number
  output: number
  /** Prompt content when the format carries it, else undefined. */
  content: PromptContent | undefined
  /** LLMServingSim 2.0 agentic sessions: the session whose first turn this record is. */
  session: TraceSession | undefined
  /** The record's optional `priority` field (vLLM's request priority, an integer), else undefined. */
  priority: number | undefined
  /** The record's optional `lora` field (a LoRA adapter name, "" = the base model), else undefined. */
  lora: string | undefined
}

/** Mooncake FAST'25 traces hash the prompt in blocks of this many tokens. */
export const MOONCAKE_HASH_BLOCK_TOKENS = 512

/** An array of `length` integers >= 0 (token ids, block hash ids), else an InputError naming the field. */
const idArray = (w: Where, field: string, v: unknown, length: number, what: string): Array<number> => {
  if (!Array.isArray(v)) throw new InputError({ path: w.path, line: w.line, field, expected: "an array of integers >= 0" })
  const bad = v.findIndex((x) => !(Number.isInteger(x) && x >= 0))
  if (bad >= 0) throw new InputError({ path: w.path, line: w.line, field, expected: "an array of integers >= 0", got: `${JSON.stringify(v[bad])} at index ${bad}` })
  if (v.length !== length) {
    throw new InputError({ path: w.path, line: w.line, field, expected: `${length} ids (${what})`, got: `${v.length}` })
  }
  return v as Array<number>
}

export interface CsvFormat {
  readonly kind: "csv"
  readonly delimiter: string
  readonly columns: ReadonlyArray<string>
  readonly parse: (w: Where, get: (col: string) => string | undefined, out: TraceRecord) => void
}

export interface JsonlFormat {
  readonly kind: "jsonl"
  readonly fields: ReadonlyArray<string>
  readonly parse: (w: Where, o: Record<string, unknown>, out: TraceRecord) => void
}

/**
 * One LLMServingSim 2.0 agentic line, `{"session_id"?, "arrival_time_ns", "sub_requests": [{input_toks,
 * output_toks, tool_duration_ns?, input_tok_ids?}, ...]}`: a session whose sub-request i + 1 is
 * sent when sub-request i has finished plus its tool_duration_ns (as LLMServingSim's router
 * releases it). Each input_toks is the whole context of that call. Without input_tok_ids a
 * sub-request's prompt is taken to extend the previous one's prompt and answer (the agent's
 * append-only context), so it hits their KV in the prefix cache; with them, the ids decide.
 */
const agenticSession = (w: Where, o: Record<string, unknown>, out: TraceRecord): void => {
  const subs = o["sub_requests"]
  if (!Array.isArray(subs) || subs.length === 0) throw new InputError({ path: w.path, line: w.line, field: "sub_requests", expected: "a non-empty array of sub-requests" })
  out.secs = 0
  out.ns = intField(w, "arrival_time_ns", o["arrival_time_ns"], 0)
  const turns: Array<TraceTurn> = subs.map((x, i) => {
    const f = (name: string) => `sub_requests[${i}].${name}`
    if (typeof x !== "object" || x === null || Array.isArray(x)) throw new InputError({ path: w.path, line: w.line, field: `sub_requests[${i}]`, expected: "an object with input_toks and output_toks" })
    const sub = x as Record<string, unknown>
    const promptTokens = intField(w, f("input_toks"), sub["input_toks"], 1)
    const outputTokens = intField(w, f("output_toks"), sub["output_toks"], 1)
    const toolNs = sub["tool_duration_ns"] === undefined ? 0 : intField(w, f("tool_duration_ns"), sub["tool_duration_ns"], 0)
    const ids = sub["input_tok_ids"]
    const content: PromptContent = ids === undefined
      ? { kind: "session", session: w.line, group: 0, sharedTokens: 0, knownTokens: promptTokens + outputTokens }
      : { kind: "tokens", ids: Int32Array.from(idArray(w, f("input_tok_ids"), ids, promptTokens, "one per input_toks")) }
    return { promptTokens, outputTokens, toolNs, content }
  })
  const first = turns[0]!
  out.prompt = first.promptTokens
  out.output = first.outputTokens
  out.content = first.content
  const session: TraceSession = { id: w.line, toolNs: first.toolNs, turns: turns.slice(1) }
  out.session = session
}

export const FORMATS: Record<TraceFormat, CsvFormat | JsonlFormat> = {
  azure: {
    kind: "csv",
    delimiter: ",",
    columns: ["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
    parse: (w, get, out) => {
      const [s, ns] = azureTimestamp(w, "TIMESTAMP", get("TIMESTAMP") ?? "")
      out.secs = s
      out.ns = ns
      out.prompt = intField(w, "ContextTokens", get("ContextTokens"), 1)
      out.output = intField(w, "GeneratedTokens", get("GeneratedTokens"), 1)
    }
  },
  vidur: {
    kind: "csv",
    delimiter: ",",
    columns: ["arrived_at", "num_prefill_tokens", "num_decode_tokens"],
    parse: (w, get, out) => {
      out.secs = 0
      out.ns = Math.round(nonNegField(w, "arrived_at", get("arrived_at")) * 1e9)
      out.prompt = intField(w, "num_prefill_tokens", get("num_prefill_tokens"), 1)
      out.output = intField(w, "num_decode_tokens", get("num_decode_tokens"), 1)
    }
  },
  "llmservingsim-tsv": {
    kind: "csv",
    delimiter: "\t",
    columns: ["input_toks", "output_toks", "arrival_time_ns"],
    parse: (w, get, out) => {
      out.secs = 0
      out.ns = intField(w, "arrival_time_ns", get("arrival_time_ns"), 0)
      out.prompt = intField(w, "input_toks", get("input_toks"), 1)
      out.output = intField(w, "output_toks", get("output_toks"), 1)
    }
  },
  "llmservingsim-jsonl": {
    kind: "jsonl",
    fields: ["input_toks", "output_toks", "arrival_time_ns"],
    parse: (w, o, out) => {
      if ("sub_requests" in o) return agenticSession(w, o, out)
      out.secs = 0
      out.ns = intField(w, "arrival_time_ns", o["arrival_time_ns"], 0)
      out.prompt = intField(w, "input_toks", o["input_toks"], 1)
      out.output = intField(w, "output_toks", o["output_toks"], 1)
      const ids = o["input_tok_ids"]
      out.content = ids === undefined ? undefined : { kind: "tokens", ids: Int32Array.from(idArray(w, "input_tok_ids", ids, out.prompt, "one per input_toks")) }
    }
  },
  mooncake: {
    kind: "jsonl",
    fields: ["timestamp", "input_length", "output_length"],
    parse: (w, o, out) => {
      out.secs = 0
      out.ns = Math.round(nonNegField(w, "timestamp", o["timestamp"]) * 1e6)
      out.prompt = intField(w, "input_length", o["input_length"], 1)
      out.output = intField(w, "output_length", o["output_length"], 1)
      const ids = o["hash_ids"]
      out.content = ids === undefined
        ? undefined
        : {
          kind: "hash-blocks",
          ids: Float64Array.from(idArray(w, "hash_ids", ids, Math.ceil(out.prompt / MOONCAKE_HASH_BLOCK_TOKENS), `one per ${MOONCAKE_HASH_BLOCK_TOKENS} tokens of input_length`)),
          blockTokens: MOONCAKE_HASH_BLOCK_TOKENS
        }
    }
  }
}

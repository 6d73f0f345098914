/**
 * What one choice emits, decided before the request enters the engine: the text of every output
 * token, how the choice finishes (finish_reason, vLLM's stop_reason), tool calls and logprobs.
 * The engine then produces exactly `pieces.length` tokens, so a stop string or stop token ends
 * the sequence early in the engine too (its KV blocks are freed at that token).
 *
 * Length: with max_tokens the choice runs to max_tokens (as before); without, the --output-len
 * model draws where the model would emit EOS (ignore_eos: run to the context limit; min_tokens:
 * at least that many). Stop strings / stop_token_ids are checked after min_tokens tokens, as
 * vLLM's detokenizer and stop checker do; the stop string is cut from the text unless
 * include_stop_str_in_output, the stop token's text likewise; usage counts every token produced.
 */
import type { Rng } from "../../workload/Rng.js"
import { Rng as SeededRng } from "../../workload/Rng.js"
import { FILLER, outputPiece, type TextTokenizer } from "../Tokenizer.js"
import type { GenFields } from "./fields.js"
import { JSON_OBJECT_SCHEMA, sampleJson } from "./jsonSample.js"
import { positionLogprobs, type PositionLogprobs } from "./logprobs.js"

export interface ToolCall {
  readonly id: string
  readonly name: string
  /** Full arguments JSON (what the non-streaming message carries; cut when max_tokens ran out). */
  readonly arguments: string
}

/** What output token k (0-based) carries in the stream. */
export type TokenPart =
  | { readonly kind: "content"; readonly text: string }
  | { readonly kind: "toolStart"; readonly call: number }
  | { readonly kind: "toolArgs"; readonly call: number; readonly text: string }

export interface OutputPlan {
  /** One entry per output token (its count is what the engine generates and usage reports). */
  readonly parts: ReadonlyArray<TokenPart>
  readonly finish: string
  readonly stopReason: string | number | null
  readonly toolCalls: ReadonlyArray<ToolCall>
  /** Per content token, when logprobs were asked for (index = content-token order). */
  readonly logprobs: ReadonlyArray<PositionLogprobs> | undefined
  /** Number of top candidates per position (chat top_logprobs / completions logprobs). */
  readonly topN: number
}

/** The length inputs: max_tokens when given, the room left in the context, a draw of the length model. */
export interface LengthInputs {
  readonly maxTokens: number | undefined
  readonly room: number
  readonly draw: (rng: Rng) => number
  readonly serverRng: Rng
  readonly echo: ReadonlyArray<string> | undefined
  readonly requestId: string
}

/** Split `text` into per-token pieces with the tokenizer (pieces concatenate to `text`). */
export const tokenPieces = (tok: TextTokenizer, text: string): Array<string> => {
  const ids = tok.encode(text)
  const pieces = ids.map((id) => {
    try {
      return tok.decode([id])
    } catch {
      return ""
    }
  })
  if (pieces.join("") === text) return pieces
  // the tokenizer's single-token decode does not round-trip (e.g. SentencePiece spaces): even split
  const n = Math.max(1, ids.length)
  const out: Array<string> = []
  for (let i = 0; i < n; i++) out.push(text.slice(Math.floor((i * text.length) / n), Math.floor(((i + 1) * text.length) / n)))
  return out
}

/** Text pieces of the plain answer, cut at the first stop string / stop token after min_tokens. */
const applyStops = (tok: TextTokenizer, raw: Array<string>, f: GenFields, finish: string): { pieces: Array<string>; finish: string; stopReason: string | number | null } => {
  if (f.stop.length === 0 && f.stopTokenIds.length === 0) return { pieces: raw, finish, stopReason: null }
  const stopIds = new Set(f.stopTokenIds)
  const maxStop = f.stop.reduce((m, s) => Math.max(m, s.length), 0)
  let text = ""
  for (let k = 0; k < raw.length; k++) {
    const before = text.length
    text += raw[k]!
    if (k + 1 <= f.minTokens) continue
    if (stopIds.size > 0) {
      const ids = tok.encode(raw[k]!)
      const id = ids.find((x) => stopIds.has(x))
      if (id !== undefined) {
        const pieces = raw.slice(0, k + 1)
        if (!f.includeStopStr) pieces[k] = ""
        return { pieces, finish: "stop", stopReason: id }
      }
    }
    if (maxStop > 0) {
      const from = Math.max(0, before - maxStop + 1)
      let best = -1
      let which = ""
      for (const s of f.stop) {
        const i = text.indexOf(s, from)
        if (i >= 0 && (best < 0 || i < best)) {
          best = i
          which = s
        }
      }
      if (best >= 0) {
        const visible = text.slice(0, best + (f.includeStopStr ? which.length : 0))
        const pieces: Array<string> = []
        let pos = 0
        for (let j = 0; j <= k; j++) {
          const end = pos + raw[j]!.length
          pieces.push(visible.slice(Math.min(pos, visible.length), Math.min(end, visible.length)))
          pos = end
        }
        return { pieces, finish: "stop", stopReason: which }
      }
    }
  }
  return { pieces: raw, finish, stopReason: null }
}

let toolCounter = 0

/**
 * Plan one choice. Returns an error message (the caller answers 400) when a schema cannot be
 * sampled. `f.seed` (else 0) seeds the sampled JSON and the logprobs; with a seed the text words
 * and the drawn length come from that seed, so the same seed gives the same answer.
 */
export const planOutput = (tok: TextTokenizer, f: GenFields, li: LengthInputs): OutputPlan | { readonly error: string; readonly param: string } => {
  const seed = f.seed ?? 0
  const rng = f.seed === undefined ? li.serverRng : new SeededRng(f.seed)
  const limit = li.maxTokens ?? li.room
  const topN = f.logprobs ?? 0
  const withLogprobs = (parts: Array<TokenPart>, rest: Omit<OutputPlan, "parts" | "logprobs" | "topN">): OutputPlan => {
    let logprobs: Array<PositionLogprobs> | undefined
    if (f.logprobs !== undefined) {
      logprobs = []
      let k = 0
      for (const p of parts) if (p.kind === "content") logprobs.push(positionLogprobs(p.text, k++, seed, topN))
    }
    return { parts, logprobs, topN, ...rest }
  }
  // cap a structured answer at the token limit
  const capped = (pieces: Array<string>, done: string) =>
    pieces.length > limit ? { pieces: pieces.slice(0, limit), finish: "length" } : { pieces, finish: done }

  // tool calls
  const wantTools = f.tools.length > 0 && f.toolChoice !== "none" && !(f.toolChoice === "auto" && f.afterToolResult)
  if (wantTools) {
    const chosen = typeof f.toolChoice === "object"
      ? f.tools.filter((t) => t.name === (f.toolChoice as { name: string }).name).slice(0, 1)
      : f.tools.slice(0, f.parallelToolCalls ? 3 : 1)
    const parts: Array<TokenPart> = []
    const calls: Array<ToolCall> = []
    let finish = typeof f.toolChoice === "object" ? "stop" : "tool_calls"
    for (let c = 0; c < chosen.length; c++) {
      const t = chosen[c]!
      const s = sampleJson(t.parameters ?? { type: "object", properties: {} }, seed * 31 + c)
      if (!s.ok) return { error: `tools[${t.name}].parameters: ${s.error}`, param: "tools" }
      const args = tokenPieces(tok, s.text)
      const room = limit - parts.length
      if (room <= 0) {
        finish = "length"
        break
      }
      parts.push({ kind: "toolStart", call: c })
      const take = Math.min(args.length, room - 1)
      for (let i = 0; i < take; i++) parts.push({ kind: "toolArgs", call: c, text: args[i]! })
      calls.push({ id: `chatcmpl-tool-${(toolCounter++).toString(16).padStart(8, "0")}${li.requestId.slice(-8)}`, name: t.name, arguments: args.slice(0, take).join("") })
      if (take < args.length) {
        finish = "length"
        break
      }
    }
    return withLogprobs(parts, { finish, stopReason: null, toolCalls: calls })
  }

  // structured content
  if (f.structured !== undefined) {
    let text: string
    if (f.structured.type === "choice") {
      const cs = f.structured.choices
      text = cs[new SeededRng(seed).int(0, cs.length - 1)]!
    } else {
      const schema = f.structured.type === "json_object" ? JSON_OBJECT_SCHEMA : f.structured.schema
      const s = sampleJson(schema, seed)
      if (!s.ok) return { error: `response_format: ${s.error}`, param: "response_format" }
      text = s.text
    }
    const c = capped(tokenPieces(tok, text), "stop")
    const st = applyStops(tok, c.pieces, f, c.finish)
    return withLogprobs(st.pieces.map((t) => ({ kind: "content", text: t })), { finish: st.finish, stopReason: st.stopReason, toolCalls: [] })
  }

  // plain text: length from max_tokens or the length model
  let n: number
  let finish: string
  if (li.maxTokens !== undefined) {
    n = li.maxTokens
    finish = "length"
  } else if (f.ignoreEos) {
    n = li.room
    finish = "length"
  } else {
    const want = Math.max(li.draw(rng), f.minTokens)
    n = Math.min(want, li.room)
    finish = want > li.room ? "length" : "stop"
  }
  const raw: Array<string> = new Array(n)
  if (f.seed === undefined) for (let i = 0; i < n; i++) raw[i] = outputPiece(i, li.echo)
  else for (let i = 0; i < n; i++) raw[i] = FILLER[rng.int(0, FILLER.length - 1)]!
  const st = applyStops(tok, raw, f, finish)
  return withLogprobs(st.pieces.map((t) => ({ kind: "content", text: t })), { finish: st.finish, stopReason: st.stopReason, toolCalls: [] })
}

/**
 * SSE deltas and non-streaming bodies of a planned choice (OutputPlan.ts), in vLLM's shapes:
 * content deltas with per-token logprobs (chat `{content: [...]}`, completions
 * `{tokens, token_logprobs, top_logprobs, text_offset}`), tool-call deltas as vLLM streams them
 * (first `{index, id, type: "function", function: {name, arguments: ""}}`, then
 * `{index, function: {arguments: fragment}}`), `finish_reason` and `stop_reason` on the last chunk.
 */
import { sseEvent, usageOf, type ResponseMeta } from "../Sse.js"
import { chatEntry, completionLogprobs } from "./logprobs.js"
import type { OutputPlan } from "./OutputPlan.js"

/** Index of each part's logprobs entry (content parts only; -1 otherwise). */
export const logprobIndex = (plan: OutputPlan): Int32Array => {
  const idx = new Int32Array(plan.parts.length).fill(-1)
  let j = 0
  plan.parts.forEach((p, k) => {
    if (p.kind === "content") idx[k] = j++
  })
  return idx
}

/**
 * The chunk of output token k (0-based) of `plan`, or "" when the token adds nothing visible and
 * is not the last (vLLM sends no empty delta). `prefix` (completions echo) goes before the first
 * token's text; `textOffset` is the completion-text offset of this token (completions logprobs);
 * `extra` (--timing-fields) is merged into the chunk.
 */
export const planChunk = (m: ResponseMeta, plan: OutputPlan, lpIdx: Int32Array, k: number, last: boolean, prefix: string, textOffset: number, extra?: Record<string, unknown>): string => {
  const part = plan.parts[k]!
  const finish = last ? plan.finish : null
  const tail = last ? { finish_reason: finish, stop_reason: plan.stopReason } : { finish_reason: null }
  const usage = m.continuousUsage ? { usage: usageOf(m.promptTokens, k + 1) } : {}
  const head = { id: m.id, object: m.kind === "chat" ? "chat.completion.chunk" : "text_completion", created: m.created, model: m.model }
  const lp = plan.logprobs !== undefined && lpIdx[k]! >= 0 ? plan.logprobs[lpIdx[k]!]! : undefined
  if (m.kind === "completion") {
    const text = (k === 0 ? prefix : "") + (part.kind === "content" ? part.text : "")
    if (text === "" && !last) return ""
    return sseEvent({ ...head, choices: [{ index: 0, text, logprobs: lp === undefined ? null : completionLogprobs([lp], textOffset), ...tail, ...(last ? {} : { stop_reason: null }) }], ...usage, ...extra })
  }
  let delta: Record<string, unknown>
  if (part.kind === "content") {
    if (part.text === "" && !last) return ""
    delta = { content: part.text }
  } else if (part.kind === "toolStart") {
    const c = plan.toolCalls[part.call]!
    delta = { tool_calls: [{ index: part.call, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }
  } else delta = { tool_calls: [{ index: part.call, function: { arguments: part.text } }] }
  return sseEvent({ ...head, choices: [{ index: 0, delta, logprobs: lp === undefined ? (plan.logprobs === undefined ? null : { content: [] }) : { content: [chatEntry(lp)] }, ...tail }], ...usage, ...extra })
}

/** The non-streaming body of `plan` (`prefix`: the echoed prompt of completions). */
export const planFull = (m: ResponseMeta, plan: OutputPlan, prefix: string): unknown => {
  const n = plan.parts.length
  let text = prefix
  for (const p of plan.parts) if (p.kind === "content") text += p.text
  const usage = { ...usageOf(m.promptTokens, n), prompt_tokens_details: null }
  if (m.kind === "completion") {
    return {
      id: m.id, object: "text_completion", created: m.created, model: m.model,
      choices: [{ index: 0, text, logprobs: plan.logprobs === undefined ? null : completionLogprobs(plan.logprobs, prefix.length), finish_reason: plan.finish, stop_reason: plan.stopReason }],
      usage
    }
  }
  const calls = plan.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } }))
  return {
    id: m.id, object: "chat.completion", created: m.created, model: m.model,
    choices: [{
      index: 0,
      message: { role: "assistant", content: calls.length > 0 && text === "" ? null : text, refusal: null, tool_calls: calls, reasoning_content: null },
      logprobs: plan.logprobs === undefined ? null : { content: plan.logprobs.map(chatEntry) },
      finish_reason: plan.finish,
      stop_reason: plan.stopReason
    }],
    usage,
    prompt_logprobs: null
  }
}

/**
 * OpenAI/vLLM response bodies: SSE chunks and non-streaming completions, byte for byte as vLLM
 * sends them (openai-wire.md section 5): `data: <one-line JSON>\n\n` events, no `event:` field,
 * the chat role chunk at the first token, one token per content chunk, `finish_reason` on the last
 * token chunk, the `choices: []` usage chunk only with `include_usage`, then `data: [DONE]`.
 */

export type Kind = "chat" | "completion"

export interface Usage {
  readonly prompt_tokens: number
  readonly completion_tokens: number
  readonly total_tokens: number
}

export const usageOf = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion
})

/** Identity fields shared by every chunk of one response. */
export interface ResponseMeta {
  readonly kind: Kind
  readonly id: string
  readonly created: number
  readonly model: string
  readonly promptTokens: number
  readonly includeUsage: boolean
  readonly continuousUsage: boolean
}

const enc = new TextEncoder()

/** One SSE event. */
export const sseEvent = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`
export const SSE_DONE = "data: [DONE]\n\n"
export const encodeText = (s: string): Uint8Array => enc.encode(s)

/** The chat role chunk (sent with the first token). */
export const roleChunk = (m: ResponseMeta, index = 0): string =>
  sseEvent({
    id: m.id, object: "chat.completion.chunk", created: m.created, model: m.model,
    choices: [{ index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }],
    ...(m.continuousUsage ? { usage: usageOf(m.promptTokens, 0) } : {})
  })

/**
 * The chunk carrying output token `n` (1-based) with text `piece`; `finish` on the last one.
 * `extra` (tests and benchmarks only) is merged into the chunk.
 */
export const tokenChunk = (m: ResponseMeta, n: number, piece: string, finish: string | null, extra?: Record<string, unknown>, index = 0): string => {
  const usage = m.continuousUsage ? { usage: usageOf(m.promptTokens, n) } : {}
  if (m.kind === "chat") {
    return sseEvent({
      id: m.id, object: "chat.completion.chunk", created: m.created, model: m.model,
      choices: [{ index, delta: { content: piece }, logprobs: null, finish_reason: finish, ...(finish === null ? {} : { stop_reason: null }) }],
      ...usage, ...extra
    })
  }
  return sseEvent({
    id: m.id, object: "text_completion", created: m.created, model: m.model,
    choices: [{ index, text: piece, logprobs: null, finish_reason: finish, stop_reason: null }],
    ...usage, ...extra
  })
}

/**
 * Extra fields as they end a JSON object: `,"k":v` for each (numbers only), the bytes that merging
 * them into a chunk adds. Build it once per chunk and pass it to a token writer as a string.
 */
export const extraFields = (extra: Readonly<Record<string, number>>): string => {
  let x = ""
  for (const k in extra) x += `,${JSON.stringify(k)}:${JSON.stringify(extra[k])}`
  return x
}

/**
 * A fast writer of the token chunks of one response: the JSON around the token text is built once,
 * so each token costs one string concatenation. The bytes equal `tokenChunk`'s; `extra` (the
 * benchmark timing fields, numbers only) is appended as `tokenChunk` merges it, last in the object,
 * either as an object or already rendered by `extraFields` (no per-chunk object or stringify).
 */
export const makeTokenWriter = (m: ResponseMeta): ((n: number, piece: string, finish: string | null, extra?: Readonly<Record<string, number>> | string) => string) => {
  if (m.continuousUsage) return (n, piece, finish, extra) => tokenChunk(m, n, piece, finish, typeof extra === "string" ? JSON.parse(`{${extra.slice(1)}}`) as Record<string, number> : extra)
  const head = m.kind === "chat"
    ? `data: {"id":${JSON.stringify(m.id)},"object":"chat.completion.chunk","created":${m.created},"model":${JSON.stringify(m.model)},"choices":[{"index":0,"delta":{"content":`
    : `data: {"id":${JSON.stringify(m.id)},"object":"text_completion","created":${m.created},"model":${JSON.stringify(m.model)},"choices":[{"index":0,"text":`
  const mid = m.kind === "chat" ? `},"logprobs":null,"finish_reason":` : `,"logprobs":null,"finish_reason":`
  const tail = m.kind === "chat" ? `}]}\n\n` : `,"stop_reason":null}]}\n\n`
  const tailLast = m.kind === "chat" ? `,"stop_reason":null}]}\n\n` : tail
  // the tails without their closing "}\n\n", for chunks that carry extra fields
  const open = tail.slice(0, -3)
  const openLast = tailLast.slice(0, -3)
  return (_n, piece, finish, extra) => {
    const end = extra === undefined ? (finish === null ? tail : tailLast)
      : (finish === null ? open : openLast) + (typeof extra === "string" ? extra : extraFields(extra)) + "}\n\n"
    return head + JSON.stringify(piece) + mid + (finish === null ? "null" : JSON.stringify(finish)) + end
  }
}

/** The final `choices: []` usage chunk (only with include_usage). */
export const usageChunk = (m: ResponseMeta, completion: number): string =>
  sseEvent({
    id: m.id, object: m.kind === "chat" ? "chat.completion.chunk" : "text_completion", created: m.created, model: m.model,
    choices: [], usage: usageOf(m.promptTokens, completion)
  })

/** An error after streaming began: `data: {"error": ...}` (then [DONE]). */
export const errorChunk = (message: string, type = "InternalServerError", code = 500): string =>
  sseEvent({ error: { message, type, param: null, code } })

/** The non-streaming body. */
export const fullResponse = (m: ResponseMeta, text: string, completion: number, finish: string): unknown =>
  m.kind === "chat"
    ? {
      id: m.id, object: "chat.completion", created: m.created, model: m.model,
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null, tool_calls: [], reasoning_content: null }, logprobs: null, finish_reason: finish, stop_reason: null }],
      usage: { ...usageOf(m.promptTokens, completion), prompt_tokens_details: null },
      prompt_logprobs: null
    }
    : {
      id: m.id, object: "text_completion", created: m.created, model: m.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null }],
      usage: { ...usageOf(m.promptTokens, completion), prompt_tokens_details: null }
    }

/** One choice of a multi-choice answer (n > 1 or a list of prompts). */
export interface ChoiceOut {
  readonly index: number
  readonly text: string
  readonly finish: string
}

/**
 * The non-streaming body with several choices (vLLM's n > 1 / prompt lists): `completion` is the
 * sum of the choices' output tokens, the meta's promptTokens the sum over the distinct prompts.
 */
export const fullResponseMany = (m: ResponseMeta, choices: ReadonlyArray<ChoiceOut>, completion: number): unknown =>
  m.kind === "chat"
    ? {
      id: m.id, object: "chat.completion", created: m.created, model: m.model,
      choices: choices.map((c) => ({ index: c.index, message: { role: "assistant", content: c.text, refusal: null, tool_calls: [], reasoning_content: null }, logprobs: null, finish_reason: c.finish, stop_reason: null })),
      usage: { ...usageOf(m.promptTokens, completion), prompt_tokens_details: null },
      prompt_logprobs: null
    }
    : {
      id: m.id, object: "text_completion", created: m.created, model: m.model,
      choices: choices.map((c) => ({ index: c.index, text: c.text, logprobs: null, finish_reason: c.finish, stop_reason: null })),
      usage: { ...usageOf(m.promptTokens, completion), prompt_tokens_details: null }
    }

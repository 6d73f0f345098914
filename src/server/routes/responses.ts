/**
 * `POST /v1/responses` (OpenAI's Responses API, as vLLM serves it) on the same live engine as the
 * completion routes: `input` (a string or a list of messages) and `instructions` become a chat
 * prompt (chat template, Tokenizer.ts), `max_output_tokens` caps the output (else the server's
 * output-length distribution). Non-streaming: one `response` object. Streaming: named SSE events
 * (`event: <type>` + `data: {...}`) with increasing `sequence_number`s: response.created,
 * response.in_progress, response.output_item.added, response.content_part.added, one
 * response.output_text.delta per token, response.output_text.done, response.content_part.done,
 * response.output_item.done, response.completed (the whole response with usage; response.incomplete
 * when max_output_tokens cut it off). Shapes from
 * OpenAI's API reference (Response object, streaming events) and the decoders of @effect/ai-openai.
 * A length-capped answer has `status: "incomplete"`, `incomplete_details.reason: "max_output_tokens"`.
 * Fields the simulator cannot honour (tools, previous_response_id, reasoning, background, store,
 * non-text formats, ...) are refused with a 400 naming the field.
 */
import { HttpApiBuilder, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Deferred, Effect, Exit, FiberId, Stream } from "effect"
import type { PromptContent } from "../../memory/blockHash.js"
import { ResponsesRequest, ServeApi } from "../Api.js"
import { type AdmissionTicket, withTicket } from "../admission.js"
import { arrivedAt } from "../arrival.js"
import { admitJsonBody, decodeBody, openAiError, Reject, reject } from "../errors.js"
import type { LiveEvent } from "../LiveEngine.js"
import { modelLora } from "../models.js"
import { ServeContext, type ServeState } from "../ServeContext.js"
import { makeSseWriter } from "../sseWrite.js"
import { type ChatMessage, chatTokenIds, outputPiece } from "../Tokenizer.js"
import { drawOutputLen, rngFor } from "./completions.js"
import { checkSampling } from "./sampling.js"

let idCounter = 0

type Req = typeof ResponsesRequest.Type

const partText = (c: Req["input"]): Array<ChatMessage> => {
  if (typeof c === "string") return [{ role: "user", content: c }]
  return c.map((m) => ({
    role: m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((p) => p.text ?? "").join("")
  }))
}

/** The roles a Responses input message takes (OpenAI's EasyInputMessage). */
const INPUT_ROLES = ["user", "assistant", "system", "developer"] as const

/**
 * Fail with a 400 naming `input[i].role` / `input[i].content` for the first input message with an
 * unknown role or no content, as chat's messages are checked (routes/messages.ts); the schema's
 * own error for these would only say that `input` is not a string.
 */
const checkInputMessages = (input: ReadonlyArray<unknown>) => {
  for (let i = 0; i < input.length; i++) {
    const m = input[i]
    const at = `input[${i}]`
    if (typeof m !== "object" || m === null || Array.isArray(m)) return reject(400, `Invalid request: ${at}: expected an input message {role, content}, got ${JSON.stringify(m)}`, at)
    const role = (m as { role?: unknown }).role
    if (!(INPUT_ROLES as ReadonlyArray<unknown>).includes(role)) {
      return reject(400, `Invalid request: ${at}.role: expected one of ${INPUT_ROLES.map((r) => `"${r}"`).join(", ")}, got ${JSON.stringify(role) ?? "none"}`, `${at}.role`)
    }
    const content = (m as { content?: unknown }).content
    if (typeof content !== "string" && !Array.isArray(content)) {
      return reject(400, `Invalid request: ${at}.content: a ${role} message needs content (a string or a list of content parts), got ${JSON.stringify(content) ?? "none"}`, `${at}.content`)
    }
  }
  return Effect.void
}

/** Fields refused: name -> predicate "set to something the simulator cannot honour". */
const unsupported = (raw: Record<string, unknown>): string | undefined => {
  const set = (k: string) => raw[k] !== undefined && raw[k] !== null
  if (Array.isArray(raw.tools) ? raw.tools.length > 0 : set("tools")) return "tools"
  if (set("tool_choice") && raw.tool_choice !== "auto" && raw.tool_choice !== "none") return "tool_choice"
  for (const k of ["previous_response_id", "conversation", "reasoning", "prompt", "max_tool_calls", "top_logprobs"]) if (set(k)) return k
  if (raw.background === true) return "background"
  if (raw.store === true) return "store"
  if (Array.isArray(raw.include) ? raw.include.length > 0 : set("include")) return "include"
  const text = raw.text as { format?: { type?: unknown } | null } | null | undefined
  if (text?.format !== undefined && text.format !== null && text.format.type !== "text") return "text.format"
  return undefined
}

interface Prepared {
  readonly id: string
  readonly msgId: string
  readonly created: number
  readonly model: string
  readonly req: Req
  readonly promptTokens: number
  readonly outputTokens: number
  readonly capped: boolean
  readonly content: PromptContent
  /** The LoRA adapter the body's `model` names (0 = the base model). */
  readonly lora: number
}

const prepare = (st: ServeState, request: HttpServerRequest.HttpServerRequest, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const o = st.options
    const raw = yield* admitJsonBody(st, request, ticket)
    const rawInput = (raw as { input?: unknown } | null)?.input
    if (Array.isArray(rawInput)) yield* checkInputMessages(rawInput)
    const req = yield* decodeBody(ResponsesRequest, raw)
    if (Array.isArray(req.input) && req.input.length === 0) {
      return yield* reject(400, "Invalid request: input: expected a string or a non-empty list of input messages, got an empty list", "input")
    }
    const bad = unsupported(raw as Record<string, unknown>)
    if (bad !== undefined) return yield* reject(400, `The simulator does not support \`${bad}\` in /v1/responses`, bad)
    const lora = modelLora(st, req.model)
    if (lora === undefined) return yield* reject(404, `The model \`${req.model}\` does not exist.`, "model")
    yield* checkSampling({ temperature: req.temperature, top_p: req.top_p, max_tokens: req.max_output_tokens }, "max_output_tokens")
    const msgs = [...(req.instructions ? [{ role: "system", content: req.instructions }] : []), ...partText(req.input)]
    const maxLen = st.config.engine.maxModelLen
    const chars = msgs.reduce((s, m) => s + m.content.length, 0)
    const contextError = (p: number, m: number | undefined) =>
      reject(400, `This model's maximum context length is ${maxLen} tokens. However, you requested ${m === undefined ? p : p + m} tokens (${p} in the messages, ${m ?? 0} in the completion). Please reduce the length of the messages or completion.`, "input")
    const maxTokens = req.max_output_tokens ?? undefined
    if (chars > 64 * maxLen) return yield* contextError(Math.ceil(chars / 64), maxTokens)
    const ids = chatTokenIds(o.tokenizer, msgs)
    const promptTokens = Math.max(1, ids.length)
    let outputTokens: number
    let capped: boolean
    if (maxTokens !== undefined) {
      if (promptTokens + maxTokens > maxLen) return yield* contextError(promptTokens, maxTokens)
      outputTokens = maxTokens
      capped = true
    } else {
      if (promptTokens >= maxLen) return yield* contextError(promptTokens, undefined)
      const drawn = drawOutputLen(o.outputLen, yield* rngFor(st))
      outputTokens = Math.min(drawn, maxLen - promptTokens)
      capped = drawn > maxLen - promptTokens
    }
    const n = (idCounter++).toString(16).padStart(8, "0")
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    return {
      id: `resp_sim${n}`, msgId: `msg_sim${n}`, created, model: req.model ?? o.servedModelName, req, promptTokens, outputTokens, capped,
      content: { kind: "tokens", ids: Int32Array.from(ids) }, lora
    } satisfies Prepared
  })

type Status = "in_progress" | "completed" | "incomplete"

const messageItem = (p: Prepared, text: string, status: Status) => ({
  id: p.msgId, type: "message", role: "assistant", status,
  content: status === "in_progress" && text === "" ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }]
})

/** The `response` object (OpenAI's Response schema, the fields vLLM fills). */
const responseObject = (p: Prepared, status: Status, text: string, completion: number | undefined) => ({
  id: p.id, object: "response", created_at: p.created, status, background: false, error: null,
  incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
  instructions: p.req.instructions ?? null, max_output_tokens: p.req.max_output_tokens ?? null, metadata: null, model: p.model,
  output: status === "in_progress" ? [] : [messageItem(p, text, "completed")],
  parallel_tool_calls: true, previous_response_id: null, reasoning: null, service_tier: "auto", store: false,
  temperature: p.req.temperature ?? 1, text: { format: { type: "text" } }, tool_choice: "auto", tools: [],
  top_p: p.req.top_p ?? 1, truncation: "disabled", user: null,
  usage: completion === undefined ? null : {
    input_tokens: p.promptTokens, input_tokens_details: { cached_tokens: 0 },
    output_tokens: completion, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: p.promptTokens + completion
  }
})

const finalStatus = (p: Prepared): Status => (p.capped ? "incomplete" : "completed")

const respond = (st: ServeState, p: Prepared, request: HttpServerRequest.HttpServerRequest, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const engine = st.engine
    const end = Deferred.unsafeMake<void>(FiberId.none)
    const pieces: Array<string> = []
    if (p.req.stream !== true) {
      let failure: string | undefined
      const sink = (e: LiveEvent) => {
        if (e._tag === "Failed") failure = e.message
        else for (let i = pieces.length; i < e.n; i++) pieces.push(outputPiece(i, undefined))
        if (e._tag === "Failed" || e.last) Deferred.unsafeDone(end, Exit.void)
      }
      const h = yield* engine.submit(p.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content, 0, p.lora)
    ticket.release()
      ticket.release()
      yield* Deferred.await(end).pipe(Effect.ensuring(engine.abort(h)))
      if (failure !== undefined) return openAiError(500, failure)
      const text = pieces.join("")
      return HttpServerResponse.unsafeJson({ ...responseObject(p, finalStatus(p), text, pieces.length), output_text: text })
    }
    const res = NodeHttpServerRequest.toServerResponse(request)
    let seq = 0
    const ev = (type: string, body: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...body })}\n\n`
    const where = { item_id: p.msgId, output_index: 0, content_index: 0 }
    let started = false
    let early = ev("response.created", { response: responseObject(p, "in_progress", "", undefined) }) +
      ev("response.in_progress", { response: responseObject(p, "in_progress", "", undefined) })
    const send = makeSseWriter(res)
    const out = (s: string) => {
      if (!started) early += s
      else send(s)
    }
    const sink = (e: LiveEvent) => {
      if (e._tag === "Failed") {
        out(ev("error", { code: "server_error", message: e.message, param: null }))
        Deferred.unsafeDone(end, Exit.void)
        return
      }
      let s = ""
      if (pieces.length === 0) {
        s += ev("response.output_item.added", { output_index: 0, item: messageItem(p, "", "in_progress") })
        s += ev("response.content_part.added", { ...where, part: { type: "output_text", text: "", annotations: [], logprobs: [] } })
      }
      for (let i = pieces.length; i < e.n; i++) {
        const piece = outputPiece(i, undefined)
        pieces.push(piece)
        s += ev("response.output_text.delta", { ...where, delta: piece, logprobs: [] })
      }
      if (e.last) {
        const text = pieces.join("")
        s += ev("response.output_text.done", { ...where, text, logprobs: [] })
        s += ev("response.content_part.done", { ...where, part: { type: "output_text", text, annotations: [], logprobs: [] } })
        s += ev("response.output_item.done", { output_index: 0, item: messageItem(p, text, "completed") })
        // OpenAI ends a response cut off by max_output_tokens with response.incomplete, else response.completed
        const status = finalStatus(p)
        s += ev(status === "incomplete" ? "response.incomplete" : "response.completed", { response: responseObject(p, status, text, pieces.length) })
      }
      out(s)
      if (e.last) Deferred.unsafeDone(end, Exit.void)
    }
    const h = yield* engine.submit(p.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content, 0, p.lora)
    ticket.release()
    const body = Stream.execute(Effect.sync(() => {
      started = true
      res.write(early)
      early = ""
    })).pipe(Stream.concat(Stream.execute(Deferred.await(end))), Stream.ensuring(engine.abort(h)))
    return HttpServerResponse.stream(body as Stream.Stream<Uint8Array>, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

export const ResponsesLive = HttpApiBuilder.group(ServeApi, "responses", (handlers) =>
  handlers.handleRaw("createResponse", ({ request }) =>
    Effect.gen(function*() {
      const st = yield* ServeContext
      // the ticket counts the request against --max-waiting from its admission to its submission
      return yield* withTicket(st.admission, (ticket) =>
        Effect.gen(function*() {
          const p = yield* prepare(st, request, ticket)
          return yield* respond(st, p, request, ticket)
        }))
    }).pipe(Effect.catchAll((e) => Effect.succeed(e instanceof Reject ? e.response : openAiError(500, String(e))))))
)

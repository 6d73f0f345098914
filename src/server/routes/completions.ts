/**
 * The OpenAI completion routes (`/v1/completions`, `/v1/chat/completions`, `/v1/models`). Every
 * completion request becomes an arrival in the live engine (LiveEngine.ts); its tokens are written
 * when the engine produces them. After streaming began an error is a `data: {"error": ...}` chunk
 * then [DONE]. A client that disconnects aborts its request (the engine frees its KV blocks).
 */
import { HttpApiBuilder, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Deferred, Effect, Exit, FiberId, Stream } from "effect"
import type { PromptContent } from "../../memory/blockHash.js"
import { Rng } from "../../workload/Rng.js"
import { ChatRequest, CompletionRequest, ServeApi } from "../Api.js"
import { type AdmissionTicket, withTicket } from "../admission.js"
import { arrivedAt } from "../arrival.js"
import { admitJsonBody, checkAuth, decodeBody, openAiError, Reject, reject } from "../errors.js"
import type { LiveEvent } from "../LiveEngine.js"
import type { OutputLenSpec } from "../OutputLen.js"
import { modelCards, modelLora } from "../models.js"
import { ServeContext, type ServeState } from "../ServeContext.js"
import { makeSseWriter } from "../sseWrite.js"
import { checkMessages } from "./messages.js"
import { checkSampling } from "./sampling.js"
import { errorChunk, fullResponse, fullResponseMany, type Kind, makeTokenWriter, type ResponseMeta, roleChunk, SSE_DONE, tokenChunk, usageChunk } from "../Sse.js"
import { type ChatMessage, chatTokenIds, echoPieces, encodePrompt, outputPiece } from "../Tokenizer.js"
import { logprobIndex, planChunk, planFull } from "../generation/chunks.js"
import { type GenFields, isDefault, parseGenFields } from "../generation/fields.js"
import { type OutputPlan, planOutput } from "../generation/OutputPlan.js"

// ---------------------------------------------------------------------------------------------
// Request preparation

interface Prepared {
  readonly meta: ResponseMeta
  readonly stream: boolean
  readonly outputTokens: number
  readonly finish: "length" | "stop"
  readonly echo: ReadonlyArray<string> | undefined
  /** The prompt's token ids (prefix-cache hits between requests). */
  readonly content: PromptContent
  /** The body's `priority` (vLLM's field; 0 when absent). */
  readonly priority: number
  /** The LoRA adapter the body's `model` names (0 = the base model). */
  readonly lora: number
  /** The planned choice when the request sets generation fields (stop, tools, logprobs, ...). */
  readonly plan?: OutputPlan | undefined
  /** Completions `echo: true`: the prompt text, sent before the first token. */
  readonly prefix: string
  /** With n > 1 or a list of prompts, every sequence (choice) of the answer; else empty. */
  readonly seqs: ReadonlyArray<Sequence>
}

/** One choice: its prompt, output length and finish reason. */
interface Sequence {
  readonly index: number
  readonly promptTokens: number
  readonly outputTokens: number
  readonly finish: "length" | "stop"
  readonly echo: ReadonlyArray<string> | undefined
  readonly content: PromptContent
}

const contentText = (c: (typeof ChatRequest.Type)["messages"][number]["content"]): string =>
  c === undefined || c === null ? "" : typeof c === "string" ? c : c.map((p) => (p.type === "text" && p.text !== undefined ? p.text : "")).join("")


let idCounter = 0

const prepare = (st: ServeState, kind: Kind, request: HttpServerRequest.HttpServerRequest, rng: Rng, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const o = st.options
    const raw = yield* admitJsonBody(st, request, ticket)
    const maxLen = st.config.engine.maxModelLen
    const tok = o.tokenizer
    let promptTokens: number
    let promptIds: ReadonlyArray<number>
    let echoIds: ReadonlyArray<number> | undefined
    let promptText: string | undefined
    let req: { model?: string | undefined; stream?: boolean | null | undefined; stream_options?: (typeof ChatRequest.Type)["stream_options"]; max_tokens?: number | null | undefined; n?: number | null | undefined; priority?: number | null | undefined }
    let maxTokens: number | null | undefined
    /** The prompts after the first of a prompt list. */
    const extra: Array<PromptIn> = []
    let fields: GenFields
    /** The request's max-tokens field (chat: max_completion_tokens when given), for messages. */
    let maxTokensField = "max_tokens"
    // Prompts longer than 64 characters per allowed token cannot fit: refuse them without tokenizing.
    const tooLong = (chars: number) => chars > 64 * maxLen
    const contextError = (p: number, m: number | undefined) =>
      reject(400, `This model's maximum context length is ${maxLen} tokens. However, you requested ${m === undefined ? p : p + m} tokens (${p} in the ${kind === "chat" ? "messages" : "prompt"}, ${m ?? 0} in the completion). Please reduce the length of the ${kind === "chat" ? "messages" : "prompt"} or completion.`, kind === "chat" ? "messages" : "prompt")
    if (kind === "chat") {
      const c = yield* decodeBody(ChatRequest, raw)
      yield* checkMessages((raw as { messages: ReadonlyArray<unknown> }).messages)
      const g = parseGenFields(raw, kind)
      fields = Effect.isEffect(g) ? yield* g : g
      req = c
      maxTokens = c.max_completion_tokens ?? c.max_tokens
      if (c.max_completion_tokens !== undefined && c.max_completion_tokens !== null) maxTokensField = "max_completion_tokens"
      yield* checkSampling({ ...c, max_tokens: maxTokens }, maxTokensField)
      const msgs: Array<ChatMessage> = c.messages.map((m) => ({ role: m.role, content: contentText(m.content) }))
      const chars = msgs.reduce((s, m) => s + m.content.length, 0)
      if (tooLong(chars)) return yield* contextError(Math.ceil(chars / 64), maxTokens ?? undefined)
      promptIds = truncated(chatTokenIds(tok, msgs), fields.truncatePromptTokens, maxLen)
      promptTokens = Math.max(1, promptIds.length)
      if (o.echo) echoIds = tok.encode(msgs[msgs.length - 1]!.content).slice(0, 4096)
    } else {
      const c = yield* decodeBody(CompletionRequest, raw)
      const g = parseGenFields(raw, kind)
      fields = Effect.isEffect(g) ? yield* g : g
      req = c
      maxTokens = c.max_tokens
      yield* checkSampling(c)
      let p = c.prompt
      if (Array.isArray(p) && p.length > 0 && (typeof p[0] === "string" || Array.isArray(p[0]))) {
        if (p.length > 1) {
          // a list of prompts (vLLM: one engine request per prompt, choices indexed across prompts)
          for (const q of p.slice(1) as ReadonlyArray<string | ReadonlyArray<number>>) {
            extra.push(yield* completionPrompt(st, q, tooLong, contextError, maxTokens, (ids) => truncated(ids, fields.truncatePromptTokens, maxLen)))
          }
        }
        p = p[0] as string | ReadonlyArray<number>
      }
      if (typeof p === "string") {
        if (tooLong(p.length)) return yield* contextError(Math.ceil(p.length / 64), maxTokens ?? undefined)
        // vLLM's completions encode with add_special_tokens (Llama 3: a leading <|begin_of_text|>)
        const ids = truncated(encodePrompt(tok, p), fields.truncatePromptTokens, maxLen)
        promptIds = ids
        promptTokens = ids.length
        promptText = p
        if (o.echo) echoIds = tok.encode(p).slice(0, 4096)
      } else {
        const ids = truncated(p as ReadonlyArray<number>, fields.truncatePromptTokens, maxLen)
        // as vLLM: a token id outside the vocabulary is a bad request
        const vocab = st.config.model.vocab
        const bad = ids.find((x) => x < 0 || x >= vocab)
        if (bad !== undefined) return yield* reject(400, `Token id ${bad} is out of vocabulary (vocab_size ${vocab})`, "prompt")
        promptIds = ids
        promptTokens = ids.length
        if (o.echo) echoIds = ids.slice(0, 4096)
      }
      if (promptTokens === 0) return yield* reject(400, "The prompt is empty", "prompt")
    }
    const lora = modelLora(st, req.model)
    if (lora === undefined) return yield* reject(404, `The model \`${req.model}\` does not exist.`, "model")
    // as vLLM's input processor: a non-zero priority needs the priority scheduler
    const priority = req.priority ?? 0
    if (priority !== 0 && st.config.engine.schedulingPolicy !== "priority") {
      return yield* reject(400, `Got priority ${priority} but Priority scheduling is not enabled.`, "priority")
    }
    let outputTokens: number
    let finish: "length" | "stop"
    let plan: OutputPlan | undefined
    if (!isDefault(fields, maxTokens !== undefined && maxTokens !== null)) {
      if (maxTokens !== undefined && maxTokens !== null) {
        if (maxTokens < 1) return yield* reject(400, `${maxTokensField} must be at least 1, got ${maxTokens}.`, maxTokensField)
        if (promptTokens + maxTokens > maxLen) return yield* contextError(promptTokens, maxTokens)
      } else if (promptTokens >= maxLen) return yield* contextError(promptTokens, undefined)
      const echoText = o.echo && echoIds !== undefined ? echoPieces(tok, echoIds, echoIds.length) : undefined
      const r = planOutput(tok, fields, {
        maxTokens: maxTokens ?? undefined, room: maxLen - promptTokens, draw: (g) => drawOutputLen(o.outputLen, g), serverRng: rng, echo: echoText,
        requestId: String(idCounter)
      })
      if ("error" in r) return yield* reject(400, r.error, r.param)
      plan = r
      outputTokens = r.parts.length
      finish = "length"
    } else if (maxTokens !== undefined && maxTokens !== null) {
      if (maxTokens < 1) return yield* reject(400, `${maxTokensField} must be at least 1, got ${maxTokens}.`, maxTokensField)
      if (promptTokens + maxTokens > maxLen) return yield* contextError(promptTokens, maxTokens)
      outputTokens = maxTokens
      finish = "length"
    } else {
      if (promptTokens >= maxLen) return yield* contextError(promptTokens, undefined)
      const drawn = drawOutputLen(o.outputLen, rng)
      const room = maxLen - promptTokens
      outputTokens = Math.min(drawn, room)
      finish = drawn > room ? "length" : "stop"
    }
    const stream = req.stream === true
    const so = req.stream_options
    const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const meta: ResponseMeta = {
      kind,
      id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-sim${(idCounter++).toString(16).padStart(8, "0")}`,
      created,
      model: req.model ?? o.servedModelName,
      promptTokens,
      includeUsage: stream && so?.include_usage === true,
      continuousUsage: stream && so?.include_usage === true && so?.continuous_usage_stats === true
    }
    const echo = echoIds === undefined ? undefined : echoPieces(tok, echoIds, Math.min(echoIds.length, outputTokens))
    const content: PromptContent = { kind: "tokens", ids: Int32Array.from(promptIds) }
    // echo: a text prompt comes back as given (vLLM returns the request's prompt), token ids decoded
    const prefix = fields.echo ? promptText ?? tok.decode(promptIds) : ""
    const n = req.n ?? 1
    if (n === 1 && extra.length === 0) return { meta, stream, outputTokens, finish, echo, content, priority, lora, plan, prefix, seqs: [] } satisfies Prepared
    // several sequences: n > 1 (vLLM's parallel sampling) and/or a list of prompts
    const what = n > 1 ? "n > 1" : "a list of prompts"
    if (plan !== undefined || fields.echo) return yield* reject(400, `${what} with generation fields (stop, tools, response_format, logprobs, echo, ...) is not supported by the simulator`, n > 1 ? "n" : "prompt")
    if (meta.continuousUsage) return yield* reject(400, `continuous_usage_stats with ${what} is not supported by the simulator`, "stream_options")
    const prompts: Array<PromptIn> = [{ ids: promptIds, echoIds }, ...extra]
    // one sequence per (prompt, sample): choice index = prompt index x n + sample index, as vLLM
    const seqs: Array<Sequence> = []
    for (const pr of prompts) {
      const pt = pr.ids.length
      for (let j = 0; j < n; j++) {
        let out: number
        let fin: "length" | "stop"
        if (pr === prompts[0] && j === 0) {
          out = outputTokens
          fin = finish
        } else if (maxTokens !== undefined && maxTokens !== null) {
          if (pt + maxTokens > maxLen) return yield* contextError(pt, maxTokens)
          out = maxTokens
          fin = "length"
        } else {
          if (pt >= maxLen) return yield* contextError(pt, undefined)
          // each sample draws its own length (sampled sequences end at different EOS positions)
          const drawn = drawOutputLen(o.outputLen, rng)
          out = Math.min(drawn, maxLen - pt)
          fin = drawn > maxLen - pt ? "length" : "stop"
        }
        seqs.push({
          index: seqs.length, promptTokens: Math.max(1, pt), outputTokens: out, finish: fin,
          echo: pr.echoIds === undefined ? undefined : echoPieces(tok, pr.echoIds, Math.min(pr.echoIds.length, out)),
          // the n samples of a prompt share its token ids: the prefix cache shares their prefill
          content: pr === prompts[0] ? content : { kind: "tokens", ids: Int32Array.from(pr.ids) }
        })
      }
    }
    // usage counts each prompt once (vLLM: num_prompt_tokens over the prompts, not the samples)
    const many = { ...meta, promptTokens: prompts.reduce((a, x) => a + Math.max(1, x.ids.length), 0) }
    return { meta: many, stream, outputTokens, finish, echo, content, priority, lora, plan, prefix, seqs } satisfies Prepared
  })

interface PromptIn {
  readonly ids: ReadonlyArray<number>
  readonly echoIds: ReadonlyArray<number> | undefined
}

/** One completion prompt of a list (text or token ids) to token ids; 400 when empty, out of vocabulary or too long. */
const completionPrompt = (
  st: ServeState,
  p: string | ReadonlyArray<number>,
  tooLong: (chars: number) => boolean,
  contextError: (p: number, m: number | undefined) => Effect.Effect<never, Reject>,
  maxTokens: number | null | undefined,
  truncate: (ids: ReadonlyArray<number>) => ReadonlyArray<number>
) =>
  Effect.gen(function*() {
    const o = st.options
    let ids: ReadonlyArray<number>
    if (typeof p === "string") {
      if (tooLong(p.length)) return yield* contextError(Math.ceil(p.length / 64), maxTokens ?? undefined)
      ids = truncate(encodePrompt(o.tokenizer, p))
    } else {
      ids = truncate(p)
      // as vLLM: a token id outside the vocabulary is a bad request
      const vocab = st.config.model.vocab
      const bad = ids.find((x) => x < 0 || x >= vocab)
      if (bad !== undefined) return yield* reject(400, `Token id ${bad} is out of vocabulary (vocab_size ${vocab})`, "prompt")
    }
    if (ids.length === 0) return yield* reject(400, "The prompt is empty", "prompt")
    return { ids, echoIds: o.echo ? ids.slice(0, 4096) : undefined } satisfies PromptIn
  })

/** The last `k` prompt tokens (vLLM's truncate_prompt_tokens keeps the end; -1 = max_model_len). */
const truncated = (ids: ReadonlyArray<number>, k: number | undefined, maxLen: number): ReadonlyArray<number> =>
  k === undefined ? ids : ids.slice(-(k === -1 ? maxLen : k))

/** Draw an output length (tokens >= 1) from `spec`. */
export const drawOutputLen = (spec: OutputLenSpec, rng: Rng): number => {
  switch (spec.dist) {
    case "fixed":
      return spec.len
    case "uniform": {
      const lo = Math.max(1, Math.floor(spec.len * (1 - spec.rangeRatio)))
      return rng.int(lo, Math.max(lo, Math.ceil(spec.len * (1 + spec.rangeRatio))))
    }
    case "lognormal":
      return Math.max(1, Math.round(Math.exp(Math.log(spec.len) + spec.sigma * rng.normal())))
  }
}

/**
 * Submit the request and answer it. Token events go straight from the engine fiber to the Node
 * response (`sink`), with no Effect per token: at a few hundred streams the server writes tens of
 * thousands of chunks per second. The response Stream only writes what came before the headers
 * and then waits for the end; a disconnect interrupts it, which aborts the request.
 */
const respond = (st: ServeState, p: Prepared, request: HttpServerRequest.HttpServerRequest, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const engine = st.engine
    const finishOf = (last: boolean) => (last ? p.finish : null)
    const timing = st.options.timingFields === true
    // due_mono_ns is on process.hrtime (CLOCK_MONOTONIC, shared by processes on one machine)
    const monoOffset = timing ? (yield* Effect.clockWith((c) => Effect.sync(() => Number(c.unsafeCurrentTimeNanos()) - Number(process.hrtime.bigint())))) : 0
    const extraOf = (e: Extract<LiveEvent, { _tag: "Token" }>) =>
      timing ? { sim_time_ns: e.simNs, due_mono_ns: Math.round(engine.startNs + e.simNs / engine.timeScale - monoOffset), arrival_mono_ns: arrivalMono } : undefined
    // the same fields pre-rendered (`extraFields`' bytes for these integer fields), for the token writer
    const extraText = (e: Extract<LiveEvent, { _tag: "Token" }>) =>
      timing ? `,"sim_time_ns":${e.simNs},"due_mono_ns":${Math.round(engine.startNs + e.simNs / engine.timeScale - monoOffset)},"arrival_mono_ns":${arrivalMono}` : undefined
    const end = Deferred.unsafeMake<void>(FiberId.none)
    let arrivalMono = 0

    if (!p.stream) {
      const pieces: Array<string> = []
      let n = 0
      let failure: string | undefined
      const sink = (e: LiveEvent) => {
        if (e._tag === "Failed") failure = e.message
        else for (; n < e.n; n++) pieces.push(outputPiece(n, p.echo))
        if (e._tag === "Failed" || e.last) Deferred.unsafeDone(end, Exit.void)
      }
      const h = yield* engine.submit(p.meta.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content, p.priority, p.lora)
      ticket.release()
      st.metrics.labelFinish(h.req, p.plan?.finish ?? p.finish)
      // a client that goes away interrupts this fiber: abort the request in the engine
      yield* Deferred.await(end).pipe(Effect.ensuring(engine.abort(h)))
      if (failure !== undefined) return openAiError(500, failure)
      if (p.plan !== undefined) return HttpServerResponse.unsafeJson(planFull(p.meta, p.plan, p.prefix))
      return HttpServerResponse.unsafeJson(fullResponse(p.meta, pieces.join(""), n, p.finish))
    }

    const res = NodeHttpServerRequest.toServerResponse(request)
    const write = makeTokenWriter(p.meta)
    let produced = 0
    const lpIdx = p.plan === undefined ? undefined : logprobIndex(p.plan)
    let textOffset = p.prefix.length
    let started = false
    let early = ""
    const send = makeSseWriter(res)
    const out = (s: string) => {
      if (!started) early += s
      else send(s)
    }
    const sink = (e: LiveEvent) => {
      if (e._tag === "Failed") {
        out(errorChunk(e.message) + SSE_DONE)
        Deferred.unsafeDone(end, Exit.void)
        return
      }
      let s = ""
      if (e.n === 1 && p.meta.kind === "chat") s += roleChunk(p.meta)
      const plan = p.plan
      if (plan !== undefined) {
        const extra = extraOf(e)
        for (; produced < e.n; produced++) {
          const part = plan.parts[produced]!
          s += planChunk(p.meta, plan, lpIdx!, produced, e.last && produced + 1 === e.n, p.prefix, textOffset, extra)
          if (part.kind === "content") textOffset += part.text.length
        }
        if (e.last) {
          if (p.meta.includeUsage) s += usageChunk(p.meta, produced)
          s += SSE_DONE
        }
        out(s)
        if (e.last) Deferred.unsafeDone(end, Exit.void)
        return
      }
      const extra = extraText(e)
      // one chunk per token (a step yields one token per request, so this loop runs once)
      for (; produced < e.n; produced++) {
        const n = produced + 1
        const finish = n === e.n ? finishOf(e.last) : null
        s += write(n, outputPiece(produced, p.echo), finish, extra)
      }
      if (e.last) {
        if (p.meta.includeUsage) s += usageChunk(p.meta, produced)
        s += SSE_DONE
      }
      out(s)
      if (e.last) Deferred.unsafeDone(end, Exit.void)
    }
    const h = yield* engine.submit(p.meta.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content, p.priority, p.lora)
    ticket.release()
    st.metrics.labelFinish(h.req, p.plan?.finish ?? p.finish)
    arrivalMono = Math.round(h.arrivalWallNs - monoOffset)
    const body = Stream.execute(Effect.sync(() => {
      // the platform has called writeHead before running the body
      started = true
      if (early !== "") res.write(early)
      early = ""
    })).pipe(
      Stream.concat(Stream.execute(Deferred.await(end))),
      Stream.ensuring(engine.abort(h))
    )
    return HttpServerResponse.stream(body as Stream.Stream<Uint8Array>, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

/**
 * Answer a request with several sequences (n > 1 and/or a list of prompts): one engine request per
 * sequence, as vLLM fans a parallel-sampling request out to n child requests (their common prompt
 * shares its KV blocks through the prefix cache). Usage sums the sequences' output tokens. Streaming:
 * each choice's chunks carry its `index`; the usage chunk and [DONE] follow the last sequence.
 */
const respondMany = (st: ServeState, p: Prepared, request: HttpServerRequest.HttpServerRequest, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const engine = st.engine
    const end = Deferred.unsafeMake<void>(FiberId.none)
    const texts: Array<Array<string>> = p.seqs.map(() => [])
    let remaining = p.seqs.length
    let failure: string | undefined
    let started = false
    let early = ""
    const res = p.stream ? NodeHttpServerRequest.toServerResponse(request) : undefined
    const send = res === undefined ? undefined : makeSseWriter(res)
    const out = (s: string) => {
      if (!started) early += s
      else send?.(s)
    }
    const total = () => texts.reduce((a, t) => a + t.length, 0)
    const sinkOf = (q: Sequence) => (e: LiveEvent) => {
      if (failure !== undefined || remaining === 0) return
      if (e._tag === "Failed") {
        failure = e.message
        if (p.stream) out(errorChunk(e.message) + SSE_DONE)
        Deferred.unsafeDone(end, Exit.void)
        return
      }
      const t = texts[q.index]!
      let s = ""
      if (p.stream && t.length === 0 && p.meta.kind === "chat") s += roleChunk(p.meta, q.index)
      while (t.length < e.n) {
        const piece = outputPiece(t.length, q.echo)
        t.push(piece)
        if (p.stream) s += tokenChunk(p.meta, t.length, piece, e.last && t.length === e.n ? q.finish : null, undefined, q.index)
      }
      if (e.last && --remaining === 0) {
        if (p.stream) {
          if (p.meta.includeUsage) s += usageChunk(p.meta, total())
          s += SSE_DONE
        }
        Deferred.unsafeDone(end, Exit.void)
      }
      if (s !== "") out(s)
    }
    const arrived = yield* arrivedAt(request)
    const handles = yield* Effect.forEach(p.seqs, (q) => engine.submit(q.promptTokens, q.outputTokens, sinkOf(q), arrived, q.content, p.priority, p.lora))
    ticket.release()
    const abortAll = Effect.forEach(handles, (h) => engine.abort(h), { discard: true })
    if (!p.stream) {
      yield* Deferred.await(end).pipe(Effect.ensuring(abortAll))
      if (failure !== undefined) return openAiError(500, failure)
      const choices = p.seqs.map((q) => ({ index: q.index, text: texts[q.index]!.join(""), finish: q.finish }))
      return HttpServerResponse.unsafeJson(fullResponseMany(p.meta, choices, total()))
    }
    const body = Stream.execute(Effect.sync(() => {
      started = true
      if (early !== "") res!.write(early)
      early = ""
    })).pipe(Stream.concat(Stream.execute(Deferred.await(end))), Stream.ensuring(abortAll))
    return HttpServerResponse.stream(body as Stream.Stream<Uint8Array>, {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
    })
  })

const completionHandler = (kind: Kind) => ({ request }: { readonly request: HttpServerRequest.HttpServerRequest }) =>
  Effect.gen(function*() {
    const st = yield* ServeContext
    const rng = yield* rngFor(st)
    // the ticket counts the request against --max-waiting from its admission to its submission
    return yield* withTicket(st.admission, (ticket) =>
      Effect.gen(function*() {
        const prepared = yield* prepare(st, kind, request, rng, ticket)
        // a non-streaming request whose client goes away is aborted too
        return yield* (prepared.seqs.length > 1 ? respondMany(st, prepared, request, ticket) : respond(st, prepared, request, ticket))
      }))
  }).pipe(Effect.catchAll((e) => Effect.succeed(e instanceof Reject ? e.response : openAiError(500, String(e)))))

const rngs = new WeakMap<ServeState, Rng>()
/** The server's output-length Rng (one per server, seeded from the config seed). */
export const rngFor = (st: ServeState) =>
  Effect.sync(() => {
    let r = rngs.get(st)
    if (r === undefined) {
      r = new Rng(st.config.seed + 7919)
      rngs.set(st, r)
    }
    return r
  })

export const OpenAiLive = HttpApiBuilder.group(ServeApi, "openai", (handlers) =>
  handlers
    .handleRaw("completions", completionHandler("completion"))
    .handleRaw("chatCompletions", completionHandler("chat"))
    .handleRaw("listModels", ({ request }) =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        yield* checkAuth(st, request)
        const created = Math.floor((yield* Clock.currentTimeMillis) / 1000)
        return HttpServerResponse.unsafeJson({ object: "list", data: modelCards(st, created) })
      }).pipe(Effect.catchAll((e) => Effect.succeed(e.response))))
)


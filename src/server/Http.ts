/**
 * The handlers of `serve` and the server layer. Every completion request becomes an arrival in the
 * live engine (LiveEngine.ts); its tokens are written when the engine produces them.
 *
 * Errors use OpenAI's nested body `{"error": {message, type, param, code}}` with vLLM's `type`
 * names and the HTTP status as `code`: bad JSON / field 400 (BadRequestError), unknown model 404
 * (NotFoundError), prompt + max tokens over max_model_len 400 with vLLM's "maximum context
 * length" wording, queue full 503 (or 429 with --queue-full-status 429) with `retry-after`,
 * bad API key 401. After streaming began an error is a `data: {"error": ...}` chunk then [DONE].
 * A client that disconnects aborts its request (the engine frees its KV blocks).
 */
import type { RouterPolicy, RouterSpec } from "../cluster/RouterSpec.js"
import { HttpApiBuilder, HttpApiSwagger, HttpApp, HttpMiddleware, HttpServer, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Clock, Context, Deferred, Effect, Exit, FiberId, Layer, ParseResult, Schema, Stream } from "effect"
import { createServer, type IncomingMessage } from "node:http"
import { ConfigService, type SimConfig } from "../config/ConfigService.js"
import { MemoryService } from "../memory/MemoryService.js"
import type { NoKvMemory } from "../domain/errors.js"
import type { PerfModelService } from "../perf/PerfModelService.js"
import type { SchedulerService } from "../scheduler/SchedulerService.js"
import { simulationLayer } from "../layers.js"
import { combineObservers, type EngineObserver } from "../engine/EngineObserver.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import type { PromptContent } from "../memory/blockHash.js"
import { Rng } from "../workload/Rng.js"
import type { OutputLenSpec } from "./OutputLen.js"
export { defaultOutputLen, type OutputLenSpec } from "./OutputLen.js"
import { ChatRequest, CompletionRequest, ServeApi } from "./Api.js"
import { type LiveEngine, type LiveEvent, makeLiveEngine } from "./LiveEngine.js"
import { makeServerMetrics, type ServerMetrics } from "./Metrics.js"
import { errorChunk, fullResponse, type Kind, makeTokenWriter, type ResponseMeta, roleChunk, SSE_DONE, tokenChunk, usageChunk } from "./Sse.js"
import { type ChatMessage, chatTokenIds, echoPieces, outputPiece, type TextTokenizer } from "./Tokenizer.js"

export const SERVER_VERSION = "0.1.0"


export interface ServeOptions {
  /** Name clients send as `model` (default: the model id, or the --model path). */
  readonly servedModelName: string
  readonly timeScale: number
  /** Waiting requests at which new ones are refused (Infinity = never). */
  readonly maxWaiting: number
  readonly queueFullStatus: 429 | 503
  readonly apiKey?: string | undefined
  readonly outputLen: OutputLenSpec
  /** Answer with the prompt's tokens in a loop instead of filler text. */
  readonly echo: boolean
  readonly tokenizer: TextTokenizer
  /** Add `sim_time_ns` and `due_mono_ns` to every token chunk (benchmarks and tests). */
  readonly timingFields?: boolean
  readonly router?: RouterPolicy | RouterSpec
  /** Extra engine observer (tests). */
  readonly observer?: EngineObserver
}


/** The running server's state: engine, metrics, options. */
export interface ServeState {
  readonly engine: LiveEngine
  readonly metrics: ServerMetrics
  readonly options: ServeOptions
  readonly config: SimConfig
}
export class ServeContext extends Context.Tag("llmservingsim/ServeContext")<ServeContext, ServeState>() {}

/** Build the live engine and metrics for `options` (scoped: the engine fiber stops with the scope). */
export const serveContextLayer = (options: ServeOptions) =>
  Layer.scoped(
    ServeContext,
    Effect.gen(function*() {
      const cfg = yield* ConfigService
      const memory = yield* MemoryService
      let engineRef: LiveEngine | undefined
      // the metrics read the engine's load at scrape time; the engine feeds the metrics' observer
      const loadOf = () => engineRef?.load() ?? { waiting: 0, running: 0, kvUsed: 0, kvTotal: 0, prefixQueries: 0, prefixHits: 0 }
      const metrics = makeServerMetrics(options.servedModelName, loadOf, { blockSize: cfg.engine.blockSize, numGpuBlocks: memory.capacity.numBlocks, enablePrefixCaching: cfg.engine.enablePrefixCaching })
      const observer = options.observer === undefined ? metrics.observer : combineObservers(metrics.observer, options.observer)
      const engine = yield* makeLiveEngine({ timeScale: options.timeScale, router: options.router ?? "round-robin", observer })
      engineRef = engine
      return { engine, metrics, options, config: cfg } satisfies ServeState
    })
  )

// ---------------------------------------------------------------------------------------------
// Errors

/** An OpenAI-format error response. */
export const openAiError = (status: number, message: string, param: string | null = null, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(
    { error: { message, type: errorType(status), param, code: status } },
    { status, headers }
  )

/**
 * Unknown routes and bodies the platform cannot even parse (e.g. JSON nested too deeply) would
 * answer with an empty 404/500; clients expect OpenAI's error body, so give them one.
 */
const withOpenAiFallbacks = <E, R>(app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  // a pre-response handler sees every response, including those the platform makes from errors
  HttpApp.withPreResponseHandler(app, (req, res) =>
    Effect.succeed(
      res.body._tag !== "Empty" ? res
        : res.status === 404 ? openAiError(404, `no route ${req.method} ${req.url}`)
        : res.status >= 500 ? openAiError(400, "the request could not be parsed")
        : res
    ))

const errorType = (status: number): string =>
  status === 400 ? "BadRequestError" : status === 401 ? "AuthenticationError" : status === 404 ? "NotFoundError" :
  status === 429 ? "RateLimitError" : status === 503 ? "ServiceUnavailableError" : "InternalServerError"

class Reject {
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}
const reject = (status: number, message: string, param: string | null = null, headers: Record<string, string> = {}) =>
  Effect.fail(new Reject(openAiError(status, message, param, headers)))

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
}

const contentText = (c: (typeof ChatRequest.Type)["messages"][number]["content"]): string =>
  c === undefined || c === null ? "" : typeof c === "string" ? c : c.map((p) => (p.type === "text" && p.text !== undefined ? p.text : "")).join("")

const checkAuth = (st: ServeState, request: HttpServerRequest.HttpServerRequest) => {
  const key = st.options.apiKey
  if (key === undefined) return Effect.void
  const h = request.headers["authorization"] ?? ""
  return h === `Bearer ${key}` ? Effect.void : reject(401, "Unauthorized: a valid API key is required (Authorization: Bearer <key>)")
}

const decodeBody = <A, I>(schema: Schema.Schema<A, I>, body: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "ignore" })(body).pipe(
    Effect.catchAll((e) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
      const where = issue === undefined || issue.path.length === 0 ? "body" : issue.path.join(".")
      return reject(400, `Invalid request: ${where}: ${issue?.message ?? "malformed"}`, issue === undefined || issue.path.length === 0 ? null : String(issue.path[0]))
    })
  )

let idCounter = 0

const prepare = (st: ServeState, kind: Kind, request: HttpServerRequest.HttpServerRequest, rng: Rng) =>
  Effect.gen(function*() {
    const o = st.options
    yield* checkAuth(st, request)
    const l = st.engine.load()
    if (l.waiting >= o.maxWaiting) {
      yield* reject(o.queueFullStatus, `The server is overloaded: ${l.waiting} requests waiting (--max-waiting ${o.maxWaiting}); retry later`, null, { "retry-after": "1" })
    }
    const text = yield* request.text.pipe(Effect.catchAll(() => reject(400, "Could not read the request body")))
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (e) {
      return yield* reject(400, `Invalid JSON body: ${(e as Error).message}`)
    }
    const maxLen = st.config.engine.maxModelLen
    const tok = o.tokenizer
    let promptTokens: number
    let promptIds: ReadonlyArray<number>
    let echoIds: ReadonlyArray<number> | undefined
    let req: { model?: string | undefined; stream?: boolean | null | undefined; stream_options?: (typeof ChatRequest.Type)["stream_options"]; max_tokens?: number | null | undefined; n?: number | null | undefined }
    let maxTokens: number | null | undefined
    // Prompts longer than 64 characters per allowed token cannot fit: refuse them without tokenizing.
    const tooLong = (chars: number) => chars > 64 * maxLen
    const contextError = (p: number, m: number | undefined) =>
      reject(400, `This model's maximum context length is ${maxLen} tokens. However, you requested ${m === undefined ? p : p + m} tokens (${p} in the ${kind === "chat" ? "messages" : "prompt"}, ${m ?? 0} in the completion). Please reduce the length of the ${kind === "chat" ? "messages" : "prompt"} or completion.`, kind === "chat" ? "messages" : "prompt")
    if (kind === "chat") {
      const c = yield* decodeBody(ChatRequest, raw)
      req = c
      maxTokens = c.max_completion_tokens ?? c.max_tokens
      const msgs: Array<ChatMessage> = c.messages.map((m) => ({ role: m.role, content: contentText(m.content) }))
      const chars = msgs.reduce((s, m) => s + m.content.length, 0)
      if (tooLong(chars)) return yield* contextError(Math.ceil(chars / 64), maxTokens ?? undefined)
      promptIds = chatTokenIds(tok, msgs)
      promptTokens = Math.max(1, promptIds.length)
      if (o.echo) echoIds = tok.encode(msgs[msgs.length - 1]!.content).slice(0, 4096)
    } else {
      const c = yield* decodeBody(CompletionRequest, raw)
      req = c
      maxTokens = c.max_tokens
      let p = c.prompt
      if (Array.isArray(p) && p.length > 0 && (typeof p[0] === "string" || Array.isArray(p[0]))) {
        if (p.length > 1) return yield* reject(400, "Batched prompts (a list of several prompts) are not supported by the simulator; send one prompt per request", "prompt")
        p = p[0] as string | ReadonlyArray<number>
      }
      if (typeof p === "string") {
        if (tooLong(p.length)) return yield* contextError(Math.ceil(p.length / 64), maxTokens ?? undefined)
        const ids = tok.encode(p)
        promptIds = ids
        promptTokens = ids.length
        if (o.echo) echoIds = ids.slice(0, 4096)
      } else {
        const ids = p as ReadonlyArray<number>
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
    if (req.model !== undefined && req.model !== o.servedModelName && req.model !== (st.config.model.path ?? st.config.model.id)) {
      return yield* reject(404, `The model \`${req.model}\` does not exist.`, "model")
    }
    if (req.n !== undefined && req.n !== null && req.n !== 1) return yield* reject(400, "n > 1 is not supported by the simulator", "n")
    let outputTokens: number
    let finish: "length" | "stop"
    if (maxTokens !== undefined && maxTokens !== null) {
      if (maxTokens < 1) return yield* reject(400, `max_tokens must be at least 1, got ${maxTokens}.`, kind === "chat" ? "max_completion_tokens" : "max_tokens")
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
    return { meta, stream, outputTokens, finish, echo, content } satisfies Prepared
  })

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

// ---------------------------------------------------------------------------------------------
// Responses

const ARRIVED = Symbol.for("llmservingsim/arrivedHrNs")

/**
 * A Node HTTP server that stamps every request with process.hrtime when its headers are parsed,
 * before the HTTP stack's own work, so the simulated arrival is the socket arrival.
 */
export const stampingServer = () => {
  const server = createServer()
  server.prependListener("request", (req: IncomingMessage) => {
    ;(req as unknown as Record<symbol, bigint>)[ARRIVED] = process.hrtime.bigint()
  })
  return server
}

/** The request's arrival on the Effect Clock (ns), when the server stamped it. */
const arrivedAt = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.clockWith((c) =>
    Effect.sync(() => {
      let stamp: bigint | undefined
      try {
        stamp = (NodeHttpServerRequest.toIncomingMessage(request) as unknown as Record<symbol, bigint | undefined>)[ARRIVED]
      } catch {
        stamp = undefined
      }
      if (stamp === undefined) return undefined
      const elapsed = Number(process.hrtime.bigint() - stamp)
      return Number(c.unsafeCurrentTimeNanos()) - Math.max(0, elapsed)
    })
  )

/**
 * Submit the request and answer it. Token events go straight from the engine fiber to the Node
 * response (`sink`), with no Effect per token: at a few hundred streams the server writes tens of
 * thousands of chunks per second. The response Stream only writes what came before the headers
 * and then waits for the end; a disconnect interrupts it, which aborts the request.
 */
const respond = (st: ServeState, p: Prepared, request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const engine = st.engine
    const finishOf = (last: boolean) => (last ? p.finish : null)
    const timing = st.options.timingFields === true
    // due_mono_ns is on process.hrtime (CLOCK_MONOTONIC, shared by processes on one machine)
    const monoOffset = timing ? (yield* Effect.clockWith((c) => Effect.sync(() => Number(c.unsafeCurrentTimeNanos()) - Number(process.hrtime.bigint())))) : 0
    const extraOf = (e: Extract<LiveEvent, { _tag: "Token" }>) =>
      timing ? { sim_time_ns: e.simNs, due_mono_ns: Math.round(engine.startNs + e.simNs / engine.timeScale - monoOffset), arrival_mono_ns: arrivalMono } : undefined
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
      const h = yield* engine.submit(p.meta.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content)
      // a client that goes away interrupts this fiber: abort the request in the engine
      yield* Deferred.await(end).pipe(Effect.ensuring(engine.abort(h)))
      if (failure !== undefined) return openAiError(500, failure)
      return HttpServerResponse.unsafeJson(fullResponse(p.meta, pieces.join(""), n, p.finish))
    }

    const res = NodeHttpServerRequest.toServerResponse(request)
    const write = makeTokenWriter(p.meta)
    let produced = 0
    let started = false
    let early = ""
    const out = (s: string) => {
      if (!started) early += s
      else if (!res.writableEnded && !res.destroyed) res.write(s)
    }
    const sink = (e: LiveEvent) => {
      if (e._tag === "Failed") {
        out(errorChunk(e.message) + SSE_DONE)
        Deferred.unsafeDone(end, Exit.void)
        return
      }
      let s = ""
      if (e.n === 1 && p.meta.kind === "chat") s += roleChunk(p.meta)
      const extra = extraOf(e)
      // one chunk per token (a step yields one token per request, so this loop runs once)
      for (; produced < e.n; produced++) {
        const n = produced + 1
        const finish = n === e.n ? finishOf(e.last) : null
        s += extra === undefined ? write(n, outputPiece(produced, p.echo), finish) : tokenChunk(p.meta, n, outputPiece(produced, p.echo), finish, extra)
      }
      if (e.last) {
        if (p.meta.includeUsage) s += usageChunk(p.meta, produced)
        s += SSE_DONE
      }
      out(s)
      if (e.last) Deferred.unsafeDone(end, Exit.void)
    }
    const h = yield* engine.submit(p.meta.promptTokens, p.outputTokens, sink, yield* arrivedAt(request), p.content)
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

const completionHandler = (kind: Kind) => ({ request }: { readonly request: HttpServerRequest.HttpServerRequest }) =>
  Effect.gen(function*() {
    const st = yield* ServeContext
    const rng = yield* rngFor(st)
    const prepared = yield* prepare(st, kind, request, rng)
    // a non-streaming request whose client goes away is aborted too
    const h = yield* respond(st, prepared, request)
    return h
  }).pipe(Effect.catchAll((e) => Effect.succeed(e instanceof Reject ? e.response : openAiError(500, String(e)))))

const rngs = new WeakMap<ServeState, Rng>()
const rngFor = (st: ServeState) =>
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
        return HttpServerResponse.unsafeJson({
          object: "list",
          data: [{
            id: st.options.servedModelName, object: "model", created, owned_by: "vllm", root: st.config.model.path ?? st.config.model.id, parent: null,
            max_model_len: st.config.engine.maxModelLen, permission: []
          }]
        })
      }).pipe(Effect.catchAll((e) => Effect.succeed(e.response))))
)

export const ServerLive = HttpApiBuilder.group(ServeApi, "server", (handlers) =>
  handlers
    .handleRaw("health", () => Effect.succeed(HttpServerResponse.empty({ status: 200 })))
    .handle("version", () => Effect.succeed({ version: SERVER_VERSION }))
    .handleRaw("metrics", () =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        const text = yield* Effect.promise(() => st.metrics.text())
        return HttpServerResponse.text(text, { contentType: st.metrics.registry.contentType })
      }))
    .handle("status", () =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        const l = st.engine.load()
        const blockBytes = kvBlockBytes(st.config)
        return {
          pending: l.pending,
          waiting: l.waiting,
          running: l.running,
          completed: l.completed,
          kv_blocks_used: l.kvUsed,
          kv_blocks_total: l.kvTotal,
          kv_memory_used_bytes: l.kvUsed * blockBytes,
          kv_memory_total_bytes: l.kvTotal * blockBytes,
          sim_time_s: (yield* st.engine.simNow) / 1e9,
          time_scale: st.engine.timeScale,
          delivery_lag_mean_ms: l.deliveryLagMeanMs,
          delivery_lag_max_ms: l.deliveryLagMaxMs
        }
      }))
)

/** Bytes of one KV block: 2 x layers x kv heads x head dim x dtype bytes x block size, per TP shard. */
const kvBlockBytes = (cfg: SimConfig): number => {
  const m = cfg.model
  return (2 * m.layers * m.kvHeads * m.headDim * cfg.engine.kvCacheDtypeBytes * cfg.engine.blockSize) / Math.min(cfg.engine.tensorParallelSize, m.kvHeads)
}

export const ApiLive = HttpApiBuilder.api(ServeApi).pipe(Layer.provide(OpenAiLive), Layer.provide(ServerLive))

/** The engine services a server runs on: by default the standard wiring of `simulate`. */
export type EngineServices = Layer.Layer<ConfigService | PerfModelService | MemoryService | SchedulerService, NoKvMemory>

/**
 * Everything but the HTTP server itself: the API over the live engine built from `services`
 * (the same layers as `simulate`, so offline and live runs agree; tests pass their own).
 */
export const appLayer = (config: SimConfig, options: ServeOptions, services: EngineServices = simulationLayer(config, TraceWriter.none)) =>
  ApiLive.pipe(
    Layer.provideMerge(serveContextLayer(options)),
    Layer.provide(services)
  )

/** The HTTP app (no logger middleware: it would cost per request) with /docs and /openapi.json. */
export const httpLayer = (config: SimConfig, options: ServeOptions, services?: EngineServices) =>
  HttpApiBuilder.serve((app) => HttpMiddleware.cors()(withOpenAiFallbacks(app))).pipe(
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi()),
    Layer.provide(appLayer(config, options, services))
  )

/** The server listening on host:port (Layer.launch it). */
export const serverLayer = (config: SimConfig, options: ServeOptions, host: string, port: number) =>
  httpLayer(config, options).pipe(
    HttpServer.withLogAddress,
    Layer.provide(NodeHttpServer.layer(stampingServer, { port, host }))
  )

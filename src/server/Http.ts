/**
 * The server layer of `serve`: the ServeApi contract (Api.ts) implemented by one route file per API
 * family (routes/), over the shared ServeContext (ServeContext.ts), served by @effect/platform-node.
 *
 * Errors use OpenAI's nested body (errors.ts) with vLLM's status codes: bad JSON / field 400,
 * unknown model 404, prompt + max tokens over max_model_len 400 with vLLM's "maximum context
 * length" wording, queue full 503 (or 429 with --queue-full-status 429) with `retry-after`, bad
 * API key 401.
 */
import { HttpApiBuilder, HttpApiSwagger, HttpMiddleware, HttpServer } from "@effect/platform"
import { Layer } from "effect"
import type { ConfigService, SimConfig } from "../config/ConfigService.js"
import type { NoKvMemory } from "../domain/errors.js"
import { simulationLayer } from "../layers.js"
import type { MemoryService } from "../memory/MemoryService.js"
import type { PerfModelService } from "../perf/PerfModelService.js"
import type { SchedulerService } from "../scheduler/SchedulerService.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { ServeApi } from "./Api.js"
import { methodsByPath, withOpenAiFallbacks } from "./errors.js"
import { listenLayer } from "./listen.js"
import { OpenAiLive } from "./routes/completions.js"
import { ResponsesLive } from "./routes/responses.js"
import { ServerLive } from "./routes/server.js"
import { TokenizeLive } from "./routes/tokenize.js"
import { type ServeOptions, serveContextLayer } from "./ServeContext.js"
import { slicedRequests } from "./SlicedScheduler.js"
export { stampingServer } from "./arrival.js"
export { openAiError } from "./errors.js"
export { defaultOutputLen, type OutputLenSpec } from "./OutputLen.js"
export { drawOutputLen } from "./routes/completions.js"
export { SERVER_VERSION, ServeContext, type ServeOptions, type ServeState } from "./ServeContext.js"

export const ApiLive = HttpApiBuilder.api(ServeApi).pipe(Layer.provide(OpenAiLive), Layer.provide(ResponsesLive), Layer.provide(TokenizeLive), Layer.provide(ServerLive))

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

const ROUTE_METHODS = methodsByPath(ServeApi)

/** Wall ms of request work (parsing, routing, decoding, response set-up) per event-loop turn. */
export const REQUEST_SLICE_MS = 4

/**
 * The HTTP app (no logger middleware: it would cost per request) with /docs and /openapi.json.
 * Request fibers run in time slices (SlicedScheduler.ts) so that the engine fiber's token
 * deliveries are not held behind a burst of arrivals.
 */
export const httpLayer = (config: SimConfig, options: ServeOptions, services?: EngineServices) =>
  // the middleware (hence the scheduler) is made once per server; it wraps the response writing too
  HttpApiBuilder.serve((app) => slicedRequests(REQUEST_SLICE_MS)(HttpMiddleware.cors()(withOpenAiFallbacks(app, ROUTE_METHODS)))).pipe(
    // no request spans: nothing reads them, and each cost a URL parse, a header copy and getpeername
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
    Layer.provide(HttpApiBuilder.middlewareOpenApi()),
    Layer.provide(appLayer(config, options, services))
  )

/** The server listening on host:port (Layer.launch it); its shutdown drops stalled clients after a grace (listen.ts). */
export const serverLayer = (config: SimConfig, options: ServeOptions, host: string, port: number) =>
  httpLayer(config, options).pipe(
    HttpServer.withLogAddress,
    Layer.provide(listenLayer(host, port))
  )

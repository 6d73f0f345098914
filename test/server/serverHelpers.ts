/** Shared wiring of the server tests: the HTTP app over a constant-step engine (test/helpers.ts config). */
import OpenAI from "openai"
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import { ConfigService, type SimConfig } from "../../src/config/ConfigService.js"
import { MemoryService } from "../../src/memory/MemoryService.js"
import { PerfModelService } from "../../src/perf/PerfModelService.js"
import { SchedulerService } from "../../src/scheduler/SchedulerService.js"
import { defaultOutputLen, httpLayer, type ServeOptions } from "../../src/server/Http.js"
import { makeTokenizer } from "../../src/server/Tokenizer.js"
import { testConfig } from "../helpers.js"

export const MODEL = "sim-test"

/** A config with max_model_len 2048 and `numBlocks` KV blocks of 16 tokens. */
export const serverConfig = (): SimConfig => testConfig({ maxModelLen: 2048 })

export const engineServices = (cfg: SimConfig, stepNs: number, numBlocks = 10_000) =>
  Layer.mergeAll(
    ConfigService.make(cfg),
    PerfModelService.constant(stepNs),
    MemoryService.fixed(numBlocks, cfg.engine.blockSize, cfg.engine.enablePrefixCaching),
    SchedulerService.vllmV1With(cfg.engine)
  )

export const serveOptions = (cfg: SimConfig, over: Partial<ServeOptions> = {}) =>
  Effect.map(makeTokenizer(cfg.model).pipe(Effect.orDie), (tokenizer): ServeOptions => ({
    servedModelName: MODEL,
    timeScale: 1,
    maxWaiting: Infinity,
    queueFullStatus: 503,
    outputLen: defaultOutputLen,
    echo: false,
    tokenizer,
    ...over
  }))

/** The server on a random port of 127.0.0.1 (scoped); returns its base URL. */
export const startServer = (cfg: SimConfig, options: ServeOptions, stepNs: number, numBlocks?: number) =>
  Effect.gen(function*() {
    const layer = httpLayer(cfg, options, engineServices(cfg, stepNs, numBlocks)).pipe(
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
    const ctx = yield* Layer.build(layer)
    const server = ctx.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer
    const addr = server.address as HttpServer.TcpAddress
    return `http://127.0.0.1:${addr.port}`
  })

/** Run `f` with an `openai` SDK client on a fresh server (time scale 1000, 10 ms steps), closed after. */
export const withClient = <A>(f: (client: OpenAI, base: string) => Promise<A>) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), 10_000_000)
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-test", maxRetries: 0 })
    return yield* Effect.promise(() => f(client, base))
  }).pipe(Effect.scoped)

export { HttpApiBuilder }

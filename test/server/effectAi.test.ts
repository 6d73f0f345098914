/**
 * @effect/ai + @effect/ai-openai against the simulated server: LanguageModel.generateText and
 * streamText (they call /v1/responses) and the generated client's createChatCompletion (which
 * decodes `choices[].message.refusal` and fails when it is absent).
 */
import { FetchHttpClient } from "@effect/platform"
import { LanguageModel } from "@effect/ai"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Redacted, Stream } from "effect"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const withAi = <A, E>(f: Effect.Effect<A, E, LanguageModel.LanguageModel | OpenAiClient.OpenAiClient>) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), 10_000_000)
    const client = OpenAiClient.layer({ apiUrl: `${base}/v1`, apiKey: Redacted.make("sk-test") }).pipe(Layer.provide(FetchHttpClient.layer))
    const lm = OpenAiLanguageModel.layer({ model: MODEL, config: { max_output_tokens: 6 } }).pipe(Layer.provideMerge(client))
    return yield* f.pipe(Effect.provide(lm))
  }).pipe(Effect.scoped)

describe("@effect/ai-openai", () => {
  it.live("LanguageModel.generateText over /v1/responses", () =>
    withAi(Effect.gen(function*() {
      const r = yield* LanguageModel.generateText({ prompt: "Hello there" })
      expect(r.text).toBe(" The simulated server is producing this")
      expect(r.usage.outputTokens).toBe(6)
      expect(r.usage.inputTokens).toBeGreaterThan(1)
      expect(r.finishReason).toBe("length")
    })))

  it.live("LanguageModel.streamText over /v1/responses", () =>
    withAi(Effect.gen(function*() {
      const parts = Chunk.toReadonlyArray(yield* Stream.runCollect(LanguageModel.streamText({ prompt: "Hi" })))
      const deltas = parts.filter((p) => p.type === "text-delta")
      expect(deltas.length).toBe(6)
      expect(deltas.map((p) => (p as { delta: string }).delta).join("")).toBe(" The simulated server is producing this")
      const finish = parts.find((p) => p.type === "finish") as { usage: { outputTokens: number } } | undefined
      expect(finish?.usage.outputTokens).toBe(6)
    })))

  it.live("the generated client's createChatCompletion decodes the chat answer (refusal: null)", () =>
    withAi(Effect.gen(function*() {
      const c = yield* OpenAiClient.OpenAiClient
      const r = yield* c.client.createChatCompletion({ model: MODEL, messages: [{ role: "user", content: "Hello" }], max_completion_tokens: 3 })
      expect(r.choices[0]!.message.refusal).toBeNull()
      expect(r.choices[0]!.message.content).toBe(" The simulated server")
      expect(r.usage?.completion_tokens).toBe(3)
    })))
})

/** The official `openai` SDK against the simulated server (real sockets, real time, time scale 1000). */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import { serveOptions, serverConfig, startServer, MODEL } from "./serverHelpers.js"

const withClient = <A>(f: (client: OpenAI, base: string) => Promise<A>, over = {}) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000, ...over }), 10_000_000)
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-test", maxRetries: 0 })
    return yield* Effect.promise(() => f(client, base))
  }).pipe(Effect.scoped)

describe("openai SDK", () => {
  it.live("models.list() returns the served model with root and max_model_len", () =>
    withClient(async (client) => {
      const page = await client.models.list()
      const m = page.data[0] as unknown as Record<string, unknown>
      expect(page.data.length).toBe(1)
      expect(m.id).toBe(MODEL)
      expect(m.root).toBe("test/tiny")
      expect(m.max_model_len).toBe(2048)
    }))

  it.live("non-streaming chat and completions give exactly max tokens", () =>
    withClient(async (client) => {
      const chat = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hello" }], max_completion_tokens: 7 })
      expect(chat.object).toBe("chat.completion")
      expect(chat.choices[0]!.message.role).toBe("assistant")
      expect(chat.choices[0]!.finish_reason).toBe("length")
      expect(chat.usage!.completion_tokens).toBe(7)
      expect(chat.usage!.prompt_tokens).toBeGreaterThan(1)
      const cmpl = await client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4, 5], max_tokens: 4 })
      expect(cmpl.object).toBe("text_completion")
      expect(cmpl.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 })
      expect(cmpl.choices[0]!.text).toBe(" The simulated server is")
    }))

  it.live("streaming chat: role chunk, one token per chunk, finish on the last, usage chunk", () =>
    withClient(async (client) => {
      const stream = await client.chat.completions.create({
        model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 5, stream: true, stream_options: { include_usage: true }
      })
      const chunks = []
      for await (const c of stream) chunks.push(c)
      expect(chunks.length).toBe(1 + 5 + 1)
      expect(chunks[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" })
      const tokens = chunks.slice(1, 6)
      expect(tokens.map((c) => c.choices[0]!.finish_reason)).toEqual([null, null, null, null, "length"])
      expect(tokens.every((c) => typeof c.choices[0]!.delta.content === "string" && c.choices[0]!.delta.content!.length > 0)).toBe(true)
      expect(chunks[6]!.choices).toEqual([])
      expect(chunks[6]!.usage!.completion_tokens).toBe(5)
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    }))

  it.live("streaming completions without include_usage: no usage chunk", () =>
    withClient(async (client) => {
      const stream = await client.completions.create({ model: MODEL, prompt: "Say something", max_tokens: 3, stream: true })
      const chunks = []
      for await (const c of stream) chunks.push(c)
      expect(chunks.length).toBe(3)
      expect(chunks.map((c) => c.choices[0]!.finish_reason)).toEqual([null, null, "length"])
    }))

  it.live("error classes: 404 unknown model, 400 context length, 400 bad field", () =>
    withClient(async (client) => {
      const e404 = await client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }).catch((e) => e)
      expect(e404).toBeInstanceOf(OpenAI.NotFoundError)
      expect(e404.message).toContain("The model `nope` does not exist.")
      const e400 = await client.completions.create({ model: MODEL, prompt: "hi", max_tokens: 5000 }).catch((e) => e)
      expect(e400).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e400.message).toContain("maximum context length is 2048 tokens")
      const bad = await client.chat.completions.create({ model: MODEL, messages: "hello" as never }).catch((e) => e)
      expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    }))

  it.live("api key: 401 without the right bearer token", () =>
    withClient(async (client, base) => {
      const e = await client.models.list().catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.AuthenticationError)
      const ok = new OpenAI({ baseURL: `${base}/v1`, apiKey: "secret", maxRetries: 0 })
      expect((await ok.models.list()).data[0]!.id).toBe(MODEL)
    }, { apiKey: "secret" }))
})

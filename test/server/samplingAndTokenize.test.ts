/** vLLM's sampling-parameter 400s (SamplingParams._verify_args messages) and /tokenize, /detokenize. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { resolveConfig } from "../../src/config/resolve.js"
import type { ServeOptions } from "../../src/server/Http.js"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const withBase = <A>(f: (post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any }>, base: string) => Promise<A>, over: Partial<ServeOptions> = {}) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000, ...over }), 10_000_000)
    const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
      const r = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
      return { status: r.status, json: await r.json() }
    }
    return yield* Effect.promise(() => f(post, base))
  }).pipe(Effect.scoped)

const cases: ReadonlyArray<[Record<string, unknown>, string, string]> = [
  [{ stream_options: { include_usage: true } }, "stream_options", "Stream options can only be defined when `stream=True`."],
  [{ max_tokens: 3, min_tokens: 5 }, "min_tokens", "min_tokens must be less than or equal to max_tokens=3, got 5."],
  [{ min_tokens: -1 }, "min_tokens", "min_tokens must be greater than or equal to 0, got -1."],
  [{ top_p: 0 }, "top_p", "top_p must be in (0, 1], got 0."],
  [{ top_p: 1.5 }, "top_p", "top_p must be in (0, 1], got 1.5."],
  [{ temperature: -0.5 }, "temperature", "temperature must be non-negative, got -0.5."],
  [{ top_k: -2 }, "top_k", "top_k must be -1 (disable), or at least 1, got -2."],
  [{ top_k: 0 }, "top_k", "top_k must be -1 (disable), or at least 1, got 0."],
  [{ n: 0 }, "n", "n must be at least 1, got 0."],
  // OpenAI's and vLLM's limit
  [{ n: 129 }, "n", "n must be at most 128, got 129."],
  [{ presence_penalty: 2.5 }, "presence_penalty", "presence_penalty must be in [-2, 2], got 2.5."],
  [{ frequency_penalty: -3 }, "frequency_penalty", "frequency_penalty must be in [-2, 2], got -3."],
  [{ repetition_penalty: 0 }, "repetition_penalty", "repetition_penalty must be greater than zero, got 0."],
  [{ min_p: 1.5 }, "min_p", "min_p must be in [0, 1], got 1.5."],
  [{ max_tokens: 0 }, "max_tokens", "max_tokens must be at least 1, got 0."]
]

describe("sampling-parameter 400s", () => {
  it.live("each invalid field gets vLLM's message, on completions and chat", () =>
    withBase(async (post) => {
      for (const [fields, param, message] of cases) {
        const c = await post("/v1/completions", { model: MODEL, prompt: "hi", ...fields })
        expect([c.status, c.json.error.param, c.json.error.message]).toEqual([400, param, message])
        const ch = await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi" }], ...fields })
        expect([ch.status, ch.json.error.param, ch.json.error.message]).toEqual([400, param, message])
      }
      // the chat max-tokens field is named as the request gave it
      const mct = await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi" }], max_completion_tokens: 0 })
      expect([mct.status, mct.json.error.param, mct.json.error.message]).toEqual([400, "max_completion_tokens", "max_completion_tokens must be at least 1, got 0."])
      // valid edge values pass
      const ok = await post("/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 2, top_p: 1, top_k: -1, temperature: 0, presence_penalty: 2, min_tokens: 2, stream: false })
      expect(ok.status).toBe(200)
      const most = await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 1, n: 128 })
      expect([most.status, most.json.choices?.length]).toEqual([200, 128])
      // and it still serves after the refusals
      expect((await post("/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 1 })).status).toBe(200)
    }))
})

describe("/tokenize and /detokenize", () => {
  it.live("Llama 3: a text prompt counts its <|begin_of_text|>, in completions as in /tokenize (vLLM's add_special_tokens)", () =>
    Effect.gen(function*() {
      const cfg = { ...serverConfig(), model: (yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" })).model }
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), 10_000_000)
      const post = (path: string, body: unknown) => fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>)
      const t = yield* Effect.promise(() => post("/tokenize", { prompt: "Hello world" }))
      expect(t.tokens).toEqual([128000, 9906, 1917])
      const plain = yield* Effect.promise(() => post("/tokenize", { prompt: "Hello world", add_special_tokens: false }))
      expect(plain.tokens).toEqual([9906, 1917])
      const c = yield* Effect.promise(() => post("/v1/completions", { prompt: "Hello world", max_tokens: 1, echo: true }))
      expect(c.usage.prompt_tokens).toBe(3)
      // echo returns the prompt as given, not its special tokens
      expect(c.choices[0].text.startsWith("Hello world")).toBe(true)
    }).pipe(Effect.scoped))

  it.live("tokenize a prompt and messages; detokenize round-trips", () =>
    withBase(async (post) => {
      const t = await post("/tokenize", { model: MODEL, prompt: "Hello world" })
      expect(t.status).toBe(200)
      expect(t.json.count).toBe(t.json.tokens.length)
      expect(t.json.count).toBeGreaterThan(0)
      expect(t.json.max_model_len).toBe(2048)
      expect(t.json.token_strs).toBeNull()
      // the prompt's count is what a completion reports as prompt_tokens
      const c = await post("/v1/completions", { model: MODEL, prompt: "Hello world", max_tokens: 1 })
      expect(c.json.usage.prompt_tokens).toBe(t.json.count)
      const d = await post("/detokenize", { model: MODEL, tokens: t.json.tokens })
      expect(d).toEqual({ status: 200, json: { prompt: "Hello world" } })
      const m = await post("/tokenize", { model: MODEL, messages: [{ role: "user", content: "Hello world" }] })
      const ch = await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "Hello world" }], max_tokens: 1 })
      expect(m.json.count).toBe(ch.json.usage.prompt_tokens)
      const s = await post("/tokenize", { prompt: "Hello world", return_token_strs: true })
      expect(s.json.token_strs.join("")).toBe("Hello world")
    }))

  it.live("--api-key guards /v1 only (as vLLM): /tokenize, /detokenize, /health, /metrics answer without it", () =>
    withBase(async (post, base) => {
      const t = await post("/tokenize", { prompt: "Hello world" })
      expect(t.status).toBe(200)
      expect((await post("/detokenize", { tokens: t.json.tokens })).json).toEqual({ prompt: "Hello world" })
      expect((await fetch(`${base}/health`)).status).toBe(200)
      expect((await fetch(`${base}/metrics`)).status).toBe(200)
      // the /v1 routes need the key
      expect((await fetch(`${base}/v1/models`)).status).toBe(401)
      const c = await post("/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 1 })
      expect([c.status, c.json.error.type]).toEqual([401, "AuthenticationError"])
      expect((await post("/v1/chat/completions", { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 1 })).status).toBe(401)
      expect((await post("/v1/responses", { model: MODEL, input: "hi", max_output_tokens: 1 })).status).toBe(401)
      expect((await post("/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 1 }, { authorization: "Bearer secret" })).status).toBe(200)
    }, { apiKey: "secret" }))

  it.live("bad requests: 400 naming the field, unknown model 404", () =>
    withBase(async (post) => {
      expect((await post("/tokenize", {})).json.error.param).toBe("prompt")
      expect((await post("/tokenize", { prompt: "x", messages: [] })).status).toBe(400)
      expect((await post("/tokenize", { messages: [{ role: "user", content: "x" }], add_generation_prompt: false })).json.error.param).toBe("add_generation_prompt")
      expect((await post("/detokenize", { tokens: [-1] })).json.error.param).toBe("tokens")
      expect((await post("/detokenize", { tokens: "x" })).status).toBe(400)
      expect((await post("/tokenize", { model: "nope", prompt: "x" })).status).toBe(404)
    }))
})

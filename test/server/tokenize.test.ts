/** vLLM's /tokenize and /detokenize: shapes, agreement with the completions' prompt counts, errors. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const post = (base: string, path: string, body: unknown) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

describe("tokenize / detokenize", () => {
  it.live("round trip; counts equal the usage.prompt_tokens of completions and chat; errors", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const opts = yield* serveOptions(cfg, { timeScale: 100 })
      const base = yield* startServer(cfg, opts, 10_000_000)
      return yield* Effect.promise(async () => {
        const text = "The quick brown fox jumps over the lazy dog"
        const t = await (await post(base, "/tokenize", { model: MODEL, prompt: text, add_special_tokens: false, return_token_strs: true })).json() as { count: number; max_model_len: number; tokens: Array<number>; token_strs: Array<string> }
        expect(t.max_model_len).toBe(2048)
        expect(t.count).toBe(t.tokens.length)
        expect(t.tokens).toEqual([...opts.tokenizer.encode(text)])
        expect(t.token_strs.join("")).toBe(text)
        const c = await (await post(base, "/v1/completions", { model: MODEL, prompt: text, max_tokens: 1 })).json() as { usage: { prompt_tokens: number } }
        expect(c.usage.prompt_tokens).toBe(t.count)
        const d = await (await post(base, "/detokenize", { model: MODEL, tokens: t.tokens })).json() as { prompt: string }
        expect(d.prompt).toBe(text)

        const messages = [{ role: "system", content: "be brief" }, { role: "user", content: text }]
        const tm = await (await post(base, "/tokenize", { model: MODEL, messages })).json() as { count: number; token_strs: null }
        expect(tm.token_strs).toBeNull()
        const ch = await (await post(base, "/v1/chat/completions", { model: MODEL, messages, max_tokens: 1 })).json() as { usage: { prompt_tokens: number } }
        expect(ch.usage.prompt_tokens).toBe(tm.count)

        const errs: Array<[string, unknown, number, string]> = [
          ["/tokenize", {}, 400, "Either `prompt` or `messages` is required"],
          ["/tokenize", { prompt: "a", messages }, 400, "not both"],
          ["/tokenize", { messages, add_generation_prompt: false }, 400, "add_generation_prompt"],
          ["/tokenize", { model: "gpt-9", prompt: "a" }, 404, "does not exist"],
          ["/detokenize", { tokens: [1, -1] }, 400, "Token id -1 is out of vocabulary"],
          ["/detokenize", { tokens: "abc" }, 400, "tokens"]
        ]
        for (const [path, b, status, msg] of errs) {
          const res = await post(base, path, b)
          expect(res.status, JSON.stringify(b)).toBe(status)
          expect((await res.json() as { error: { message: string } }).error.message).toContain(msg)
        }
      })
    }).pipe(Effect.scoped))
})

describe("OpenAPI document", () => {
  it.live("lists /tokenize and /detokenize", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100 }), 10_000_000)
      return yield* Effect.promise(async () => {
        const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, unknown> }
        expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/tokenize", "/detokenize", "/v1/completions"]))
      })
    }).pipe(Effect.scoped))
})

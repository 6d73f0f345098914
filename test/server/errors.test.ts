/** Bad input, overload and early disconnects: the right OpenAI error, and the server keeps serving with consistent metrics. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const post = (base: string, path: string, body: string) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body })

const gauge = (metrics: string, name: string): number => {
  const line = metrics.split("\n").find((l) => l.startsWith(name + "{"))
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1))
}

const withServer = <A>(f: (base: string) => Promise<A>, over = {}, stepNs = 10_000_000) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100, ...over }), stepNs)
    return yield* Effect.promise(() => f(base))
  }).pipe(Effect.scoped)

describe("server errors", () => {
  it.live("malformed bodies, unknown fields, huge prompts, unknown models; still serving afterwards", () =>
    withServer(async (base) => {
      const cases: Array<[string, string, number, string]> = [
        ["/v1/chat/completions", "{not json", 400, "Invalid JSON body"],
        ["/v1/chat/completions", JSON.stringify({ model: MODEL }), 400, "messages"],
        ["/v1/chat/completions", JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: "ten" }), 400, "max_tokens"],
        ["/v1/completions", JSON.stringify({ model: MODEL, prompt: "a ".repeat(100_000), max_tokens: 5 }), 400, "maximum context length is 2048 tokens"],
        ["/v1/completions", JSON.stringify({ model: MODEL, prompt: new Array(3000).fill(7) }), 400, "maximum context length"],
        ["/v1/completions", JSON.stringify({ model: "gpt-9", prompt: "hi" }), 404, "The model `gpt-9` does not exist."],
        ["/v1/completions", JSON.stringify({ model: MODEL, prompt: [[1], []] }), 400, "The prompt is empty"],
        ["/v1/completions", JSON.stringify({ model: MODEL, prompt: [1, 2, -1] }), 400, "Token id -1 is out of vocabulary"],
        ["/v1/completions", JSON.stringify({ model: MODEL, prompt: [999999999] }), 400, "out of vocabulary"],
        // body errors name what was expected in words, every alternative of a union, no schema dump
        ["/v1/chat/completions", "[1,2]", 400, "body: Expected a JSON object (a chat completion request), actual [1,2]"],
        ["/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: 5 }] }), 400, "messages[0].content: Expected a string or a list of content parts {type, text}, actual 5"],
        ["/v1/chat/completions", JSON.stringify({ messages: [{ role: "user", content: "x" }], max_tokens: 1.5 }), 400, "max_tokens: Expected an integer, actual 1.5"],
        ["/v1/completions", JSON.stringify({ prompt: { a: 1 } }), 400, "prompt: Expected a string or a list of strings or a list of token ids or a list of token-id lists, actual {\"a\":1}"],
        ["/v1/responses", JSON.stringify({ input: 5 }), 400, "input: Expected a string or a list of input messages {role, content}, actual 5"]
      ]
      for (const [path, body, status, text] of cases) {
        const res = await post(base, path, body)
        expect(res.status, body.slice(0, 60)).toBe(status)
        const j = await res.json() as { error: { message: string; type: string; code: number } }
        expect(j.error.message).toContain(text)
        expect(j.error.message).not.toMatch(/Readonly|readonly/)
        expect(j.error.code).toBe(status)
      }
      // unknown fields are ignored
      const ok = await post(base, "/v1/completions", JSON.stringify({ model: MODEL, prompt: "hi", max_tokens: 2, best_of: 1, repetition_penalty: 1.0, logprobs: null, foo: { bar: 1 } }))
      expect(ok.status).toBe(200)
      expect(((await ok.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(2)
    }))

  it.live("unknown routes and unparseable bodies get OpenAI error bodies, not empty responses", () =>
    withServer(async (base) => {
      const missing = await fetch(`${base}/v1/embeddings`)
      expect(missing.status).toBe(404)
      expect(((await missing.json()) as { error: { message: string } }).error.message).toBe("no route GET /v1/embeddings")
      // a served path with the wrong method: 405 with Allow, as vLLM's FastAPI answers
      for (const [method, path, allow] of [["GET", "/v1/completions", "POST"], ["GET", "/v1/chat/completions?x=1", "POST"], ["POST", "/v1/models", "GET"], ["DELETE", "/metrics", "GET"]] as const) {
        const r = await fetch(`${base}${path}`, { method })
        expect(r.status, `${method} ${path}`).toBe(405)
        expect(r.headers.get("allow")).toBe(allow)
        const j = (await r.json()) as { error: { type: string; code: number; message: string } }
        expect(j.error).toMatchObject({ type: "MethodNotAllowedError", code: 405 })
        expect(j.error.message).toContain(`Method Not Allowed: ${method}`)
      }
      const deep = await post(base, "/v1/completions", `{"prompt":${"[".repeat(20_000)}${"]".repeat(20_000)},"max_tokens":2}`)
      expect(deep.status).toBe(400)
      expect(((await deep.json()) as { error: { type: string } }).error.type).toBe("BadRequestError")
      expect((await fetch(`${base}/health`)).status).toBe(200)
    }))

  it.live("queue full: 503 with retry-after", () =>
    withServer(async (base) => {
      const res = await post(base, "/v1/completions", JSON.stringify({ model: MODEL, prompt: "hi", max_tokens: 2 }))
      expect(res.status).toBe(503)
      expect(res.headers.get("retry-after")).toBe("1")
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("ServiceUnavailableError")
    }, { maxWaiting: 0 }))

  it.live("early disconnects abort their requests and free KV blocks; running/waiting return to 0", () =>
    withServer(async (base) => {
      const aborts: Array<Promise<void>> = []
      for (let i = 0; i < 5; i++) {
        const ac = new AbortController()
        aborts.push((async () => {
          const pending = fetch(`${base}/v1/chat/completions`, {
            method: "POST", headers: { "content-type": "application/json" }, signal: ac.signal,
            body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hello" }], max_tokens: 1000, stream: i % 2 === 0 })
          })
          if (i % 2 === 0) {
            // streaming: read the first chunk, then go away
            const res = await pending
            await res.body!.getReader().read()
          } else {
            // non-streaming: give up while waiting for the answer
            pending.catch(() => undefined)
            await new Promise((r) => setTimeout(r, 100))
          }
          ac.abort()
        })())
      }
      await Promise.all(aborts)
      let status = { running: -1, waiting: -1, kv_blocks_used: -1 }
      for (let i = 0; i < 100 && (status.running !== 0 || status.waiting !== 0 || status.kv_blocks_used !== 0); i++) {
        await new Promise((r) => setTimeout(r, 20))
        status = await (await fetch(`${base}/status`)).json() as typeof status
      }
      expect(status).toMatchObject({ running: 0, waiting: 0, kv_blocks_used: 0 })
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(gauge(metrics, "vllm:num_requests_running")).toBe(0)
      expect(gauge(metrics, "vllm:num_requests_waiting")).toBe(0)
      expect(gauge(metrics, "vllm:kv_cache_usage_perc")).toBe(0)
      expect(gauge(metrics, "vllm:request_abort_total")).toBe(5)
      // and it still serves
      const ok = await post(base, "/v1/completions", JSON.stringify({ model: MODEL, prompt: "hi", max_tokens: 3 }))
      expect(ok.status).toBe(200)
    }, { timeScale: 1 }))

  it.live("requests sharing a prompt prefix hit the prefix cache (vllm:prefix_cache_*_total)", () =>
    withServer(async (base) => {
      const system = { role: "system", content: "You are a careful assistant. ".repeat(40) }
      const ask = (q: string) =>
        post(base, "/v1/chat/completions", JSON.stringify({ model: MODEL, messages: [system, { role: "user", content: q }], max_tokens: 3 }))
      const first = (await (await ask("What is a KV cache?")).json()) as { usage: { prompt_tokens: number } }
      await ask("And what is paged attention?")
      const metrics = await (await fetch(`${base}/metrics`)).text()
      const queries = gauge(metrics, "vllm:prefix_cache_queries_total")
      const hits = gauge(metrics, "vllm:prefix_cache_hits_total")
      expect(queries).toBeGreaterThan(2 * first.usage.prompt_tokens - 20)
      // the second request finds the system prompt's full blocks (the first finds nothing)
      expect(hits).toBeGreaterThan(first.usage.prompt_tokens - 2 * 16 - 10)
      expect(hits).toBeLessThan(first.usage.prompt_tokens)
    }))
})

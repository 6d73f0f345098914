/** Chat messages: unknown roles and missing required fields are 400s naming the field (`messages[i].role`), as vLLM / OpenAI. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const withPost = <A>(f: (post: (path: string, body: unknown) => Promise<{ status: number; json: any }>) => Promise<A>) =>
  Effect.gen(function*() {
    const cfg = serverConfig()
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), 10_000_000)
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      return { status: r.status, json: await r.json() }
    }
    return yield* Effect.promise(() => f(post))
  }).pipe(Effect.scoped)

const user = { role: "user", content: "What is the weather in Paris?" }
const call = { id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }

const cases: ReadonlyArray<[ReadonlyArray<unknown>, string, string]> = [
  [[user, { role: "bot", content: "x" }], "messages[1].role", "messages[1].role: expected one of \"system\", \"user\", \"assistant\", \"tool\", \"developer\", got \"bot\""],
  [[{ role: "User", content: "x" }], "messages[0].role", "got \"User\""],
  [[{ role: "user" }], "messages[0].content", "messages[0].content: a user message needs content"],
  [[{ role: "system", content: null }, user], "messages[0].content", "a system message needs content"],
  [[user, { role: "developer" }], "messages[1].content", "a developer message needs content"],
  [[user, { role: "assistant" }, user], "messages[1].content", "an assistant message needs content (a string or a list of content parts) unless it has tool_calls"],
  [[user, { role: "assistant", content: null, tool_calls: [] }], "messages[1].content", "unless it has tool_calls"],
  [[user, { role: "assistant", tool_calls: [call] }, { role: "tool", content: "18 C" }], "messages[2].tool_call_id", "messages[2].tool_call_id: a tool message needs tool_call_id"],
  [[user, { role: "assistant", tool_calls: [call] }, { role: "tool", tool_call_id: "call_1" }], "messages[2].content", "a tool message needs content"]
]

describe("chat message roles and fields", () => {
  it.live("unknown roles and missing content / tool_call_id: 400 naming messages[i].field; valid conversations pass; still serving", () =>
    withPost(async (post) => {
      for (const [messages, param, text] of cases) {
        for (const path of ["/v1/chat/completions", "/tokenize"]) {
          const r = await post(path, { model: MODEL, messages, max_tokens: 2 })
          expect([r.status, r.json.error?.param], `${path} ${JSON.stringify(messages)}`).toEqual([400, param])
          expect(r.json.error.message).toContain(text)
          expect(r.json.error.type).toBe("BadRequestError")
        }
      }
      // an assistant turn with tool calls (no content) answered by a tool message; content parts; empty content
      const ok = await post("/v1/chat/completions", {
        model: MODEL, max_tokens: 2,
        messages: [{ role: "developer", content: "Be brief" }, user, { role: "assistant", content: null, tool_calls: [call] }, { role: "tool", tool_call_id: "call_1", content: [{ type: "text", text: "18 C" }] }, { role: "user", content: "" }]
      })
      expect(ok.status).toBe(200)
      expect(ok.json.usage.completion_tokens).toBe(2)
      expect((await post("/tokenize", { model: MODEL, messages: [user] })).status).toBe(200)
    }))
})

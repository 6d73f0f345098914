/** vLLM's 400s for invalid sampling parameters: the pure rules, and the server answering them. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { samplingError } from "../../src/server/samplingChecks.js"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const bad: Array<[Record<string, unknown>, string, string]> = [
  [{ stream_options: { include_usage: true } }, "stream_options", "Stream options can only be defined when `stream=True`."],
  [{ stream: false, stream_options: {} }, "stream_options", "Stream options can only be defined when `stream=True`."],
  [{ n: 0 }, "n", "n must be at least 1, got 0."],
  [{ presence_penalty: 2.5 }, "presence_penalty", "presence_penalty must be in [-2, 2], got 2.5."],
  [{ frequency_penalty: -3 }, "frequency_penalty", "frequency_penalty must be in [-2, 2], got -3."],
  [{ repetition_penalty: 0 }, "repetition_penalty", "repetition_penalty must be greater than zero, got 0."],
  [{ temperature: -0.1 }, "temperature", "temperature must be non-negative, got -0.1."],
  [{ top_p: 0 }, "top_p", "top_p must be in (0, 1], got 0."],
  [{ top_p: 1.5 }, "top_p", "top_p must be in (0, 1], got 1.5."],
  [{ top_k: -2 }, "top_k", "top_k must be 0 (disable), or at least 1, got -2."],
  [{ min_p: 2 }, "min_p", "min_p must be in [0, 1], got 2."],
  [{ max_tokens: 0 }, "max_tokens", "max_tokens must be at least 1, got 0."],
  [{ min_tokens: -1 }, "min_tokens", "min_tokens must be greater than or equal to 0, got -1."],
  [{ max_tokens: 4, min_tokens: 5 }, "min_tokens", "min_tokens must be less than or equal to max_tokens=4, got 5."]
]

describe("sampling parameter checks", () => {
  it("each rule: vLLM's message and the field as param", () => {
    for (const [body, param, message] of bad) {
      expect(samplingError(body, body["max_tokens"] as number | undefined, "max_tokens"), JSON.stringify(body)).toEqual([message, param])
    }
  })

  it("valid and boundary values pass", () => {
    const ok = [
      {}, { stream: true, stream_options: { include_usage: true } }, { stream: false, stream_options: null }, { n: 1 },
      { presence_penalty: -2, frequency_penalty: 2 }, { repetition_penalty: 0.01 }, { temperature: 0 }, { top_p: 1 },
      { top_k: -1 }, { top_k: 0 }, { top_k: 40 }, { min_p: 0 }, { min_p: 1 }, { min_tokens: 4 }
    ]
    for (const b of ok) expect(samplingError(b, 4, "max_tokens"), JSON.stringify(b)).toBeUndefined()
  })

  it.live("the server answers each with a 400 in OpenAI's error format, chat and completions", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100 }), 10_000_000)
      return yield* Effect.promise(async () => {
        for (const [body, param, message] of bad) {
          for (const [path, extra] of [["/v1/completions", { prompt: "hello" }], ["/v1/chat/completions", { messages: [{ role: "user", content: "hello" }] }]] as const) {
            const res = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, ...extra, ...body }) })
            expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(400)
            const j = await res.json() as { error: { message: string; type: string; param: string | null; code: number } }
            expect(j.error).toEqual({ message, type: "BadRequestError", param, code: 400 })
          }
        }
        // still serving
        const ok = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, prompt: "hello", max_tokens: 3, temperature: 0, top_k: 0 }) })
        expect(ok.status).toBe(200)
        // chat messages carry `refusal: null` (OpenAI's message shape, required by @effect/ai-openai's decoder)
        const chat = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }) })
        const cj = await chat.json() as { choices: Array<{ message: Record<string, unknown> }> }
        expect(cj.choices[0]!.message).toHaveProperty("refusal", null)
      })
    }).pipe(Effect.scoped))
})

/** /v1/responses with the official `openai` SDK (responses.create, streaming and not) and its 400s. */
import { describe, expect, it } from "@effect/vitest"
import OpenAI from "openai"
import { MODEL, withClient } from "./serverHelpers.js"

describe("/v1/responses", () => {
  it.live("responses.create non-streaming: a message item with output_text and usage", () =>
    withClient(async (client) => {
      const r = await client.responses.create({ model: MODEL, input: "Hello", instructions: "Be brief", max_output_tokens: 5 })
      expect(r.object).toBe("response")
      expect(r.status).toBe("incomplete")
      expect(r.incomplete_details?.reason).toBe("max_output_tokens")
      expect(r.output_text).toBe(" The simulated server is producing")
      const item = r.output[0]!
      expect(item.type).toBe("message")
      expect(item.type === "message" && item.content[0]!.type === "output_text" ? item.content[0]!.text : "").toBe(" The simulated server is producing")
      expect(r.usage!.output_tokens).toBe(5)
      expect(r.usage!.total_tokens).toBe(r.usage!.input_tokens + 5)
      expect(r.instructions).toBe("Be brief")
    }))

  it.live("instructions and message lists count as prompt tokens", () =>
    withClient(async (client) => {
      const a = await client.responses.create({ model: MODEL, input: "Hello", max_output_tokens: 1 })
      const b = await client.responses.create({ model: MODEL, input: "Hello", instructions: "You are a helpful assistant", max_output_tokens: 1 })
      const c = await client.responses.create({ model: MODEL, input: [{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi" }, { role: "user", content: [{ type: "input_text", text: "More" }] }], max_output_tokens: 1 })
      expect(b.usage!.input_tokens).toBeGreaterThan(a.usage!.input_tokens)
      expect(c.usage!.input_tokens).toBeGreaterThan(a.usage!.input_tokens)
    }))

  it.live("responses.create streaming: the Responses event sequence with sequence numbers", () =>
    withClient(async (client) => {
      const stream = await client.responses.create({ model: MODEL, input: "Hi", max_output_tokens: 3, stream: true })
      const events = []
      for await (const e of stream) events.push(e)
      expect(events.map((e) => e.type)).toEqual([
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"
      ])
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i))
      const done = events.find((e) => e.type === "response.output_text.done")
      expect(done?.type === "response.output_text.done" ? done.text : "").toBe(" The simulated server")
      const last = events[events.length - 1]!
      // cut off by max_output_tokens: OpenAI's response.incomplete, with the status and reason
      expect(last.type === "response.incomplete" ? [last.response.status, last.response.incomplete_details?.reason, last.response.usage?.output_tokens] : []).toEqual(["incomplete", "max_output_tokens", 3])
    }))

  it.live("unsupported fields and bad parameters: 400 naming the field", () =>
    withClient(async (client) => {
      const tools = await client.responses.create({ model: MODEL, input: "x", tools: [{ type: "function", name: "f", parameters: {}, strict: false }] }).catch((e) => e)
      expect(tools).toBeInstanceOf(OpenAI.BadRequestError)
      expect(tools.error.param).toBe("tools")
      const prev = await client.responses.create({ model: MODEL, input: "x", previous_response_id: "resp_1" }).catch((e) => e)
      expect(prev.error.param).toBe("previous_response_id")
      const temp = await client.responses.create({ model: MODEL, input: "x", temperature: -1 }).catch((e) => e)
      expect(temp.message).toContain("temperature must be non-negative, got -1.")
      const model = await client.responses.create({ model: "nope", input: "x" }).catch((e) => e)
      expect(model).toBeInstanceOf(OpenAI.NotFoundError)
      const long = await client.responses.create({ model: MODEL, input: "x", max_output_tokens: 5000 }).catch((e) => e)
      expect(long.message).toContain("maximum context length is 2048 tokens")
      // the field is named as the Responses API calls it
      const zero = await client.responses.create({ model: MODEL, input: "x", max_output_tokens: 0 }).catch((e) => e)
      expect(zero).toBeInstanceOf(OpenAI.BadRequestError)
      expect([zero.error.param, zero.error.message]).toEqual(["max_output_tokens", "max_output_tokens must be at least 1, got 0."])
      // an empty input list is no prompt
      const empty = await client.responses.create({ model: MODEL, input: [] }).catch((e) => e)
      expect(empty).toBeInstanceOf(OpenAI.BadRequestError)
      expect(empty.error.param).toBe("input")
      expect(empty.error.message).toContain("input: expected a string or a non-empty list of input messages, got an empty list")
      // a bad input message names its field, as chat's messages do
      const role = await client.responses.create({ model: MODEL, input: [{ role: "wizard", content: "x" }] } as never).catch((e) => e)
      expect(role).toBeInstanceOf(OpenAI.BadRequestError)
      expect([role.error.param, role.error.message]).toEqual(["input[0].role", "Invalid request: input[0].role: expected one of \"user\", \"assistant\", \"system\", \"developer\", got \"wizard\""])
      const noContent = await client.responses.create({ model: MODEL, input: [{ role: "user", content: "x" }, { role: "user" }] } as never).catch((e) => e)
      expect(noContent.error.param).toBe("input[1].content")
      // still serving
      expect((await client.responses.create({ model: MODEL, input: "x", max_output_tokens: 1 })).usage!.output_tokens).toBe(1)
    }))
})

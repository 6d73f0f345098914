/** The generation fields end to end: the `openai` SDK against a started server, streaming and not. */
import { describe, expect, it } from "@effect/vitest"
import { Ajv } from "ajv"
import { Effect } from "effect"
import OpenAI from "openai"
import { makeTokenizer } from "../../src/server/Tokenizer.js"
import { MODEL, serverConfig, withClient } from "./serverHelpers.js"

const msgs = [{ role: "user" as const, content: "Hello" }]
const weather = {
  type: "object",
  properties: { city: { type: "string", minLength: 1 }, unit: { enum: ["c", "f"] }, days: { type: "integer", minimum: 1, maximum: 7 } },
  required: ["city", "unit", "days"],
  additionalProperties: false
}
const tools = [
  { type: "function" as const, function: { name: "get_weather", parameters: weather } },
  { type: "function" as const, function: { name: "get_time", parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] } } }
]
const ajv = new Ajv({ strict: false })
const valid = (schema: object, text: string) => ajv.validate(schema, JSON.parse(text))

describe("generation fields (openai SDK)", () => {
  it.live("stop: the text ends before the stop string, finish stop, stop_reason, usage counts what was produced", () =>
    withClient(async (client) => {
      // filler text: " The simulated server is producing this text ..."
      const c = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 20, stop: [" producing", "zzz"] })
      expect(c.choices[0]!.text).toBe(" The simulated server is")
      expect(c.choices[0]!.finish_reason).toBe("stop")
      expect((c.choices[0] as unknown as { stop_reason: unknown }).stop_reason).toBe(" producing")
      expect(c.usage!.completion_tokens).toBe(5)
      const inc = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 20, stop: " producing", include_stop_str_in_output: true } as never) as OpenAI.Completion
      expect(inc.choices[0]!.text).toBe(" The simulated server is producing")
      // streaming chat: same text, finish on the last chunk
      const s = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 20, stop: " producing", stream: true, stream_options: { include_usage: true } })
      let text = ""
      const finishes: Array<string | null> = []
      let usage = 0
      for await (const ch of s) {
        if (ch.choices.length === 0) usage = ch.usage!.completion_tokens
        else {
          text += ch.choices[0]!.delta.content ?? ""
          finishes.push(ch.choices[0]!.finish_reason)
        }
      }
      expect(text).toBe(" The simulated server is")
      expect(finishes[finishes.length - 1]).toBe("stop")
      expect(usage).toBe(5)
    }))

  it.live("stop_token_ids and min_tokens: the stop token ends the answer only after min_tokens", () =>
    withClient(async (client) => {
      const first = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 3, logprobs: 0 })
      const tokens = first.choices[0]!.logprobs!.tokens!
      expect(tokens).toEqual([" The", " simulated", " server"])
      const tok = await Effect.runPromise(makeTokenizer(serverConfig().model).pipe(Effect.orDie))
      const id = tok.encode(" server")[0]!
      const st = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 30, stop_token_ids: [id] } as never) as OpenAI.Completion
      expect(st.choices[0]!.text).toBe(" The simulated")
      expect(st.usage!.completion_tokens).toBe(3)
      expect((st.choices[0] as unknown as { stop_reason: unknown }).stop_reason).toBe(id)
      const st2 = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 30, stop_token_ids: [id], min_tokens: 3 } as never) as OpenAI.Completion
      expect(st2.usage!.completion_tokens).toBe(20)
      const plain = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 30, stop: " text", min_tokens: 10 } as never) as OpenAI.Completion
      // " text" is token 7; with min_tokens 10 the next " text" (token 24) stops it
      expect(plain.usage!.completion_tokens).toBe(24)
      expect(plain.choices[0]!.finish_reason).toBe("stop")
    }))

  it.live("min_tokens > max_tokens and ignore_eos: 400 / runs to the context limit", () =>
    withClient(async (client) => {
      const e = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 3, min_tokens: 5 } as never).catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e.message).toContain("min_tokens must be less than or equal to max_tokens=3")
      const c = await client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4], ignore_eos: true } as never) as OpenAI.Completion
      expect(c.usage!.completion_tokens).toBe(2048 - 4)
      expect(c.choices[0]!.finish_reason).toBe("length")
    }))

  it.live("seed: same seed same text, other seed other text", () =>
    withClient(async (client) => {
      const a = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 12, seed: 7 })
      const b = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 12, seed: 7 })
      const c = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 12, seed: 8 })
      expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content)
      expect(a.choices[0]!.message.content).not.toBe(c.choices[0]!.message.content)
    }))

  it.live("tools auto: arguments validate against the schema, finish tool_calls; parallel_tool_calls false: one call", () =>
    withClient(async (client) => {
      const r = await client.chat.completions.create({ model: MODEL, messages: msgs, tools, seed: 3 })
      const calls = r.choices[0]!.message.tool_calls!
      expect(r.choices[0]!.finish_reason).toBe("tool_calls")
      expect(r.choices[0]!.message.refusal).toBeNull()
      expect(calls.map((c) => (c as { function: { name: string } }).function.name)).toEqual(["get_weather", "get_time"])
      const fn = (c: unknown) => (c as { function: { name: string; arguments: string } }).function
      expect(valid(weather, fn(calls[0]).arguments)).toBe(true)
      expect(valid(tools[1]!.function.parameters, fn(calls[1]).arguments)).toBe(true)
      const one = await client.chat.completions.create({ model: MODEL, messages: msgs, tools, parallel_tool_calls: false })
      expect(one.choices[0]!.message.tool_calls!.length).toBe(1)
      // after a tool result the model answers in text
      const after = await client.chat.completions.create({ model: MODEL, max_tokens: 4, tools, messages: [...msgs, { role: "tool", tool_call_id: "x", content: "sunny" }] })
      expect(after.choices[0]!.message.tool_calls).toEqual([])
      expect(after.choices[0]!.finish_reason).toBe("length")
    }))

  it.live("tools named (streaming): vLLM's tool-call deltas, arguments validate, finish stop, usage = chunks", () =>
    withClient(async (client) => {
      const s = await client.chat.completions.create({
        model: MODEL, messages: msgs, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, stream: true, stream_options: { include_usage: true }
      })
      const deltas: Array<OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall> = []
      let finish: string | null = null
      let usage = 0
      let chunks = 0
      for await (const ch of s) {
        if (ch.choices.length === 0) {
          usage = ch.usage!.completion_tokens
          continue
        }
        if (ch.choices[0]!.delta.tool_calls) {
          chunks++
          deltas.push(...ch.choices[0]!.delta.tool_calls)
        }
        if (ch.choices[0]!.finish_reason) finish = ch.choices[0]!.finish_reason
      }
      expect(deltas[0]).toMatchObject({ index: 0, type: "function", function: { name: "get_weather", arguments: "" } })
      expect(deltas[0]!.id).toMatch(/^chatcmpl-tool-/)
      expect(deltas.slice(1).every((d) => d.id === undefined && d.function?.name === undefined)).toBe(true)
      const args = deltas.map((d) => d.function?.arguments ?? "").join("")
      expect(valid(weather, args)).toBe(true)
      expect(finish).toBe("stop")
      expect(usage).toBe(chunks)
    }))

  it.live("tool_choice required without tools, unknown named tool: 400", () =>
    withClient(async (client) => {
      const e = await client.chat.completions.create({ model: MODEL, messages: msgs, tools, tool_choice: { type: "function", function: { name: "nope" } } }).catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      expect(e.message).toContain("Tool 'nope' has not been passed")
      const r = await client.chat.completions.create({ model: MODEL, messages: msgs, tools, tool_choice: "required", parallel_tool_calls: false })
      expect(r.choices[0]!.finish_reason).toBe("tool_calls")
      expect(r.choices[0]!.message.tool_calls!.length).toBe(1)
    }))

  it.live("response_format json_schema / json_object, guided_choice: content parses and validates (streaming too)", () =>
    withClient(async (client) => {
      const r = await client.chat.completions.create({ model: MODEL, messages: msgs, response_format: { type: "json_schema", json_schema: { name: "w", schema: weather } } })
      expect(valid(weather, r.choices[0]!.message.content!)).toBe(true)
      expect(r.choices[0]!.finish_reason).toBe("stop")
      const o = await client.chat.completions.create({ model: MODEL, messages: msgs, response_format: { type: "json_object" } })
      expect(typeof JSON.parse(o.choices[0]!.message.content!)).toBe("object")
      const s = await client.chat.completions.create({ model: MODEL, messages: msgs, response_format: { type: "json_schema", json_schema: { name: "w", schema: weather } }, stream: true, seed: 5 })
      let text = ""
      for await (const ch of s) text += ch.choices[0]?.delta.content ?? ""
      expect(valid(weather, text)).toBe(true)
      const g = await client.completions.create({ model: MODEL, prompt: "x", guided_choice: ["yes", "no"] } as never) as OpenAI.Completion
      expect(["yes", "no"]).toContain(g.choices[0]!.text)
      const rx = await client.completions.create({ model: MODEL, prompt: "x", guided_regex: "a+" } as never).catch((x) => x)
      expect(rx).toBeInstanceOf(OpenAI.BadRequestError)
    }))

  it.live("logprobs: chat content entries with sorted top_logprobs including the chosen token; completions shape", () =>
    withClient(async (client) => {
      const r = await client.chat.completions.create({ model: MODEL, messages: msgs, max_tokens: 4, logprobs: true, top_logprobs: 3 })
      const content = r.choices[0]!.logprobs!.content!
      expect(content.map((c) => c.token).join("")).toBe(r.choices[0]!.message.content)
      for (const c of content) {
        expect(c.logprob).toBeLessThan(0)
        expect(c.top_logprobs.length).toBe(3)
        expect(c.top_logprobs[0]!.token).toBe(c.token)
        const lps = c.top_logprobs.map((t) => t.logprob)
        expect([...lps].sort((a, b) => b - a)).toEqual(lps)
        expect(c.bytes).toEqual(Array.from(new TextEncoder().encode(c.token)))
      }
      const c = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 3, logprobs: 2, stream: true })
      const lp: Array<OpenAI.Completions.CompletionChoice.Logprobs> = []
      for await (const ch of c) lp.push(ch.choices[0]!.logprobs!)
      expect(lp.length).toBe(3)
      expect(lp.every((l) => l.tokens!.length === 1 && Object.keys(l.top_logprobs![0]!).length === 2)).toBe(true)
      expect(lp.map((l) => l.text_offset![0])).toEqual([0, 4, 14])
      const e = await client.chat.completions.create({ model: MODEL, messages: msgs, top_logprobs: 2 }).catch((x) => x)
      expect(e).toBeInstanceOf(OpenAI.BadRequestError)
      const big = await client.completions.create({ model: MODEL, prompt: "x", logprobs: 21 }).catch((x) => x)
      expect(big.message).toContain("greater than max allowed: 20")
    }))

  it.live("echo and truncate_prompt_tokens; refused fields get 400", () =>
    withClient(async (client) => {
      const e = await client.completions.create({ model: MODEL, prompt: "Hello there", max_tokens: 2, echo: true })
      expect(e.choices[0]!.text).toBe("Hello there The simulated")
      const t = await client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4, 5, 6], max_tokens: 2, truncate_prompt_tokens: 2 } as never) as OpenAI.Completion
      expect(t.usage!.prompt_tokens).toBe(2)
      for (const body of [{ logit_bias: { "1": 5 } }, { suffix: "x" }, { best_of: 2 }, { prompt_logprobs: 1 }]) {
        const x = await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 2, ...body } as never).catch((y) => y)
        expect(x).toBeInstanceOf(OpenAI.BadRequestError)
      }
    }))

  it.live("/metrics: request_success_total carries the real finish reason", () =>
    withClient(async (client, base) => {
      await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 20, stop: " producing" })
      await client.chat.completions.create({ model: MODEL, messages: msgs, tools })
      await client.completions.create({ model: MODEL, prompt: "x", max_tokens: 2 })
      const text = await (await fetch(`${base}/metrics`)).text()
      const line = (reason: string) => text.split("\n").find((l) => l.startsWith("vllm:request_success_total") && l.includes(`finish_reason="${reason}"`))
      expect(line("stop")).toMatch(/ 1$/)
      expect(line("tool_calls")).toMatch(/ 1$/)
      expect(line("length")).toMatch(/ 1$/)
    }))
})

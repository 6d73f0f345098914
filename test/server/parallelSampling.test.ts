/** n > 1 (vLLM's parallel sampling) and lists of prompts in /v1/completions, streaming and not. */
import { describe, expect, it } from "@effect/vitest"
import OpenAI from "openai"
import { MODEL, withClient } from "./serverHelpers.js"

describe("n > 1 and prompt lists", () => {
  it.live("chat n=3: three choices, usage sums completion tokens, prompt counted once", () =>
    withClient(async (client) => {
      const one = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hello" }], max_tokens: 4 })
      const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Hello" }], max_tokens: 4, n: 3 })
      expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2])
      expect(r.choices.every((c) => c.message.content === " The simulated server is" && c.finish_reason === "length")).toBe(true)
      expect(r.usage).toMatchObject({ prompt_tokens: one.usage!.prompt_tokens, completion_tokens: 12 })
    }))

  it.live("the n samples share the prompt's prefill through the prefix cache", () =>
    withClient(async (client, base) => {
      const prompt = Array.from({ length: 200 }, (_, i) => 1 + (i % 900))
      await client.completions.create({ model: MODEL, prompt, max_tokens: 2, n: 4 })
      const metrics = await (await fetch(`${base}/metrics`)).text()
      const hits = Number(/^vllm:prefix_cache_hits_total\{[^}]*\} (\S+)/m.exec(metrics)?.[1] ?? "0")
      expect(hits).toBeGreaterThan(0)
    }))

  it.live("a list of prompts with n=2: choices indexed prompt x n + sample", () =>
    withClient(async (client) => {
      const a = await client.completions.create({ model: MODEL, prompt: "one two", max_tokens: 2 })
      const b = await client.completions.create({ model: MODEL, prompt: "three four five six", max_tokens: 2 })
      const r = await client.completions.create({ model: MODEL, prompt: ["one two", "three four five six"], max_tokens: 2, n: 2 })
      expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2, 3])
      expect(r.usage).toMatchObject({ prompt_tokens: a.usage!.prompt_tokens + b.usage!.prompt_tokens, completion_tokens: 8 })
      const ids = await client.completions.create({ model: MODEL, prompt: [[1, 2, 3], [4, 5]], max_tokens: 1 })
      expect(ids.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 2 })
      const bad = await client.completions.create({ model: MODEL, prompt: [[1, 2], [99999]], max_tokens: 1 }).catch((e) => e)
      expect(bad).toBeInstanceOf(OpenAI.BadRequestError)
    }))

  it.live("streaming chat n=2: each choice's chunks, a finish per choice, one usage chunk", () =>
    withClient(async (client) => {
      const stream = await client.chat.completions.create({
        model: MODEL, messages: [{ role: "user", content: "Hi" }], max_tokens: 3, n: 2, stream: true, stream_options: { include_usage: true }
      })
      const chunks = []
      for await (const c of stream) chunks.push(c)
      const last = chunks[chunks.length - 1]!
      expect(last.choices).toEqual([])
      expect(last.usage!.completion_tokens).toBe(6)
      for (const i of [0, 1]) {
        const mine = chunks.filter((c) => c.choices[0]?.index === i)
        expect(mine.length).toBe(1 + 3)
        expect(mine[0]!.choices[0]!.delta).toEqual({ role: "assistant", content: "" })
        expect(mine.map((c) => c.choices[0]!.finish_reason)).toEqual([null, null, null, "length"])
        expect(mine.slice(1).map((c) => c.choices[0]!.delta.content).join("")).toBe(" The simulated server")
      }
    }))

  it.live("streaming completions with a prompt list", () =>
    withClient(async (client) => {
      const stream = await client.completions.create({ model: MODEL, prompt: ["a b", "c d"], max_tokens: 2, stream: true })
      const chunks = []
      for await (const c of stream) chunks.push(c)
      expect(chunks.length).toBe(4)
      expect(chunks.filter((c) => c.choices[0]!.finish_reason === "length").map((c) => c.choices[0]!.index).sort()).toEqual([0, 1])
    }))
})

/**
 * `serve --enable-lora`: a request's `model` naming an adapter runs with it (adapter loads and
 * kernels on its steps), /v1/models lists the adapters with the base model as parent, an unknown
 * model is a 404, and /metrics carries vLLM's vllm:lora_requests_info with the adapters running.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import type { SimConfig } from "../../src/config/ConfigService.js"
import { runLoad } from "../../src/client/LoadClient.js"
import { ms, testConfig, testHardware } from "../helpers.js"
import { MODEL, serveOptions, startServer } from "../server/serverHelpers.js"

const loraConfig = (): SimConfig => {
  const base = testConfig({
    maxModelLen: 2048,
    lora: { maxLoras: 1, maxLoraRank: 16, maxCpuLoras: 2, adapters: [{ name: "sql", rank: 16, path: "/adapters/sql" }, { name: "chat", rank: 8 }], storageGBs: 1 }
  })
  return { ...base, hardware: { ...testHardware, hostLinkGBs: 1 } }
}

const infoLine = (text: string) => text.split("\n").filter((l) => l.startsWith("vllm:lora_requests_info{"))

describe("serve --enable-lora", () => {
  it.live("adapters are models: listed, selectable by name, counted on /status and /metrics", () =>
    Effect.gen(function*() {
      const cfg = loraConfig()
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1 }), 10_000_000)
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-test", maxRetries: 0 })
      const models = yield* Effect.promise(() => client.models.list())
      expect(models.data.map((m) => [m.id, (m as unknown as { parent: string | null }).parent, (m as unknown as { root: string }).root])).toEqual([
        [MODEL, null, cfg.model.id], ["sql", MODEL, "/adapters/sql"], ["chat", MODEL, "chat"]
      ])
      // before any LoRA request: the info series with nothing running
      const before = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      expect(infoLine(before)).toEqual([expect.stringMatching(/^vllm:lora_requests_info\{max_lora="1",waiting_lora_adapters="",running_lora_adapters=""\} \d+(\.\d+)?$/)])
      // a 40-token stream on adapter "sql" (10 ms steps, real time): scrape while it runs
      const stream = yield* Effect.promise(() => client.completions.create({ model: "sql", prompt: "select", max_tokens: 40, stream: true, ignore_eos: true } as never) as unknown as Promise<AsyncIterable<{ model: string }>>)
      const it = stream[Symbol.asyncIterator]()
      const first = yield* Effect.promise(() => it.next())
      expect(first.value.model).toBe("sql")
      const during = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      expect(infoLine(during).some((l) => l.includes('running_lora_adapters="sql"'))).toBe(true)
      const status = yield* Effect.promise(() => fetch(`${base}/status`).then((r) => r.json() as Promise<{ lora: { running_adapters: Array<string>; gpu_loads: number; storage_loads: number; load_stall_s: number } }>))
      expect(status.lora.running_adapters).toEqual(["sql"])
      expect([status.lora.gpu_loads, status.lora.storage_loads]).toEqual([1, 1])
      // the tiny model's rank-16 adapter is 1,015,808 bytes: ~1 ms from storage at 1 GB/s + ~2 ms over
      // the host link (hostLinkGBs 1 counts both directions: 0.5 GB/s host to device)
      expect(status.lora.load_stall_s).toBeCloseTo(0.003047, 5)
      while (!(yield* Effect.promise(() => it.next())).done) { /* drain */ }
      // the base model and the other adapter answer too; an unknown model is a 404
      const plain = yield* Effect.promise(() => client.completions.create({ model: MODEL, prompt: "hi", max_tokens: 2 }))
      expect(plain.usage?.completion_tokens).toBe(2)
      const chat = yield* Effect.promise(() => client.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }))
      expect(chat.model).toBe("chat")
      const resp = yield* Effect.promise(() => client.responses.create({ model: "chat", input: "hi", max_output_tokens: 2 }))
      expect(resp.model).toBe("chat")
      const missing = yield* Effect.promise(() => fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "nope", prompt: "x" }) }))
      expect(missing.status).toBe(404)
      expect(((yield* Effect.promise(() => missing.json())) as { error: { message: string } }).error.message).toBe("The model `nope` does not exist.")
      const after = yield* Effect.promise(() => fetch(`${base}/status`).then((r) => r.json() as Promise<{ lora: { gpu_loads: number; storage_loads: number } }>))
      // one GPU slot: sql, then chat evicts it (two host slots keep both)
      expect([after.lora.gpu_loads, after.lora.storage_loads]).toEqual([2, 2])
    }).pipe(Effect.scoped))

  it.live("the load client (test-api) sends each request's adapter as its model, as vllm bench does", () =>
    Effect.gen(function*() {
      const cfg = loraConfig()
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100 }), 10_000_000)
      const arrivals = [0, 1, 2, 0].map((lora, i) => ({ arrivalNs: ms(i * 50), promptTokens: 8, outputTokens: 2, lora }))
      const r = yield* Effect.promise(() => runLoad({ baseUrl: base, model: MODEL, endpoint: "completions", maxConcurrency: Infinity, timeScale: 100, loraAdapters: ["sql", "chat"] }, arrivals))
      expect(r.requests.every((x) => x.ok)).toBe(true)
      const status = yield* Effect.promise(() => fetch(`${base}/status`).then((x) => x.json() as Promise<{ lora: { gpu_loads: number } }>))
      // sql, then chat (one GPU slot): two loads; the base-model requests none
      expect(status.lora.gpu_loads).toBe(2)
    }).pipe(Effect.scoped))

  it.live("without --enable-lora: no lora series, adapters are unknown models", () =>
    Effect.gen(function*() {
      const cfg = testConfig({ maxModelLen: 2048 })
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), 10_000_000)
      const text = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      expect(text).not.toContain("lora_requests_info")
      const r = yield* Effect.promise(() => fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "sql", prompt: "x" }) }))
      expect(r.status).toBe(404)
      const status = yield* Effect.promise(() => fetch(`${base}/status`).then((x) => x.json() as Promise<Record<string, unknown>>))
      expect(status.lora).toBeUndefined()
    }).pipe(Effect.scoped))
})

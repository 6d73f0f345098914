/**
 * `serve` with --speculative-config: vLLM's vllm:spec_decode_* counters on /metrics, and one
 * inter-token-latency observation per step (a verify step's tokens reach the client as one chunk).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { makeSpecDecodeCounters } from "../../src/engine/SpecDecoder.js"
import { makeServerMetrics } from "../../src/server/Metrics.js"
import { testConfig } from "../helpers.js"
import { MODEL, serveOptions, startServer } from "./serverHelpers.js"

const load = () => [{ waiting: 0, running: 0, kvUsed: 0, kvTotal: 1, prefixQueries: 0, prefixHits: 0 }]
const cache = { blockSize: 16, numGpuBlocks: 10, enablePrefixCaching: true, engines: 1 }
const value = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(series + "{") || l.startsWith(series + " "))
  return line === undefined ? undefined : Number(line.split(" ").pop())
}

describe("vllm:spec_decode_* metrics", () => {
  it.effect("absent without a speculative config; read from the counters at scrape time", () =>
    Effect.gen(function*() {
      const plain = yield* Effect.promise(() => makeServerMetrics(MODEL, load, cache).text())
      expect(plain).not.toContain("spec_decode")
      const n = makeSpecDecodeCounters(2)
      const m = makeServerMetrics(MODEL, load, cache, n)
      n.numDrafts = 3
      n.numDraftTokens = 6
      n.numAcceptedTokens = 4
      n.numAcceptedTokensPerPos[0] = 3
      n.numAcceptedTokensPerPos[1] = 1
      const text = yield* Effect.promise(() => m.text())
      expect(value(text, "vllm:spec_decode_num_drafts_total")).toBe(3)
      expect(value(text, "vllm:spec_decode_num_draft_tokens_total")).toBe(6)
      expect(value(text, "vllm:spec_decode_num_accepted_tokens_total")).toBe(4)
      expect(text).toMatch(/vllm:spec_decode_num_accepted_tokens_per_pos_total\{[^}]*position="0"[^}]*\} 3/)
      expect(text).toMatch(/vllm:spec_decode_num_accepted_tokens_per_pos_total\{[^}]*position="1"[^}]*\} 1/)
    }))

  it.live("a served request: the engine feeds the counters; one ITL gap per verify step", () =>
    Effect.gen(function*() {
      // 9 tokens, ngram k = 3, every draft accepted: prefill, then two verify steps of 4 tokens
      const cfg = testConfig({ maxModelLen: 2048, speculativeConfig: { method: "ngram", numSpeculativeTokens: 3, acceptanceRates: [1, 1, 1], acceptanceRatesSource: "given" } })
      const options = yield* serveOptions(cfg)
      const base = yield* startServer(cfg, options, 1_000_000)
      const res = yield* Effect.promise(() =>
        fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, prompt: "hello there", max_tokens: 9, ignore_eos: true }) })
      )
      const body = yield* Effect.promise(() => res.json() as Promise<{ usage: { completion_tokens: number } }>)
      expect(body.usage.completion_tokens).toBe(9)
      const text = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      expect(value(text, "vllm:spec_decode_num_drafts_total")).toBe(2)
      expect(value(text, "vllm:spec_decode_num_draft_tokens_total")).toBe(6)
      expect(value(text, "vllm:spec_decode_num_accepted_tokens_total")).toBe(6)
      expect(value(text, "vllm:inter_token_latency_seconds_count")).toBe(2)
      expect(value(text, "vllm:generation_tokens_total")).toBe(9)
    }).pipe(Effect.scoped))
})

/** /metrics under serve --num-instances N: each engine's series under its own engine label, as vLLM's DP server. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(series + " "))
  return line === undefined ? undefined : Number(line.split(" ").pop())
}

describe("/metrics per engine", () => {
  it.live("two instances: load gauges, counters and histograms for engine 0 and engine 1, adding up to the requests", () =>
    Effect.gen(function*() {
      const cfg = { ...serverConfig(), numInstances: 2 }
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1000, router: "round-robin" }), 10_000_000)
      yield* Effect.promise(async () => {
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: MODEL, prompt: `hello ${i}`, max_tokens: 3 }) })
          expect(r.status).toBe(200)
          await r.json()
        }
      })
      const text = yield* Effect.promise(async () => (await fetch(`${base}/metrics`)).text())
      const l = (engine: number) => `model_name="${MODEL}",engine="${engine}"`
      // round-robin: engine 0 served requests 0, 2, 4 and engine 1 requests 1, 3
      const served = [3, 2]
      for (const e of [0, 1]) {
        expect(sample(text, `vllm:num_requests_running{${l(e)}}`)).toBe(0)
        expect(sample(text, `vllm:num_requests_waiting{${l(e)}}`)).toBe(0)
        expect(sample(text, `vllm:kv_cache_usage_perc{${l(e)}}`)).toBe(0)
        expect(sample(text, `vllm:generation_tokens_total{${l(e)}}`)).toBe(3 * served[e]!)
        expect(sample(text, `vllm:request_success_total{${l(e)},finish_reason="length"}`)).toBe(served[e])
        expect(sample(text, `vllm:time_to_first_token_seconds_count{${l(e)}}`)).toBe(served[e])
        expect(sample(text, `vllm:e2e_request_latency_seconds_count{${l(e)}}`)).toBe(served[e])
        expect(text).toContain(`engine="${e}"}`)
      }
      expect(text).not.toContain(`engine="2"`)
      // the server-wide delivery lag: one series, without an engine label
      expect(text.split("\n").filter((x) => x.startsWith("llmservingsim:delivery_lag_seconds_count")).map((x) => x.split(" ")[0]))
        .toEqual([`llmservingsim:delivery_lag_seconds_count{model_name="${MODEL}"}`])
      // one HELP line per family, however many engines
      expect(text.split("\n").filter((x) => x === "# TYPE vllm:time_to_first_token_seconds histogram").length).toBe(1)
      expect(text.split("\n").filter((x) => x.startsWith("vllm:cache_config_info{")).length).toBe(2)
    }).pipe(Effect.scoped))
})

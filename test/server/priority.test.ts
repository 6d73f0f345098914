/** The body's `priority` (vLLM's field): honoured under --scheduling-policy priority, 400 otherwise as vLLM. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { SimConfig } from "../../src/config/ConfigService.js"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const post = (base: string, body: unknown) =>
  fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

const withServer = <A>(cfg: SimConfig, f: (base: string) => Promise<A>) =>
  Effect.gen(function*() {
    const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 100 }), 10_000_000)
    return yield* Effect.promise(() => f(base))
  }).pipe(Effect.scoped)

describe("serve: request priority", () => {
  it.live("fcfs: a non-zero priority is a 400 naming the field; priority 0 is accepted", () =>
    withServer(serverConfig(), async (base) => {
      const bad = await post(base, { model: MODEL, prompt: "hi", max_tokens: 2, priority: 3 })
      expect(bad.status).toBe(400)
      const j = await bad.json() as { error: { message: string; param: string | null; code: number } }
      expect(j.error.message).toBe("Got priority 3 but Priority scheduling is not enabled.")
      expect(j.error.param).toBe("priority")
      expect((await post(base, { model: MODEL, prompt: "hi", max_tokens: 2, priority: 0 })).status).toBe(200)
      expect((await post(base, { model: MODEL, prompt: "hi", max_tokens: 2, priority: "high" })).status).toBe(400)
    }))

  it.live("priority: the body's priority is accepted", () => {
    const cfg = serverConfig()
    const pri: SimConfig = { ...cfg, engine: { ...cfg.engine, schedulingPolicy: "priority" } }
    return withServer(pri, async (base) => {
      const res = await Promise.all([-1, 0, 5].map((p) => post(base, { model: MODEL, prompt: "hello there", max_tokens: 3, priority: p })))
      for (const r of res) {
        expect(r.status).toBe(200)
        expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3)
      }
    })
  })
})

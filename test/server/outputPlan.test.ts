/** OutputPlan invariants: stops cut the text, counts, schema-valid JSON (unit level, no server). */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { FastCheck as fc } from "effect"
import { parseGenFields } from "../../src/server/generation/fields.js"
import { validatesJson } from "../../src/server/generation/jsonSample.js"
import { planOutput, type OutputPlan } from "../../src/server/generation/OutputPlan.js"
import { FILLER, makeTokenizer } from "../../src/server/Tokenizer.js"
import { Rng } from "../../src/workload/Rng.js"
import { serverConfig } from "./serverHelpers.js"

const tok = await Effect.runPromise(makeTokenizer(serverConfig().model).pipe(Effect.orDie))
const fieldsOf = (body: object) => {
  const f = parseGenFields(body, "completion")
  if (Effect.isEffect(f)) throw new Error("rejected")
  return f
}
const plan = (body: object, maxTokens: number | undefined): OutputPlan => {
  const r = planOutput(tok, fieldsOf(body), { maxTokens, room: 1000, draw: () => 50, serverRng: new Rng(1), echo: undefined, requestId: "1" })
  if ("error" in r) throw new Error(r.error)
  return r
}
const text = (p: OutputPlan) => p.parts.map((x) => (x.kind === "content" ? x.text : "")).join("")

describe("OutputPlan", () => {
  it.prop("a stop string never appears in the text (without include_stop_str_in_output); the text is a prefix of the unstopped one", [
    fc.array(fc.constantFrom(...FILLER.map((w) => w.trim()), "simulated server", "e t", "zz"), { minLength: 1, maxLength: 3 }),
    fc.integer({ min: 1, max: 60 }),
    fc.integer({ min: 0, max: 10 })
  ], ([stop, max, minTokens]) => {
    const full = text(plan({}, max))
    const p = plan({ stop, min_tokens: Math.min(minTokens, max) }, max)
    const t = text(p)
    expect(full.startsWith(t)).toBe(true)
    expect(p.parts.length).toBeLessThanOrEqual(max)
    if (p.finish === "stop") {
      expect(stop).toContain(p.stopReason)
      expect(p.parts.length).toBeGreaterThan(Math.min(minTokens, max))
    } else {
      expect(p.parts.length).toBe(max)
      expect(t).toBe(full)
    }
    // the text up to min_tokens may hold a stop string; after that none starts
    const minText = text(plan({}, Math.min(minTokens, max)))
    for (const s of stop) expect(t.indexOf(s, Math.max(0, minText.length - s.length + 1))).toBe(-1)
  })

  it("json_schema content validates; max_tokens cuts it with finish length", () => {
    const schema = { type: "object", properties: { a: { type: "integer" }, b: { type: "array", items: { type: "string" }, minItems: 2 } }, required: ["a", "b"] }
    const p = plan({ response_format: { type: "json_schema", json_schema: { name: "x", schema } }, seed: 4 }, undefined)
    expect(validatesJson(schema, text(p))).toBe(true)
    expect(p.finish).toBe("stop")
    const cut = plan({ response_format: { type: "json_schema", json_schema: { name: "x", schema } }, seed: 4 }, 2)
    expect(cut.parts.length).toBe(2)
    expect(cut.finish).toBe("length")
  })
})

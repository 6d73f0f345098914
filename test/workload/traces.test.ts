import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openTrace } from "../../src/workload/traces/TraceReader.js"

const dir = "test/fixtures/traces"
const read = (file: string, options: Parameters<typeof openTrace>[1] = {}) =>
  openTrace(`${dir}/${file}`, options).pipe(
    Effect.flatMap((t) => Stream.runCollect(t.arrivals).pipe(Effect.map((c) => ({ format: t.format, arrivals: Chunk.toArray(c) }))))
  )
const failure = (file: string) => Effect.flip(read(file)).pipe(Effect.map((e) => e.message))

describe("trace readers", () => {
  it.effect("Azure 2023 CSV: timestamps relative to the first, exact to the 100 ns digit", () =>
    Effect.gen(function*() {
      const { format, arrivals } = yield* read("azure.csv")
      expect(format).toBe("azure")
      expect(arrivals).toEqual([
        { arrivalNs: 0, promptTokens: 374, outputTokens: 44 },
        { arrivalNs: 4_314_579_000, promptTokens: 396, outputTokens: 109 },
        { arrivalNs: 4_319_410_000, promptTokens: 100, outputTokens: 1 }
      ])
    }))

  it.effect("Vidur CSV, LLMServingSim TSV and JSONL, Mooncake JSONL", () =>
    Effect.gen(function*() {
      expect(yield* read("vidur.csv")).toEqual({ format: "vidur", arrivals: [{ arrivalNs: 0, promptTokens: 374, outputTokens: 44 }, { arrivalNs: 4_314_579_000, promptTokens: 396, outputTokens: 109 }] })
      expect(yield* read("v1.tsv")).toEqual({ format: "llmservingsim-tsv", arrivals: [{ arrivalNs: 0, promptTokens: 10, outputTokens: 70 }, { arrivalNs: 301_012_144, promptTokens: 22, outputTokens: 104 }] })
      // prompt content (token ids, Mooncake block hash ids) rides along for prefix caching
      const v2 = yield* read("v2.jsonl")
      expect(v2.format).toBe("llmservingsim-jsonl")
      expect(v2.arrivals.map(({ content: _, ...a }) => a)).toEqual([{ arrivalNs: 0, promptTokens: 25, outputTokens: 619 }, { arrivalNs: 3_073_192, promptTokens: 30, outputTokens: 5 }])
      expect(v2.arrivals.map((a) => a.content?.kind === "tokens" ? Array.from(a.content.ids) : a.content)).toEqual([Array.from({ length: 25 }, (_, i) => i + 1), undefined])
      const mc = yield* read("mooncake.jsonl")
      expect(mc.arrivals.map(({ content: _, ...a }) => a)).toEqual([{ arrivalNs: 0, promptTokens: 6758, outputTokens: 500 }, { arrivalNs: 1_500_000_000, promptTokens: 100, outputTokens: 3 }])
      expect(mc.arrivals.map((a) => a.content?.kind === "hash-blocks" ? [Array.from(a.content.ids), a.content.blockTokens] : a.content)).toEqual([[Array.from({ length: 14 }, (_, i) => i), 512], [[14], 512]])
    }))

  it.effect("--num-requests takes the first N; --rate-scale divides the gaps", () =>
    Effect.gen(function*() {
      const { arrivals } = yield* read("azure.csv", { numRequests: 2, rateScale: 2 })
      expect(arrivals.map((a) => a.arrivalNs)).toEqual([0, 2_157_289_500])
    }))

  it.effect("malformed lines name the file, line, field and expectation", () =>
    Effect.gen(function*() {
      expect(yield* failure("azure-bad-field.csv")).toBe(`${dir}/azure-bad-field.csv:3: field 'ContextTokens': expected an integer >= 1 (got "abc")`)
      expect(yield* failure("azure-bad-time.csv")).toContain(`${dir}/azure-bad-time.csv:3: field 'TIMESTAMP': expected a timestamp`)
      expect(yield* failure("azure-short-row.csv")).toContain(`${dir}/azure-short-row.csv:3:`)
      expect(yield* failure("mooncake-bad-json.jsonl")).toContain(`${dir}/mooncake-bad-json.jsonl:2: expected a JSON object`)
      expect(yield* failure("mooncake-negative.jsonl")).toBe(`${dir}/mooncake-negative.jsonl:2: field 'input_length': expected an integer >= 1 (got -4)`)
      expect(yield* failure("mooncake-backwards.jsonl")).toContain(":2: field 'arrival time': expected arrival times in non-decreasing order")
      expect(yield* failure("v2-bad-ids.jsonl")).toBe(`${dir}/v2-bad-ids.jsonl:2: field 'input_tok_ids': expected an array of integers >= 0 (got "two" at index 1)`)
      expect(yield* failure("mooncake-short-hash.jsonl")).toBe(`${dir}/mooncake-short-hash.jsonl:1: field 'hash_ids': expected 3 ids (one per 512 tokens of input_length) (got 2)`)
      expect(yield* failure("unknown.csv")).toContain("use --trace-format")
      expect(yield* failure("missing.csv")).toBe(`${dir}/missing.csv: no such file`)
    }))

  it.effect("numbers written as text are decimals: hexadecimal and Infinity are errors, not 16", () =>
    Effect.gen(function*() {
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-trace-"))
      const csv = path.join(tmp, "hex.csv")
      fs.writeFileSync(csv, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,44\n2023-11-16 18:15:50.99,0x10,109\n")
      const e = yield* Effect.flip(openTrace(csv, {}).pipe(Effect.flatMap((t) => Stream.runDrain(t.arrivals))))
      expect(e.message).toBe(`${csv}:3: field 'ContextTokens': expected an integer >= 1 (got "0x10")`)
      fs.writeFileSync(csv, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374,1e1\n")
      const x = yield* Effect.flip(openTrace(csv, {}).pipe(Effect.flatMap((t) => Stream.runDrain(t.arrivals))))
      expect(x.message).toBe(`${csv}:2: field 'GeneratedTokens': expected an integer >= 1 (got "1e1")`)
      for (const [stamp, why] of [["2023-02-30 10:00:00", "Feb 30"], ["2023-11-16 25:15:46.68", "hour 25"], ["2023-03-02 10:00:99.5", "second 99"]]) {
        fs.writeFileSync(csv, `TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-28 10:00:00,374,44\n${stamp},374,44\n`)
        const bad = yield* Effect.flip(openTrace(csv, {}).pipe(Effect.flatMap((t) => Stream.runDrain(t.arrivals))))
        expect(bad.message, why).toBe(`${csv}:3: field 'TIMESTAMP': expected a date and time that exist (month 1-12, a day of that month, 00:00:00 to 23:59:59) (got "${stamp}")`)
      }
      fs.writeFileSync(csv, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.68,374.0,44\n")
      expect((yield* Stream.runCollect((yield* openTrace(csv, {})).arrivals)).pipe(Chunk.toArray).map((a) => a.promptTokens)).toEqual([374])
      const jsonl = path.join(tmp, "inf.jsonl")
      fs.writeFileSync(jsonl, JSON.stringify({ timestamp: "0x10", input_length: 10, output_length: 2, hash_ids: [1] }) + "\n")
      const f = yield* Effect.flip(openTrace(jsonl, {}).pipe(Effect.flatMap((t) => Stream.runDrain(t.arrivals))))
      expect(f.message).toContain(`${jsonl}:1: field 'timestamp'`)
    }))

  it.effect("a forced format checks the header", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(read("azure.csv", { format: "vidur" }))
      expect(e.message).toContain("missing arrived_at")
    }))
})

/** Issue 10's rough edges that are handled: one clear error line and exit 1, or the right result. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { runCapture } from "./capture.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-edges-"))
const json = (s: string) => JSON.parse(s) as Record<string, unknown>

describe("rough edges", () => {
  it.effect("bad inputs: one error line naming the flag or file, exit 1", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const cfg = JSON.parse(fs.readFileSync("resources/models/meta-llama/Llama-3.1-8B-Instruct/config.json", "utf8"))
      fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, num_key_value_heads: 7 }))
      fs.writeFileSync(path.join(dir, "binary.csv"), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256)))
      const full = tmp()
      fs.symlinkSync("/dev/full", path.join(full, "requests.csv"))
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["simulate", "--model", dir], "field 'num_key_value_heads': expected a divisor of num_attention_heads 32 (got 7)"],
        [["simulate", "--hardware", dir], "is a folder; --hardware takes a bundled name"],
        [["simulate", "--range-ratio", "0.3"], "error: --range-ratio: applies to --length-dist uniform"],
        [["simulate", "--length-sigma", "0.3", "--length-dist", "uniform"], "error: --length-sigma: applies to --length-dist lognormal"],
        [["simulate", "--trace", path.join(dir, "binary.csv")], "the file is binary, not text"],
        [["simulate", "--num-requests", "20", "--output-dir", full], `${path.join(full, "requests.csv")}: cannot write: ENOSPC`],
        [["simulate", "--num-instances", "100000", "--num-requests", "5"], "error: --num-instances: 100000 instances need about"],
        [["sweep", "--num-requests", "10", "--workers", "1", "--grid", "hardware=H100,Z80"], "error: sweep: 1 of 2 configurations failed"],
        [["simulate", "--num-requests", "2.5"], "error: --num-requests: expected an integer (got \"2.5\")"],
        [["simulate", "--num-requests", "99999999999999999999"], "error: --num-requests: expected an integer"],
        [["simulate", "--seed", "1", "--seed", "2"], "error: --seed: given twice"],
        [["simulate", "--trace-format", "foo"], "error: --trace-format: expected one of azure, vidur"],
        [["simulate", "--kv-cache-dtype", "fp4"], "error: --kv-cache-dtype: expected one of auto, fp8"],
        [["simulate", "--rate-scale", "abc"], "error: --rate-scale: expected a number"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture(...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toContain(message)
        expect(r.stderr.trim().split("\n").length, args.join(" ")).toBe(1)
        expect(r.stderr).not.toContain("    at ")
      }
    }))

  it.effect("a gzip-compressed trace reads as the plain one", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const plain = "test/fixtures/traces/azure.csv"
      const gz = path.join(dir, "azure.csv.gz")
      fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(plain)))
      const a = yield* runCapture("simulate", "--trace", plain, "--json")
      const b = yield* runCapture("simulate", "--trace", gz, "--json")
      expect(a.code).toBe(0)
      expect(b.code).toBe(0)
      const sa = json(a.stdout)
      const sb = json(b.stdout)
      expect(sb.completed).toBe(sa.completed)
      expect(sb.mean_ttft_ms).toBe(sa.mean_ttft_ms)
    }))

  it.effect("TP above the KV heads replicates one KV head per GPU, as vLLM: blocks about TP 8's plus the freed weights", () =>
    Effect.gen(function*() {
      const s8 = json((yield* runCapture("simulate", "--tensor-parallel-size", "8", "--num-requests", "5", "--json")).stdout)
      const s16 = json((yield* runCapture("simulate", "--tensor-parallel-size", "16", "--num-requests", "5", "--json")).stdout)
      const kv = (s: Record<string, unknown>) => (s.config as { kv_cache: { kvBytesPerToken: number; weightBytes: number; blockBytes: number } }).kv_cache
      expect(kv(s16).kvBytesPerToken).toBe(kv(s8).kvBytesPerToken)
      const freed = (kv(s8).weightBytes - kv(s16).weightBytes) / kv(s8).blockBytes
      const more = (s16.kv_cache_blocks as number) - (s8.kv_cache_blocks as number)
      expect(more).toBeGreaterThan(0)
      expect(Math.abs(more - freed)).toBeLessThan(0.25 * freed)
    }))

  it.effect("a rejected request's row records the output it asked for", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const r = yield* runCapture("simulate", "--max-model-len", "1000", "--input-len", "900", "--output-len", "200", "--num-requests", "3", "--output-dir", dir, "--quiet")
      expect(r.code).toBe(0)
      const rows = fs.readFileSync(path.join(dir, "requests.csv"), "utf8").trim().split("\n")
      const h = rows[0]!.split(",")
      for (const row of rows.slice(1)) {
        const c = row.split(",")
        expect(c[h.indexOf("status")]).toBe("rejected")
        expect(c[h.indexOf("output_tokens")]).toBe("200")
      }
    }))
})

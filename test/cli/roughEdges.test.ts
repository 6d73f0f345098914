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
      const layers = tmp()
      fs.writeFileSync(path.join(layers, "config.json"), JSON.stringify({ ...cfg, num_hidden_layers: -3, intermediate_size: 1 }))
      const ffn = tmp()
      fs.writeFileSync(path.join(ffn, "config.json"), JSON.stringify({ ...cfg, intermediate_size: 0 }))
      const moe = tmp()
      fs.writeFileSync(path.join(moe, "config.json"), JSON.stringify({ ...cfg, num_local_experts: 8 }))
      const csv = "TIMESTAMP,ContextTokens,GeneratedTokens\n" + Array.from({ length: 3000 }, (_, i) => `2023-11-16 ${String(10 + Math.floor(i / 3600)).padStart(2, "0")}:${String(Math.floor(i / 60) % 60).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}.0000000,${100 + i},${10 + (i % 7)}`).join("\n")
      const gz = zlib.gzipSync(csv)
      fs.writeFileSync(path.join(dir, "trunc.csv.gz"), gz.subarray(0, Math.floor(gz.length / 2)))
      fs.writeFileSync(path.join(dir, "binary.csv"), Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256)))
      fs.writeFileSync(path.join(dir, "lines.json"), "x\ny\n")
      const full = tmp()
      fs.symlinkSync("/dev/full", path.join(full, "requests.csv"))
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["simulate", "--model", dir], "field 'num_key_value_heads': expected a divisor of num_attention_heads 32 (got 7)"],
        [["simulate", "--hardware", dir], "is a folder; --hardware takes a bundled name"],
        [["simulate", "--output-dir", ""], "error: --output-dir: expected a value (got an empty string)"],
        [["simulate", "--model", layers], "field 'num_hidden_layers': expected a positive number (got -3)"],
        [["simulate", "--model", ffn], "field 'intermediate_size': expected a positive number (got 0)"],
        [["simulate", "--model", moe], "field 'num_experts_per_tok': expected the experts each token is routed to (the config gives 8 experts) (got missing)"],
        [["simulate", "--enable-prefix-caching", "--no-enable-prefix-caching"], "error: --enable-prefix-caching: given both on and off"],
        [["simulate", "--range-ratio", "0.3"], "error: --range-ratio: applies to --length-dist uniform"],
        [["simulate", "--length-sigma", "0.3", "--length-dist", "uniform"], "error: --length-sigma: applies to --length-dist lognormal"],
        [["simulate", "--trace", path.join(dir, "binary.csv")], "the file is binary, not text"],
        [["simulate", "--trace", path.join(dir, "trunc.csv.gz")], `${path.join(dir, "trunc.csv.gz")}: truncated gzip (unexpected end of file)`],
        [["simulate", "--num-requests", "20", "--output-dir", full], `${path.join(full, "requests.csv")}: cannot write: ENOSPC`],
        [["simulate", "--num-instances", "100000", "--num-requests", "5"], "error: --num-instances: 100000 instances need about"],
        [["sweep", "--num-requests", "10", "--workers", "1", "--grid", "hardware=H100,Z80"], "error: sweep: 1 of 2 configurations failed"],
        [["simulate", "--num-requests", "2.5"], "error: --num-requests: expected an integer (got \"2.5\")"],
        [["simulate", "--num-requests", "99999999999999999999"], "error: --num-requests: expected an integer"],
        [["simulate", "--seed", "1", "--seed", "2"], "error: --seed: given twice"],
        [["simulate", "--trace-format", "foo"], "error: --trace-format: expected one of azure, vidur"],
        [["simulate", "--kv-cache-dtype", "fp4"], "error: --kv-cache-dtype: expected one of auto, fp8"],
        [["simulate", "--rate-scale", "abc"], "error: --rate-scale: expected a number"],
        [["simulate", "--hardware", path.join(dir, "lines.json")], `${path.join(dir, "lines.json")}: expected valid JSON (got line 1, column 1: Unexpected token 'x')`],
        [["simulate", "--num-requests", "3", "--trace-events", path.join(dir, "lines.json", "x.json")], `${path.join(dir, "lines.json", "x.json")}: cannot write --trace-events: its folder ${path.join(dir, "lines.json")} could not be made`],
        [["simulate", "--num-requests", "3", "--trace-events", dir], `${dir}: cannot write --trace-events: it is a folder`],
        [["sweep", "--num-requests", "5", "--workers", "1", "--grid", "max-num-seqs=4,8", "--output", path.join(dir, "lines.json", "s.csv")], "cannot write --output: its folder"],
        [["calibrate", "--profile", "test/fixtures/no-such-profile", "--hardware", "RTX4090", "--model", "meta-llama/Llama-3.1-8B", "-o", dir], `${dir}: cannot write --output: it is a folder`],
        [["simulate", "--num-instances", "2", "--router", "weighted", "--router-weights", "queue=1,,kv=2"], "error: --router-weights: an empty entry in 'queue=1,,kv=2'"],
        [["simulate", "--goodput", "ttft:300,"], "error: --goodput: an empty entry in 'ttft:300,'"],
        [["simulate", "--shared-prefix", "num_groups=2,num_prompts_per_group=3,system_prompt_len=100,question_len=50,output_len=20,num_groups=3"], "error: --shared-prefix: 'num_groups' is given twice"],
        [["simulate", "--timeseries-interval-s", "0x10", "--num-requests", "3"], "error: --timeseries-interval-s: expected a number (got \"0x10\")"],
        [["setup-perf", "--output-dir", path.join(dir, "sp"), "--hardware", "H100", "--models", "qwen3-8b,Qwen/Qwen3-8B"], "error: --models: 'qwen3-8b' and 'Qwen/Qwen3-8B' are both Qwen/Qwen3-8B; give it once"],
        [["setup-perf", "--output-dir", path.join(dir, "sp"), "--hardware", "H100,"], "error: --hardware: an empty entry in 'H100,'"],
        [["simulate", "--rate-scale", "0x2"], "error: --rate-scale: expected a number (got \"0x2\")"],
        [["simulate", "--request-rate", "0x10"], "error: --request-rate: expected a number > 0 or inf (got 0x10)"],
        [["simulate", "--num-requests", "1e3"], "error: --num-requests: expected an integer (got \"1e3\")"],
        [["simulate", "--goodput", "ttft:0x10"], "error: --goodput: invalid value '0x10' for ttft"],
        [["sweep", "--num-requests", "5", "--grid", "max-num-seqs=0x10"], "error: --grid: max-num-seqs: expected an integer (got '0x10')"],
        [["validate", "--run", path.join(dir, "no-such-run")], `${path.join(dir, "no-such-run")}: no such file or folder (--run:`],
        [["reproduce", "test/fixtures/no-such.csv", "--output", path.join(full, "requests.csv", "x.csv")], "cannot write --output:"]
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

  it.effect("an edited config.json is reported under its path, not as the original model", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = path.join(dir, "config.json")
      const cfg = JSON.parse(fs.readFileSync("resources/models/meta-llama/Llama-3.1-8B-Instruct/config.json", "utf8"))
      expect(cfg._name_or_path).toBe("meta-llama/Llama-3.1-8B-Instruct")
      fs.writeFileSync(file, JSON.stringify({ ...cfg, num_hidden_layers: 16 }))
      const out = path.join(dir, "out")
      const r = yield* runCapture("simulate", "--model", file, "--num-requests", "5", "--output-dir", out)
      expect(r.code).toBe(0)
      const named = `meta-llama/Llama-3.1-8B-Instruct (from ${file})`
      expect(r.stdout).toContain(named)
      const s = json(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      expect((s.config as { model: string }).model).toBe(named)
      // the folder, and a config without _name_or_path: the path alone
      const { _name_or_path: _, ...bare } = cfg
      fs.writeFileSync(file, JSON.stringify(bare))
      const j = json((yield* runCapture("simulate", "--model", dir, "--num-requests", "5", "--json")).stdout)
      expect((j.config as { model: string }).model).toBe(dir)
      // a bundled id is unchanged
      const b = json((yield* runCapture("simulate", "--num-requests", "5", "--json")).stdout)
      expect((b.config as { model: string }).model).toBe("meta-llama/Llama-3.1-8B-Instruct")
    }))

  it.effect("a flag of another command, or a near miss: one line naming the flag, the command and what to use", () =>
    Effect.gen(function*() {
      const cases: Array<[ReadonlyArray<string>, string]> = [
        [["serve", "--cluster-config", "c.yaml"], "error: --cluster-config: `serve` takes no cluster file (it runs one colocated pool); use `simulate --cluster-config FILE` to simulate a cluster"],
        [["server", "--cluster-config=c.yaml"], "error: --cluster-config: `server` takes no cluster file"],
        [["validate", "--run", "r", "--workload", "w", "--cluster-config", "c.yaml"], "error: --cluster-config: `validate` takes no cluster file"],
        [["serve", "--output-dir", "d"], "error: --output-dir: `serve` writes no result files (its metrics are at GET /metrics); use `simulate --output-dir DIR`"],
        [["sweep", "--output-dir", "d", "--grid", "seed=1,2"], "error: --output-dir: `sweep` does not take it; it writes one CSV row per configuration to --output FILE"],
        [["validate", "--exact-steps"], "error: --exact-steps: `validate` does not take it (fast-forwarded decode steps give the same results); only `simulate` runs every step one by one"],
        [["sweep", "--exact-steps", "--grid", "seed=1,2"], "error: --exact-steps: `sweep` does not take it"],
        [["simulate", "--grid", "seed=1,2"], "error: --grid: `simulate` does not take it; use `sweep --grid flag=v1,v2 ...`"],
        [["simulate", "--output", "x.csv"], "error: --output: `simulate` does not take it; it writes its results to a folder: --output-dir DIR"],
        [["serve", "--trace", "t.csv"], "error: --trace: `serve` answers HTTP requests and takes no workload; send one with `test-api --trace ...`"],
        [["test-api", "--port", "8000"], "error: --port: `test-api` does not take it; give the server's address as --base-url http://HOST:PORT"],
        [["simulate", "--echo"], "error: --echo: `simulate` does not take it (it is a flag of `serve`); see `llmservingsim simulate --help`"],
        [["calibrate", "--num-requests", "3"], "error: --num-requests: `calibrate` does not take it (it is a flag of `simulate`, `sla`, `sweep`, `test-api`)"],
        [["simulate", "--num-request", "5"], "error: --num-request: unknown argument to `simulate`; did you mean --num-requests?"],
        [["simulate", "--tensor-parallel", "2"], "error: --tensor-parallel: unknown argument to `simulate`; did you mean --tensor-parallel-size?"],
        [["serve", "--prot", "8001"], "error: --prot: unknown argument to `serve`; did you mean --port?"],
        [["simulate", "--bogus"], "error: Received unknown argument: '--bogus'"]
      ]
      for (const [args, message] of cases) {
        const r = yield* runCapture(...args)
        expect(r.code, args.join(" ")).toBe(1)
        expect(r.stderr, args.join(" ")).toContain(message)
        expect(r.stderr.trim().split("\n").length, args.join(" ")).toBe(1)
      }
      const other = yield* runCapture("simulate", "--num-requests", "3", "--served-model-name", "x")
      expect(other.stderr).toContain("`simulate` does not take it (it is a flag of `serve`, `test-api`)")
      // a value flag's value is its value, whatever it looks like (here --grid's, refused by the grid)
      const value = yield* runCapture("sweep", "--grid", "--exact-steps=1,2")
      expect(value.stderr).toContain("error: --grid: 'exact-steps' is not a sweepable flag")
      // the command's own flags and the built-ins pass
      expect((yield* runCapture("simulate", "--help")).code).toBe(0)
      const v = yield* runCapture("sweep", "--grid", "seed=1,2", "--num-requests", "3", "--workers", "1", "--quiet")
      expect(v.code).toBe(0)
    }))
})

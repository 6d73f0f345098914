/** --cluster-config: one colocated pool equals plain flags byte for byte; errors name file and field; disaggregated runs from a file. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "../cli/capture.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-cluster-"))
const write = (dir: string, name: string, text: string) => {
  const f = path.join(dir, name)
  fs.writeFileSync(f, text)
  return f
}
const files = ["summary.json", "requests.csv", "timeseries.csv", "steps.csv"]

describe("--cluster-config", () => {
  it.effect("one colocated instance: byte-identical outputs through a cluster file and through plain flags", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const workload = ["--num-requests", "150", "--request-rate", "20", "--length-dist", "lognormal", "--seed", "3", "--quiet", "--step-log"]
      const flagsOut = path.join(dir, "flags")
      yield* runCapture("simulate", "--model", "qwen3-8b", "--hardware", "A100", "--max-num-seqs", "64", ...workload, "--output-dir", flagsOut)
      const yaml = write(dir, "one.yaml", "pools:\n  - instances: 1\n    model: qwen3-8b\n    hardware: A100\n    engine: { max-num-seqs: 64 }\n")
      // disaggregation configured off: one colocated pool (kv_role kv_both, vLLM's "both phases")
      const json = write(dir, "one.json", JSON.stringify({
        router: "round-robin",
        pools: [{ kv_transfer_config: { kv_role: "kv_both" }, model: "qwen3-8b", engine: { "max_num_seqs": 64 } }]
      }))
      for (const [f, extra] of [[yaml, []], [json, ["--hardware", "A100"]]] as const) {
        const out = path.join(dir, `out-${path.basename(f)}`)
        const r = yield* runCapture("simulate", "--cluster-config", f, ...extra, ...workload, "--output-dir", out)
        expect(r.stderr, r.stderr).toBe("")
        expect(r.code).toBe(0)
        for (const name of files) {
          const a = fs.readFileSync(path.join(flagsOut, name), "utf8")
          const b = fs.readFileSync(path.join(out, name), "utf8")
          expect(b === a, `${f}: ${name} differs`).toBe(true)
        }
      }
    }))

  it.effect("the cache-aware thresholds of a file are the --router-cache-aware flag's: the same routing, byte for byte", () =>
    Effect.gen(function*() {
      const dir = tmp()
      // a Mooncake-format trace: 4 conversations of 10 turns, each turn's prompt the previous one plus a block
      const lines = Array.from({ length: 40 }, (_, i) => {
        const conv = i % 4
        const turn = Math.floor(i / 4)
        const hash_ids = Array.from({ length: turn + 2 }, (_, b) => (b === 0 ? 0 : conv * 1000 + b))
        return JSON.stringify({ timestamp: i * 150, input_length: 512 * hash_ids.length, output_length: 20, hash_ids })
      })
      const trace = write(dir, "conv.jsonl", lines.join("\n") + "\n")
      const common = ["--trace", trace, "--hardware", "A100", "--quiet"]
      const flagsOut = path.join(dir, "flags")
      const f = yield* runCapture("simulate", ...common, "--num-instances", "3", "--router", "cache-aware", "--router-cache-aware", "cache_threshold=0.6,balance_abs_threshold=2", "--output-dir", flagsOut)
      expect(f.code, f.stderr).toBe(0)
      const yaml = write(dir, "ca.yaml", "router: { policy: cache-aware, cache_threshold: 0.6, balance_abs_threshold: 2 }\npools:\n  - instances: 3\n")
      const out = path.join(dir, "file")
      const r = yield* runCapture("simulate", "--cluster-config", yaml, ...common, "--output-dir", out)
      expect(r.code, r.stderr).toBe(0)
      expect(fs.readFileSync(path.join(out, "requests.csv"), "utf8")).toBe(fs.readFileSync(path.join(flagsOut, "requests.csv"), "utf8"))
      // summary.json records the router in the file's names, with only what cache-aware reads
      const recorded = (JSON.parse(fs.readFileSync(path.join(flagsOut, "summary.json"), "utf8")) as { config: { router: unknown } }).config.router
      expect(recorded).toEqual({ policy: "cache-aware", cache_threshold: 0.6, balance_abs_threshold: 2, balance_rel_threshold: 1.5, staleness_ms: 0 })
      // and the thresholds matter: SGLang's defaults route this trace otherwise
      const defOut = path.join(dir, "defaults")
      yield* runCapture("simulate", ...common, "--num-instances", "3", "--router", "cache-aware", "--output-dir", defOut)
      expect(fs.readFileSync(path.join(defOut, "requests.csv"), "utf8")).not.toBe(fs.readFileSync(path.join(flagsOut, "requests.csv"), "utf8"))
      // the bundled example parses
      const ex = yield* runCapture("simulate", "--cluster-config", "resources/clusters/8x-cache-aware-llama3.1-8b-a100.yaml", "--num-requests", "20", "--quiet")
      expect(ex.code, ex.stderr).toBe(0)
    }))

  it.effect("the console's Pools table shows a lone colocated pool's latencies: the run's", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--num-instances", "2", "--num-requests", "30")
      expect(r.code, r.stderr).toBe(0)
      const value = (label: string) => /^(\S[^:]*):\s+(\S+)$/m.exec(r.stdout.split("\n").find((l) => l.startsWith(label)) ?? "")?.[2]
      const row = r.stdout.split("\n").find((l) => l.startsWith("default "))!.trim().split(/\s+/)
      expect(row.slice(-3)).toEqual([value("Mean TTFT (ms):"), value("Mean TPOT (ms):"), value("P99 E2EL (ms):")])
      expect(row.slice(-3)).not.toContain("-")
    }))

  it.effect("2 prefill + 2 decode from a file: every request finishes on a decode instance after its transfer", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const out = path.join(dir, "out")
      const r = yield* runCapture("simulate", "--cluster-config", "resources/clusters/2p2d-llama3.1-8b-h100.yaml", "--num-requests", "200", "--request-rate", "20", "--output-dir", out, "--step-log")
      expect(r.code).toBe(0)
      expect(r.stdout).toContain("Pools")
      const s = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      expect(s.completed).toBe(200)
      expect(s.pools.map((p: { role: string }) => p.role)).toEqual(["prefill", "decode"])
      expect(s.instances.map((x: { role: string }) => x.role)).toEqual(["prefill", "prefill", "decode", "decode"])
      const rows = fs.readFileSync(path.join(out, "requests.csv"), "utf8").trim().split("\n")
      const h = rows[0]!.split(",")
      const col = (name: string) => h.indexOf(name)
      for (const row of rows.slice(1)) {
        const c = row.split(",")
        expect(c[col("pool")]).toBe("decode")
        expect(["0", "1"]).toContain(c[col("prefill_instance")])
        expect(Number(c[col("kv_transfer_end_ms")])).toBeGreaterThan(Number(c[col("kv_transfer_start_ms")]))
        expect(Number(c[col("first_token_ms")])).toBeGreaterThan(Number(c[col("kv_transfer_end_ms")]))
      }
      const steps = fs.readFileSync(path.join(out, "steps.csv"), "utf8").trim().split("\n").slice(1)
      expect(new Set(steps.map((l) => l.split(",")[1]))).toEqual(new Set(["prefill", "decode"]))
      // timeseries.csv: a row per bucket for each of the 4 instances; output tokens come from the decode pool
      const series = fs.readFileSync(path.join(out, "timeseries.csv"), "utf8").trim().split("\n")
      const head = series[0]!.split(",")
      const rowsOf = (pool: string) => series.slice(1).map((l) => l.split(",")).filter((c) => c[head.indexOf("pool")] === pool)
      const total = (rows: Array<Array<string>>, name: string) => rows.reduce((a, c) => a + Number(c[head.indexOf(name)]), 0)
      expect(rowsOf("prefill").length).toBe(rowsOf("decode").length)
      expect((series.length - 1) % 4).toBe(0)
      expect(total(rowsOf("decode"), "generation_tokens")).toBe(s.total_output_tokens)
      expect(total(rowsOf("prefill"), "generation_tokens")).toBe(0)
      expect(total(rowsOf("decode"), "requests_finished")).toBe(200)
      expect(total(rowsOf("prefill"), "prompt_tokens")).toBeGreaterThan(0)
    }))

  it.effect("bad files: one error line naming the file and the field", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const cases: Array<[string, string, ReadonlyArray<string>, string]> = [
        ["typo.yaml", "pools:\n  - instancez: 2\n", [], "typo.yaml: field 'pools.0.instancez': expected no such field"],
        ["neg.yaml", "pools:\n  - instances: -1\n", [], "neg.yaml: field 'pools.0.instances': expected"],
        ["empty.yaml", "pools: []\n", [], "empty.yaml: field 'pools.0': expected a value here (it is missing)"],
        ["flag.yaml", "pools:\n  - engine: { max-num-seq: 4 }\n", [], "flag.yaml: field 'pools.0.engine.max-num-seq': expected an engine flag"],
        ["type.yaml", "pools:\n  - engine: { max-num-seqs: lots }\n", [], "type.yaml: field 'pools.0.engine.max-num-seqs': expected an integer"],
        ["range.yaml", "pools:\n  - engine: { gpu-memory-utilization: 2 }\n", [], "range.yaml: field 'pools.0.engine.gpu-memory-utilization': expected a number in (0, 1]"],
        ["hw.yaml", "pools:\n  - hardware: Z80\n", [], "hw.yaml: pools.0.hardware: unknown hardware 'Z80'"],
        ["lonely.yaml", "pools:\n  - role: prefill\n", [], "lonely.yaml: field 'pools': expected a decode pool for every prefill pool"],
        ["mixed.yaml", "pools:\n  - role: prefill\n  - role: decode\n  - role: colocated\n", [], "mixed.yaml: field 'pools': expected either colocated pools only"],
        ["roles.yaml", "pools:\n  - role: prefill\n    kv_transfer_config: { kv_role: kv_consumer }\n  - role: decode\n", [], "roles.yaml: field 'pools.0.role': expected the role its kv_transfer_config.kv_role kv_consumer implies (decode)"],
        ["models.yaml", "pools:\n  - role: prefill\n  - role: decode\n    model: qwen3-8b\n", [], "models.yaml: field 'pools': expected prefill and decode pools serving one model"],
        ["router.yaml", "router: fastest\npools:\n  - instances: 2\n", [], "router.yaml: field 'router': expected one of round-robin"],
        ["ca.yaml", "router: { policy: cache-aware, balance_rel_threshold: 0.5 }\npools:\n  - instances: 2\n", [], "ca.yaml: field 'router.balance_rel_threshold': expected a number >= 1 (got 0.5)"],
        ["ca2.yaml", "router: { policy: prefix-aware, cache_threshold: 0.5 }\npools:\n  - instances: 2\n", [], "ca2.yaml: field 'router.cache_threshold': expected no cache_threshold with policy prefix-aware (it applies to policy cache-aware)"],
        ["stray.yaml", "kv_transfer: { mode: layerwise }\npools:\n  - instances: 2\n", [], "stray.yaml: field 'kv_transfer': expected no such field in a cluster without prefill and decode pools"],
        ["twice.yaml", "pools:\n  - engine: { tensor-parallel-size: 2, tensor_parallel_size: 4 }\n", [], "twice.yaml: field 'pools.0.engine.tensor_parallel_size': expected each engine flag once"],
        ["dtype.yaml", "pools:\n  - engine: { kv-cache-dtype: fp4 }\n", [], "dtype.yaml: field 'pools.0.engine.kv-cache-dtype': expected auto or fp8"],
        ["conn.yaml", "pools:\n  - role: prefill\n    kv_transfer_config: { kv_role: kv_producer, kv_connector: FooConnector }\n  - role: decode\n", [], "conn.yaml: field 'pools.0.kv_transfer_config.kv_connector': expected"],
        ["kvdt.yaml", "pools:\n  - role: prefill\n    engine: { kv-cache-dtype: fp8 }\n  - role: decode\n", [], "kvdt.yaml: field 'pools': expected prefill and decode pools with one --kv-cache-dtype"],
        ["top.yaml", "- 1\n- 2\n", [], "top.yaml: field '(top level)': expected a mapping with a 'pools' list"],
        ["rt.yaml", "router: weighted\npools:\n  - instances: 2\n", ["--router", "random"], "error: --router: "],
        ["rt2.yaml", "router: weighted\npools:\n  - instances: 2\n", ["--router-cache-aware", "cache_threshold=0.2"], "error: --router-cache-aware: "],
        ["dup.yaml", "pools:\n  - name: a\n  - name: a\n", [], "dup.yaml: field 'pools.1.name': expected a name no other pool has"],
        ["syntax.yaml", "pools: [\n", [], "syntax.yaml: expected valid YAML"],
        ["syntax.json", '{\n  "pools": [\n    {"instances": x}\n  ]\n}\n', [], "syntax.json: expected valid JSON (line 3, column 19: Unexpected token 'x')"],
        ["twicekey.yaml", "pools:\n  - name: a\n    instances: 2\n    instances: 3\n", [], "twicekey.yaml: field 'pools.0.instances': expected each key once (given on line 3 and again on line 4; remove one)"],
        ["twicekey.json", '{"pools": [{"instances": 2,\n "instances": 3}]}', [], "twicekey.json: field 'pools.0.instances': expected each key once (given on line 1 and again on line 2; remove one)"],
        ["hex.yaml", "pools:\n  - name: a\n    instances: 0x2\n", [], "hex.yaml: field 'pools.0.instances': expected a decimal number (got 0x2 on line 3; write it in decimal digits, or quote it for text)"],
        ["abs.yaml", "router: { policy: cache-aware, balance_abs_threshold: 1.5 }\npools:\n  - instances: 2\n", [], "abs.yaml: field 'router.balance_abs_threshold': expected an integer"],
        ["ok.yaml", "pools:\n  - instances: 2\n", ["--num-instances", "2"], "error: --num-instances: not with --cluster-config"]
      ]
      for (const [name, text, extra, message] of cases) {
        const f = write(dir, name, text)
        const r = yield* runCapture("simulate", "--cluster-config", f, "--num-requests", "5", ...extra)
        expect(r.code, name).toBe(1)
        expect(r.stderr, name).toContain(message)
        expect(r.stderr.trim().split("\n").length, name).toBe(1)
      }
      const r = yield* runCapture("simulate", "--cluster-config", path.join(dir, "missing.yaml"))
      expect(r.code).toBe(1)
      expect(r.stderr).toContain("missing.yaml")
    }))
})

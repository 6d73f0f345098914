/**
 * LoRA serving (--enable-lora), hand-computed with a constant 10 ms step on the tiny test model:
 * vLLM's max_loras admission rule (a request whose adapter would exceed it is set aside, the rest
 * go on), adapter loads from storage and from the host cache added to their step (load stalls),
 * the LoRA kernels' fixed cost, adapter-keyed prefix caching, the slot memory taken from the KV
 * cache, and the flags' refusals.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { resolveConfig } from "../../src/config/resolve.js"
import type { LoraConfig } from "../../src/domain/LoraConfig.js"
import { adapterBytes, loraElementsPerLayerPerRank } from "../../src/lora/adapterSize.js"
import type { Arrival } from "../../src/engine/Engine.js"
import { runCapture } from "../cli/capture.js"
import { ms, runScenario, testHardware, testModel } from "../helpers.js"

// the tiny model's rank-16 adapter: 4 layers x 16 x 7,936 elements x 2 bytes = 1,015,808 bytes
const ADAPTER_BYTES = 1_015_808
// so 1 ms over a host link of that many bytes per ms each way (hostLinkGBs counts both directions), 1 ms
// more from storage at the same rate; the
// GPU's compute and HBM so fast that the LoRA kernels' FLOP and byte terms round away (< 1 ns)
const hardware = { ...testHardware, hostLinkGBs: (2 * ADAPTER_BYTES) / 1e6, bf16Tflops: 1e9, fp16Tflops: 1e9, memoryBandwidthGBs: 1e9 }
const storageGBs = ADAPTER_BYTES / 1e6
/** LoRA kernels' fixed cost per step: 4 layers x 8 kernels x 1.5 us (the default kernel overhead); the rest rounds to ns. */
const KERNELS_NS = 4 * 8 * 1500

const lora = (maxLoras: number, maxCpuLoras: number, names = ["a", "b"]): LoraConfig => ({
  maxLoras, maxLoraRank: 16, maxCpuLoras, adapters: names.map((name) => ({ name, rank: 16 })), storageGBs
})
const req = (arrivalMs: number, id: number, prompt = 10, output = 3): Arrival => ({ arrivalNs: ms(arrivalMs), promptTokens: prompt, outputTokens: output, lora: id })
type Row = { id: number; firstTokenNs: number; finishNs: number; cachedPromptTokens: number }
const byId = (store: { requests: Array<{ request: { id: number } }> }) =>
  [...store.requests].sort((a, b) => a.request.id - b.request.id).map((r) => r.request as never as Row)

describe("LoRA adapters", () => {
  it("sizes: the tiny model's adapter, and Llama-3.1-8B's per-layer elements per rank", () => {
    expect(loraElementsPerLayerPerRank(testModel, 1)).toBe(7936)
    expect(adapterBytes(testModel, 16, 1, 2)).toBe(ADAPTER_BYTES)
  })

  it.effect("max_loras 1: a request of another adapter is set aside while the step has one; loads stall their step", () =>
    Effect.gen(function*() {
      // A (adapter 1), B (adapter 2), C (adapter 1) at 0. Step 1 admits A and C, sets B aside; adapter
      // 1 is read from storage (1 ms) and copied to the GPU (1 ms): 10 + 2 ms + kernels. A and C
      // decode in steps 2 and 3 (B set aside each time), finish at the end of step 3. Step 4 admits
      // B: adapter 2 evicts 1 from the one GPU slot and the one host slot, 2 ms load again.
      const { store, summary } = yield* runScenario([req(0, 1), req(0, 2), req(0, 1)], { engine: { lora: lora(1, 1) }, hardware })
      const [a, b, c] = byId(store)
      const s1 = ms(12) + KERNELS_NS, s = ms(10) + KERNELS_NS
      expect([a!.firstTokenNs, c!.firstTokenNs, a!.finishNs, c!.finishNs]).toEqual([s1, s1, s1 + 2 * s, s1 + 2 * s])
      expect([b!.firstTokenNs, b!.finishNs]).toEqual([2 * s1 + 2 * s, 2 * s1 + 4 * s])
      expect(summary.lora).toMatchObject({ gpu_loads: 2, storage_loads: 2, stalled_steps: 2, load_stall_s: 0.004, lora_steps: 6, max_loras_skips: 3 })
      expect(summary.lora!.adapters.map((x) => x.requests)).toEqual([2, 1])
    }))

  it.effect("max_loras 2: both adapters in one step, two loads in it", () =>
    Effect.gen(function*() {
      const { store, summary } = yield* runScenario([req(0, 1), req(0, 2), req(0, 1)], { engine: { lora: lora(2, 2) }, hardware })
      const rows = byId(store)
      const s1 = ms(14) + KERNELS_NS, s = ms(10) + KERNELS_NS
      expect(rows.map((r) => r.finishNs)).toEqual([s1 + 2 * s, s1 + 2 * s, s1 + 2 * s])
      expect(summary.lora).toMatchObject({ gpu_loads: 2, storage_loads: 2, stalled_steps: 1, max_loras_skips: 0 })
    }))

  it.effect("an adapter evicted from the GPU but still in host memory comes back over the host link only", () =>
    Effect.gen(function*() {
      // one GPU slot, two host slots: adapter 1, then 2, then 1 again, one request at a time
      const { store, summary } = yield* runScenario([req(0, 1, 10, 1), req(100, 2, 10, 1), req(200, 1, 10, 1)], { engine: { lora: lora(1, 2) }, hardware })
      const rows = byId(store)
      expect(rows.map((r) => r.finishNs - ms([0, 100, 200][r.id]!))).toEqual([ms(12) + KERNELS_NS, ms(12) + KERNELS_NS, ms(11) + KERNELS_NS])
      expect(summary.lora).toMatchObject({ gpu_loads: 3, storage_loads: 2, load_stall_s: 0.005 })
    }))

  it.effect("base-model requests pay no LoRA time; a resident adapter costs only its kernels", () =>
    Effect.gen(function*() {
      const { store, summary } = yield* runScenario([req(0, 0, 10, 2), req(100, 1, 10, 2), req(200, 1, 10, 2)], { engine: { lora: lora(1, 1) }, hardware })
      const rows = byId(store)
      expect(rows.map((r) => r.finishNs - ms([0, 100, 200][r.id]!))).toEqual([ms(20), ms(22) + 2 * KERNELS_NS, ms(20) + 2 * KERNELS_NS])
      expect(summary.lora!.base_model.requests).toBe(1)
    }))

  it.effect("prefix caching is keyed by adapter: the same prompt hits only under the same adapter", () =>
    Effect.gen(function*() {
      const ids = Int32Array.from({ length: 48 }, (_, i) => i)
      const at = (t: number, id: number): Arrival => ({ ...req(t, id, 48, 1), content: { kind: "tokens", ids } })
      const { store } = yield* runScenario([at(0, 1), at(100, 1), at(200, 2), at(300, 0)], { engine: { lora: lora(1, 2) }, hardware })
      expect(byId(store).map((r) => r.cachedPromptTokens)).toEqual([0, 32, 0, 0])
    }))

  it.effect.prop("every request finishes, in any mix of adapters, budgets and KV sizes", [
    fc.array(fc.record({ gap: fc.integer({ min: 0, max: 30 }), id: fc.integer({ min: 0, max: 5 }), prompt: fc.integer({ min: 1, max: 200 }), out: fc.integer({ min: 1, max: 30 }) }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 })
  ], ([reqs, maxLoras, extraCpu]) =>
    Effect.gen(function*() {
      let t = 0
      const arrivals = reqs.map((r) => req((t += r.gap), r.id, r.prompt, r.out))
      const { summary } = yield* runScenario(arrivals, {
        engine: { lora: lora(maxLoras, maxLoras + extraCpu, ["a", "b", "c", "d", "e"]), maxNumBatchedTokens: 256, maxNumSeqs: 8 }, hardware, numBlocks: 64
      })
      expect(summary.completed).toBe(reqs.length)
      expect(summary.lora!.adapters.reduce((a, x) => a + x.requests, summary.lora!.base_model.requests)).toBe(reqs.length)
    }), { fastCheck: { numRuns: 40 } })

  it.effect("the GPU slots come off the KV cache: max_loras x an 80 MiB rank-16 slot on Llama-3.1-8B", () =>
    Effect.gen(function*() {
      const flags = { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }
      const base = yield* resolveConfig(flags)
      const on = yield* resolveConfig({ ...flags, enableLora: true, maxLoras: 4, loraModules: "x,y" })
      expect(on.engine.lora).toMatchObject({ maxLoras: 4, maxLoraRank: 16, maxCpuLoras: 4, adapters: [{ name: "x", rank: 16 }, { name: "y", rank: 16 }] })
      // 32 layers x 16 x 81,920 elements x 2 bytes = 83,886,080 bytes per slot
      const { kvCapacity } = yield* Effect.promise(() => import("../../src/memory/capacity.js"))
      const a = kvCapacity(base.model, base.hardware, base.engine) as { weightBytes: number }
      const b = kvCapacity(on.model, on.hardware, on.engine) as { weightBytes: number }
      expect(b.weightBytes - a.weightBytes).toBe(4 * 83_886_080)
    }))

  it.effect("an adapter directory gives its rank; above --max-lora-rank it is refused", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lora-"))
      fs.writeFileSync(path.join(dir, "adapter_config.json"), JSON.stringify({ r: 8, lora_alpha: 16 }))
      const ok = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", enableLora: true, loraModules: `sql=${dir}` })
      expect(ok.engine.lora!.adapters).toEqual([{ name: "sql", rank: 8, path: dir }])
      const bad = yield* runCapture("simulate", "--enable-lora", "--max-lora-rank", "8", "--lora-modules", `sql=${dir}`, "--num-requests", "5", "--quiet")
      expect(bad.code).toBe(0)
      fs.writeFileSync(path.join(dir, "adapter_config.json"), JSON.stringify({ r: 32 }))
      const high = yield* runCapture("simulate", "--enable-lora", "--lora-modules", `sql=${dir}`, "--num-requests", "5", "--quiet")
      expect(high.code).not.toBe(0)
      expect(high.stderr).toContain(`--lora-modules: adapter sql (${dir}) has rank 32, above --max-lora-rank 16`)
      const missing = yield* runCapture("simulate", "--enable-lora", "--lora-modules", "x=/nonexistent/adapter", "--num-requests", "5", "--quiet")
      expect(missing.stderr).toContain("/nonexistent/adapter/adapter_config.json: no such file")
    }))

  it.effect("refusals name the flag", () =>
    Effect.gen(function*() {
      const cases: Array<[Array<string>, string]> = [
        [["--max-loras", "2"], "--max-loras: applies with --enable-lora"],
        [["--enable-lora"], "--enable-lora: needs --lora-modules"],
        [["--enable-lora", "--lora-modules", "a", "--max-lora-rank", "12"], "--max-lora-rank: expected one of vLLM's ranks"],
        [["--enable-lora", "--lora-modules", "a", "--max-loras", "4", "--max-cpu-loras", "2"], "--max-cpu-loras: 2 must be at least --max-loras 4"],
        [["--enable-lora", "--lora-modules", "a", "a"], "--lora-modules: adapter \"a\" is given twice"],
        [["--enable-lora", "--lora-modules", "a,,b"], "--lora-modules: expected NAME or NAME=PATH"],
        [["--enable-lora", "--lora-modules", "meta-llama/Llama-3.1-8B-Instruct"], "is the base model's"],
        [["--enable-lora", "--lora-modules", "a", "--scheduling-policy", "sjf"], "--enable-lora: LoRA is modelled for --scheduling-policy fcfs only"],
        [["--enable-lora", "--lora-modules", "a", "--model", "mistralai/Mixtral-8x7B-v0.1", "--tensor-parallel-size", "2"], "MoE experts is not modelled"],
        [["--enable-lora", "--lora-modules", "a", "--num-sessions", "3"], "--enable-lora: LoRA with a session workload is not modelled"]
      ]
      for (const [args, msg] of cases) {
        const count = args.includes("--num-sessions") ? [] : ["--num-requests", "5"]
        const r = yield* runCapture("simulate", ...count, "--quiet", ...args)
        expect(r.code, args.join(" ")).not.toBe(0)
        expect(r.stderr, args.join(" ")).toContain(msg)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    }))

  it.effect("a trace's lora field names the adapter; an unknown name or one without --enable-lora is refused", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lora-trace-"))
      const trace = path.join(dir, "t.jsonl")
      const line = (t: number, lora?: string) => JSON.stringify({ arrival_time_ns: t * 1e6, input_toks: 100, output_toks: 20, ...(lora === undefined ? {} : { lora }) })
      fs.writeFileSync(trace, [line(0, "sql"), line(10, ""), line(20, "sql"), line(30, "chat"), JSON.stringify({ arrival_time_ns: 40e6, input_toks: 100, output_toks: 20, lora: null })].join("\n") + "\n")
      const out = path.join(dir, "out")
      const ok = yield* runCapture("simulate", "--trace", trace, "--enable-lora", "--lora-modules", "sql", "chat", "--output-dir", out, "--quiet")
      expect(ok.code, ok.stderr).toBe(0)
      const s = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
      expect(s.lora.adapters.map((a: { name: string; requests: number }) => [a.name, a.requests])).toEqual([["sql", 2], ["chat", 1]])
      // "" and null name the base model
      expect(s.lora.base_model.requests).toBe(2)
      // requests.csv names each request's adapter in a last `lora` column (empty: the base model)
      const [header, ...rows] = fs.readFileSync(path.join(out, "requests.csv"), "utf8").trim().split("\n")
      expect(header!.endsWith(",reason,lora")).toBe(true)
      expect(rows.map((r) => r.split(",")).sort((a, b) => Number(a[0]) - Number(b[0])).map((r) => r.at(-1))).toEqual(["sql", "", "sql", "chat", ""])
      const plainOut = path.join(dir, "plain")
      yield* runCapture("simulate", "--num-requests", "3", "--output-dir", plainOut, "--quiet")
      expect(fs.readFileSync(path.join(plainOut, "requests.csv"), "utf8").split("\n")[0]!.endsWith(",reason")).toBe(true)
      const unknown = yield* runCapture("simulate", "--trace", trace, "--enable-lora", "--lora-modules", "sql", "--quiet")
      // refused where it is read: file, line and field
      expect(unknown.stderr).toContain(`${trace}:4`)
      expect(unknown.stderr).toContain("one of the --lora-modules adapters sql")
      const off = yield* runCapture("simulate", "--trace", trace, "--quiet")
      expect(off.stderr).toContain(`${trace}:1`)
      expect(off.stderr).toContain("needs --enable-lora")
      fs.writeFileSync(trace, line(0).slice(0, -1) + ', "lora": 3}\n')
      const badField = yield* runCapture("simulate", "--trace", trace, "--enable-lora", "--lora-modules", "sql", "--quiet")
      expect(badField.stderr).toContain(`${trace}:1`)
      expect(badField.stderr).toContain("lora")
    }))
})

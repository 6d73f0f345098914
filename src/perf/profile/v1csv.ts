/**
 * LLMServingSim v1 perf tables: `hardware,model,layer_name,input,kv_cache,latency(ns)` (one file
 * per GPU, all models in it) and the v0 profiler's `layer_name,input,kv_cache,tp_size,latency(ns)`.
 * Rows are one kernel of one decoder layer for `input` new tokens over `kv_cache` cached tokens.
 *
 * Mapping to kernels: q_proj+k_proj+v_proj -> qkv_proj, gate_proj+up_proj -> gate_up_proj,
 * input_layernorm / post_layernorm -> layernorm (their mean per call, two calls per layer),
 * rope -> rotary_emb, fc1/fc2 -> gate_up_proj/down_proj (OPT), attn (or qk_matmul + softmax +
 * sv_matmul) -> attention. Dense kernels are read at kv_cache = 0.
 * Attention: prefill rows (input, kv_cache = 0) price a chunk P(c); decode rows (1, kv) price one
 * decode D(kv); a step's attention = P(pc) scaled by the causal area ratio for a cached prefix
 * (at least P(pc) + D(kp) - D(1)) + D(1) + n_decode x (D(mean decode context) - D(1)) (one batched
 * decode kernel, not one per request as v1 ran them). Tables without decode rows
 * (the v0 profiles) leave decodes to the roofline.
 *
 * Checks: `input` is an integer >= 1 (new tokens) and `kv_cache` an integer >= 0; `layer_name`
 * is one of the names above, or one of LLMServingSim v1's GPT-style names (perf_model/*.csv:
 * vocab_embedding, attention/qkv, attention/wrapper, attention/dense, mlp/fc, mlp/gelu, mlp/proj,
 * ln_f), which are read but not modelled (LayerProfile.ignored); any other name is an InputError
 * naming the file, line and the known names.
 */
import { Effect } from "effect"
import { InputError, type FileError } from "../../domain/errors.js"
import type { LayerTokenOp, StepSeqOp, StepTokenOp } from "../opModel.js"
import { badCell, badInt, column, type CsvTable, intOrNaN, numOrNaN, readCsv, unknownLayer } from "./csv.js"
import { lookup1D, makeTable1D, maxKey, sumTables, type Table1D } from "./interp.js"
import type { AttentionTable, LayerProfile } from "./types.js"

const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "")

/** The layer names this reader maps to kernels. */
const MODELLED_V1: ReadonlyArray<string> = [
  "embedding", "input_layernorm", "post_layernorm", "q_proj", "k_proj", "v_proj", "qkv_proj", "rope", "rotary_emb", "o_proj",
  "gate_proj", "up_proj", "gate_up_proj", "fc1", "fc2", "act_fn", "down_proj", "final_layernorm", "lm_head", "sampler",
  "attn", "qk_matmul", "softmax", "sv_matmul"
]
/** LLMServingSim v1's GPT-2/GPT-3 layer names (its perf_model/*.csv): read, not modelled. */
export const NOT_MODELLED_V1: ReadonlyArray<string> = ["vocab_embedding", "attention/qkv", "attention/wrapper", "attention/dense", "mlp/fc", "mlp/gelu", "mlp/proj", "ln_f"]
const KNOWN_V1 = new Set([...MODELLED_V1, ...NOT_MODELLED_V1])

export const isV1Header = (h: ReadonlyArray<string>) => h.includes("layer_name") && h.includes("latency(ns)")

export interface V1Select {
  readonly hardware: string
  readonly hardwareAliases: ReadonlyArray<string>
  readonly model: string
  readonly tp: number
}

/** Pick the rows of one hardware/model/tp; returns the chosen names. */
const selectRows = (t: CsvTable, sel: V1Select) =>
  Effect.gen(function*() {
    const hi = t.header.indexOf("hardware")
    const mi = t.header.indexOf("model")
    const ti = t.header.indexOf("tp_size")
    let rows = t.rows
    let hw: string | null = null
    let model: string | null = null
    if (hi >= 0) {
      const names = [...new Set(rows.map((r) => r.cells[hi]!))]
      const want = new Set([sel.hardware, ...sel.hardwareAliases].map(norm))
      hw = names.find((n) => want.has(norm(n))) ?? (names.length === 1 ? names[0]! : null)
      if (hw === null) return yield* new InputError({ path: t.path, field: "hardware", expected: `rows for hardware ${sel.hardware}`, got: names.join(", ") })
      rows = rows.filter((r) => r.cells[hi] === hw)
    }
    if (mi >= 0) {
      const names = [...new Set(rows.map((r) => r.cells[mi]!))]
      const base = (s: string) => norm(s.split("/").pop()!)
      model = names.find((n) => norm(n) === norm(sel.model)) ?? names.find((n) => base(n) === base(sel.model)) ??
        (names.length === 1 ? names[0]! : null)
      if (model === null) return yield* new InputError({ path: t.path, field: "model", expected: `rows for model ${sel.model}`, got: names.join(", ") })
      rows = rows.filter((r) => r.cells[mi] === model)
    }
    let tp = 1
    if (ti >= 0) {
      const tps = [...new Set(rows.map((r) => Number(r.cells[ti])))]
      tp = tps.includes(sel.tp) ? sel.tp : tps.includes(1) ? 1 : tps[0]!
      rows = rows.filter((r) => Number(r.cells[ti]) === tp)
    }
    return { rows, hw, model, tp }
  })

export const readV1 = (file: string, sel: V1Select): Effect.Effect<LayerProfile, FileError | InputError> =>
  Effect.gen(function*() {
    const t = yield* readCsv(file)
    const li = yield* column(t, "layer_name")
    const ii = yield* column(t, "input")
    const ki = yield* column(t, "kv_cache")
    const vi = yield* column(t, "latency(ns)")
    const { rows, hw, model, tp } = yield* selectRows(t, sel)
    const dense = new Map<string, Array<readonly [number, number]>>()
    const decode = new Map<string, Array<readonly [number, number]>>()
    const ignored = new Set<string>()
    for (const r of rows) {
      const name = r.cells[li]!
      if (!KNOWN_V1.has(name)) return yield* unknownLayer(t, r, li, MODELLED_V1, NOT_MODELLED_V1)
      const inp = intOrNaN(r.cells[ii]!, 1)
      if (Number.isNaN(inp)) return yield* badInt(t, r, ii, "count of new tokens", 1)
      const kv = intOrNaN(r.cells[ki]!, 0)
      if (Number.isNaN(kv)) return yield* badInt(t, r, ki, "count of cached tokens", 0)
      const v = numOrNaN(r.cells[vi]!)
      if (Number.isNaN(v)) return yield* badCell(t, r, vi)
      if (NOT_MODELLED_V1.includes(name)) {
        ignored.add(name)
        continue
      }
      const target = kv === 0 ? dense : inp === 1 ? decode : null
      if (target === null) continue
      let l = target.get(name)
      if (l === undefined) target.set(name, l = [])
      l.push([kv === 0 ? inp : kv, v])
    }
    if (dense.size === 0) {
      return yield* new InputError({
        path: file,
        line: 2,
        expected: "rows with kv_cache = 0 (dense kernels)" + (ignored.size > 0 ? ` of layers we model (${MODELLED_V1.join(", ")})` : ""),
        ...(ignored.size > 0 ? { got: `only layers we do not model: ${[...ignored].join(", ")}` } : {})
      })
    }
    const tab = (n: string): Table1D | undefined => {
      const p = dense.get(n)
      return p === undefined ? undefined : makeTable1D(p)
    }
    const dtab = (n: string): Table1D | undefined => {
      const p = decode.get(n)
      // (1, 0) is also a prefill row of one token; a decode table needs KV > 0 rows
      return p === undefined || !p.some(([k]) => k > 0) ? undefined : makeTable1D([...p, ...(dense.get(n)?.filter(([i]) => i === 1).map(([, v]) => [0, v] as const) ?? [])])
    }
    const sum = (names: ReadonlyArray<string>): Table1D | undefined => {
      const ts = names.map(tab)
      return ts.every((x) => x !== undefined) ? sumTables(ts as Array<Table1D>) : undefined
    }
    const mean2 = (a: string, b: string): Table1D | undefined => {
      const s = sum([a, b])
      return s === undefined ? tab(a) ?? tab(b) : { ...s, values: s.values.map((v) => v / 2), tailSlope: s.tailSlope / 2 }
    }
    const layer: Partial<Record<LayerTokenOp, Table1D>> = {}
    const set = <K extends string>(o: Partial<Record<K, Table1D>>, k: K, v: Table1D | undefined) => {
      if (v !== undefined) o[k] = v
    }
    set(layer, "layernorm", mean2("input_layernorm", "post_layernorm"))
    set(layer, "qkv_proj", sum(["q_proj", "k_proj", "v_proj"]) ?? tab("qkv_proj"))
    set(layer, "rotary_emb", tab("rope") ?? tab("rotary_emb"))
    set(layer, "o_proj", tab("o_proj"))
    set(layer, "gate_up_proj", sum(["gate_proj", "up_proj"]) ?? tab("gate_up_proj") ?? tab("fc1"))
    set(layer, "act_fn", tab("act_fn"))
    set(layer, "down_proj", tab("down_proj") ?? tab("fc2"))
    const step: Partial<Record<StepTokenOp, Table1D>> = {}
    set(step, "embedding", tab("embedding"))
    set(step, "final_layernorm", tab("final_layernorm"))
    const seq: Partial<Record<StepSeqOp, Table1D>> = {}
    set(seq, "lm_head", tab("lm_head"))
    set(seq, "sampler", tab("sampler"))

    const attnNames = dense.has("attn") ? ["attn"] : ["qk_matmul", "softmax", "sv_matmul"]
    const P = sum(attnNames)
    const dts = attnNames.map(dtab)
    const D = dts.every((x) => x !== undefined) ? sumTables(dts as Array<Table1D>) : undefined
    let attention: AttentionTable | null = null
    if (P !== undefined) {
      const D1 = D === undefined ? 0 : lookup1D(D, 1)
      attention = {
        lookup: (a) => {
          let t = 0
          if (a.pc > 0) {
            const p = lookup1D(P, a.pc)
            if (a.kp > 0) {
              const scaled = p * (a.pc * (a.kp + (a.pc + 1) / 2)) / (a.pc * (a.pc + 1) / 2)
              const mem = D === undefined ? 0 : p + lookup1D(D, a.kp) - D1
              t += scaled > mem ? scaled : mem
            } else t += p
          }
          // vLLM batches decodes into one kernel: its fixed cost once, the KV-dependent part per decode
          if (a.nd > 0 && D !== undefined) t += D1 + a.nd * (lookup1D(D, a.kdSum / a.nd) - D1)
          return t
        },
        describe: `prefill chunk <= ${maxKey(P)}` + (D === undefined ? ", no decode rows" : `, decode KV <= ${maxKey(D)}`),
        hasDecode: D !== undefined
      }
    }
    return {
      source: file,
      format: "llmservingsim-v1",
      hardware: hw,
      model,
      tp,
      shape: {},
      layer,
      step,
      seq,
      attention,
      ignored: [...ignored],
      maxTokens: Math.max(0, ...[...dense.values()].map((p) => Math.max(...p.map(([k]) => k))))
    } satisfies LayerProfile
  })

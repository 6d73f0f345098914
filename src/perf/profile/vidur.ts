/**
 * Vidur operator profiles (github.com/microsoft/vidur, data/profiling/compute/<sku>/<model>/):
 *  - mlp.csv: `time_stats.<op>.{min,max,mean,median,std}` in milliseconds for op in emb,
 *    input_layernorm, attn_pre_proj (fused QKV), attn_rope, attn_post_proj (O),
 *    post_attention_layernorm, mlp_up_proj (fused gate+up), mlp_act, mlp_down_proj, add; then
 *    n_head, n_kv_head, n_embd, n_expanded_embd, vocab_size, use_gated_mlp, num_tokens,
 *    num_tensor_parallel_workers. The median is used.
 *  - attention.csv (optional): `time_stats.attn_prefill.*` and `time_stats.attn_decode.*` (ms)
 *    with batch_size, prefill_chunk_size, kv_cache_size, is_prefill, num_tensor_parallel_workers.
 * Mapping: emb -> embedding; (input_layernorm + post_attention_layernorm + add) / 2 -> layernorm
 * per call (vLLM fuses the residual add into the norm); attn_pre_proj -> qkv_proj; attn_rope ->
 * rotary_emb; attn_post_proj -> o_proj; mlp_up_proj -> gate_up_proj; mlp_act -> act_fn;
 * mlp_down_proj -> down_proj. Vidur has no final norm, LM head or sampler: those fall back.
 * Attention: prefill P(chunk, kv) + decode D(batch, kv) on 2-D grids.
 * Checks: num_tokens, batch_size and prefill_chunk_size are integers >= 1, kv_cache_size an
 * integer >= 0; a file without data rows is an error. The operators are columns, so there are no
 * layer names to check (unknown time_stats columns are not read).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type FileError, InputError } from "../../domain/errors.js"
import type { LayerTokenOp, StepTokenOp } from "../opModel.js"
import { badCell, badInt, column, type CsvTable, intOrNaN, numOrNaN, readCsv } from "./csv.js"
import { lookup2D, makeGrid2D } from "./grid.js"
import { makeTable1D, type Table1D } from "./interp.js"
import type { AttentionTable, LayerProfile } from "./types.js"

export const isVidurMlpHeader = (h: ReadonlyArray<string>) => h.includes("num_tokens") && h.some((c) => c.startsWith("time_stats."))

const pickTp = (t: CsvTable, tpCol: number, want: number): number => {
  if (tpCol < 0) return 1
  const tps = [...new Set(t.rows.map((r) => Number(r.cells[tpCol])))]
  return tps.includes(want) ? want : tps.includes(1) ? 1 : tps[0]!
}

const readVidurAttention = (file: string, tp: number): Effect.Effect<AttentionTable, FileError | InputError> =>
  Effect.gen(function*() {
    const t = yield* readCsv(file)
    const pi = yield* column(t, "time_stats.attn_prefill.median")
    const di = yield* column(t, "time_stats.attn_decode.median")
    const bi = yield* column(t, "batch_size")
    const ci = yield* column(t, "prefill_chunk_size")
    const ki = yield* column(t, "kv_cache_size")
    const isP = yield* column(t, "is_prefill")
    const tpi = t.header.indexOf("num_tensor_parallel_workers")
    const tpUse = pickTp(t, tpi, tp)
    const pre: Array<readonly [number, number, number]> = []
    const dec: Array<readonly [number, number, number]> = []
    for (const r of t.rows) {
      if (tpi >= 0 && Number(r.cells[tpi]) !== tpUse) continue
      const prefill = r.cells[isP]!.toLowerCase() === "true"
      const col = prefill ? pi : di
      const v = numOrNaN(r.cells[col]!)
      if (Number.isNaN(v)) return yield* badCell(t, r, col)
      const kv = intOrNaN(r.cells[ki]!, 0)
      if (Number.isNaN(kv)) return yield* badInt(t, r, ki, "KV-cache token count", 0)
      if (prefill) {
        const c = intOrNaN(r.cells[ci]!, 1)
        if (Number.isNaN(c)) return yield* badInt(t, r, ci, "prefill chunk token count", 1)
        // Vidur's kv_cache_size for a prefill counts the chunk itself; key by the cached prefix
        pre.push([c, Math.max(0, kv - c), v * 1e6])
      } else {
        const b = intOrNaN(r.cells[bi]!, 1)
        if (Number.isNaN(b)) return yield* badInt(t, r, bi, "decode batch size", 1)
        dec.push([b, kv, v * 1e6])
      }
    }
    if (pre.length === 0 && dec.length === 0) return yield* new InputError({ path: file, line: 2, expected: "attention rows" })
    const P = pre.length > 0 ? makeGrid2D(pre) : null
    const D = dec.length > 0 ? makeGrid2D(dec) : null
    return {
      lookup: (a) => (a.pc > 0 && P !== null ? lookup2D(P, a.pc, a.kp) : 0) + (a.nd > 0 && D !== null ? lookup2D(D, a.nd, a.kdSum / a.nd) : 0),
      describe: `Vidur attention (${pre.length} prefill, ${dec.length} decode points)`,
      hasDecode: D !== null
    } satisfies AttentionTable
  })

/** Read `mlp.csv` (file or folder holding it; attention.csv beside it is used when present). */
export const readVidur = (fileOrDir: string, tp: number): Effect.Effect<LayerProfile, FileError | InputError> =>
  Effect.gen(function*() {
    const file = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory() ? path.join(fileOrDir, "mlp.csv") : fileOrDir
    const t = yield* readCsv(file)
    const ni = yield* column(t, "num_tokens")
    const tpi = t.header.indexOf("num_tensor_parallel_workers")
    const tpUse = pickTp(t, tpi, tp)
    const ops = ["emb", "input_layernorm", "attn_pre_proj", "attn_rope", "attn_post_proj", "post_attention_layernorm", "mlp_up_proj", "mlp_act", "mlp_down_proj", "add"]
    const cols = new Map<string, number>()
    for (const op of ops) {
      const i = t.header.indexOf(`time_stats.${op}.median`)
      if (i >= 0) cols.set(op, i)
    }
    if (cols.size === 0) return yield* new InputError({ path: file, line: 1, field: "time_stats.<op>.median", expected: "Vidur MLP operator columns" })
    const pts = new Map<string, Array<readonly [number, number]>>()
    let first: { line: number; cells: ReadonlyArray<string> } | undefined
    for (const r of t.rows) {
      if (tpi >= 0 && Number(r.cells[tpi]) !== tpUse) continue
      first ??= r
      const n = intOrNaN(r.cells[ni]!, 1)
      if (Number.isNaN(n)) return yield* badInt(t, r, ni, "token count", 1)
      for (const [op, c] of cols) {
        const v = numOrNaN(r.cells[c]!)
        if (Number.isNaN(v)) return yield* badCell(t, r, c)
        let l = pts.get(op)
        if (l === undefined) pts.set(op, l = [])
        l.push([n, v * 1e6])
      }
    }
    const tab = (op: string): Table1D | undefined => {
      const p = pts.get(op)
      return p === undefined ? undefined : makeTable1D(p)
    }
    const layer: Partial<Record<LayerTokenOp, Table1D>> = {}
    const step: Partial<Record<StepTokenOp, Table1D>> = {}
    const put = <K extends string>(o: Partial<Record<K, Table1D>>, k: K, v: Table1D | undefined) => {
      if (v !== undefined) o[k] = v
    }
    const ln = [tab("input_layernorm"), tab("post_attention_layernorm"), tab("add")].filter((x): x is Table1D => x !== undefined)
    if (ln.length > 0) {
      const keys = ln[0]!.keys
      layer.layernorm = makeTable1D([...keys].map((k, i) => [k, ln.reduce((s, x) => s + x.values[i]!, 0) / 2] as const))
    }
    put(layer, "qkv_proj", tab("attn_pre_proj"))
    put(layer, "rotary_emb", tab("attn_rope"))
    put(layer, "o_proj", tab("attn_post_proj"))
    put(layer, "gate_up_proj", tab("mlp_up_proj"))
    put(layer, "act_fn", tab("mlp_act"))
    put(layer, "down_proj", tab("mlp_down_proj"))
    put(step, "embedding", tab("emb"))
    const attnFile = path.join(path.dirname(file), "attention.csv")
    const attention = fs.existsSync(attnFile) ? yield* readVidurAttention(attnFile, tp) : null
    const g = (name: string) => {
      const i = t.header.indexOf(name)
      return i < 0 || first === undefined ? undefined : Number(first.cells[i])
    }
    const nEmbd = g("n_embd")
    const nHead = g("n_head")
    const nKv = g("n_kv_head")
    const exp = g("n_expanded_embd")
    return {
      source: file,
      format: "vidur",
      hardware: path.basename(path.dirname(path.dirname(path.dirname(file)))),
      model: `${path.basename(path.dirname(path.dirname(file)))}/${path.basename(path.dirname(file))}`,
      tp: tpUse,
      shape: {
        hidden: nEmbd,
        // Vidur stores the whole model's shape on every row, whatever the TP degree
        heads: nHead,
        kvHeads: nKv,
        intermediate: exp,
        vocab: g("vocab_size")
      },
      layer,
      step,
      seq: {},
      attention,
      maxTokens: Math.max(0, ...(pts.get("attn_pre_proj") ?? []).map(([k]) => k))
    } satisfies LayerProfile
  })

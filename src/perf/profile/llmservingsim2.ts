/**
 * LLMServingSim 2.0 profile bundles (profiler/perf/<HW>/<model>/<variant>/):
 *   meta.yaml                 hardware, model, hf_overrides (profiled shape), grids
 *   tp<N>/dense.csv           layer,tokens,time_us   (one decoder layer's kernels by tokens)
 *   tp<N>/per_sequence.csv    layer,sequences,time_us (lm_head, sampler)
 *   tp<N>/attention.csv       prefill_chunk,kv_prefill,n_decode,kv_decode,time_us
 * Layer names follow vLLM's attributes (see LLMServingSim profiler/models/llama.yaml): layernorm
 * runs twice per decoder layer; the rest once; embedding/final_layernorm/lm_head/sampler once
 * per step. Missing layers fall back to the roofline. Layer names must be known: the ones we model
 * (and their aliases), or the extra per-architecture layers LLMServingSim's profiler catalogs
 * define (profiler/models/*.yaml: Qwen3's qk_norm, Qwen3.5's gated-DeltaNet gdn_*, DeepSeek's
 * mla_* and indexer_*, MiniMax's sparse_*), which are read but not modelled (LayerProfile.ignored);
 * any other name (a typo) is an InputError naming the file, line and the known names. Token and
 * sequence counts must be integers >= 1, attention keys integers >= 0; a table without data rows
 * is an error.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { parse as parseYaml } from "yaml"
import { FileError, InputError } from "../../domain/errors.js"
import { LAYER_TOKEN_OPS, type LayerTokenOp, STEP_SEQ_OPS, STEP_TOKEN_OPS, type StepSeqOp, type StepTokenOp } from "../opModel.js"
import { badCell, badInt, column, intOrNaN, numOrNaN, readCsv, readText, unknownLayer } from "./csv.js"
import { lookup4D, makeGrid4D } from "./grid.js"
import { makeTable1D, maxKey, type Table1D } from "./interp.js"
import type { AttentionTable, LayerProfile, ProfiledShape } from "./types.js"

/** Aliases some bundles use. */
const ALIAS: Record<string, string> = { input_layernorm: "layernorm", post_attention_layernorm: "layernorm", rope: "rotary_emb", embed_tokens: "embedding", norm: "final_layernorm" }

/** Names we model (dense.csv may also hold the per-sequence kernels; fc1/fc2 are OPT's MLP). */
const MODELLED: ReadonlyArray<string> = [...LAYER_TOKEN_OPS, ...STEP_TOKEN_OPS, ...STEP_SEQ_OPS, "fc1", "fc2", ...Object.keys(ALIAS)]
/**
 * Layers LLMServingSim's profiler catalogs (profiler/models/*.yaml) put in dense.csv for
 * architectures we do not model layer by layer: read, not modelled, listed in LayerProfile.ignored.
 */
export const NOT_MODELLED_2: ReadonlyArray<string> = [
  "qk_norm", "qk_norm_rope", "attn_glue", // Qwen3, Qwen3.5, MiniMax-M3
  "gdn_in_proj", "gdn_norm", "gdn_out_proj", "gdn_glue", // Qwen3.5 gated DeltaNet
  "mla_qkv_a_proj", "mla_a_layernorm", "mla_b_proj", // DeepSeek-V3.2 / GLM-5 MLA
  "indexer_wq_b", "indexer_wk_proj", "indexer_k_norm", "indexer_rope_emb", "indexer_q_rope_quant", "indexer_glue",
  "sparse_qkv_proj", "sparse_qk_norm_rope", "sparse_o_proj" // MiniMax-M3 sparse attention
]
const KNOWN_2 = new Set([...MODELLED, ...NOT_MODELLED_2])

const readKeyed = (file: string, keyCol: string, ignored: Set<string>) =>
  Effect.gen(function*() {
    const t = yield* readCsv(file)
    const li = yield* column(t, "layer")
    const ki = yield* column(t, keyCol)
    const vi = yield* column(t, "time_us")
    const by = new Map<string, Array<readonly [number, number]>>()
    for (const r of t.rows) {
      const raw = r.cells[li]!
      if (!KNOWN_2.has(raw)) return yield* unknownLayer(t, r, li, MODELLED, NOT_MODELLED_2)
      const k = intOrNaN(r.cells[ki]!, 1)
      if (Number.isNaN(k)) return yield* badInt(t, r, ki, keyCol === "tokens" ? "token count" : "sequence count", 1)
      const v = numOrNaN(r.cells[vi]!)
      if (Number.isNaN(v)) return yield* badCell(t, r, vi)
      if (NOT_MODELLED_2.includes(raw)) {
        ignored.add(raw)
        continue
      }
      const name = ALIAS[raw] ?? raw
      let l = by.get(name)
      if (l === undefined) by.set(name, l = [])
      l.push([k, v * 1000])
    }
    return new Map([...by].map(([n, pts]) => [n, makeTable1D(pts)] as const))
  })

export const readAttention2 = (file: string): Effect.Effect<AttentionTable, FileError | InputError> =>
  Effect.gen(function*() {
    const t = yield* readCsv(file)
    const cols = [yield* column(t, "prefill_chunk"), yield* column(t, "kv_prefill"), yield* column(t, "n_decode"), yield* column(t, "kv_decode"), yield* column(t, "time_us")]
    const rows: Array<[number, number, number, number, number]> = []
    for (const r of t.rows) {
      const v: Array<number> = []
      for (const [i, c] of cols.entries()) {
        // the four keys are token / request counts; time_us any number >= 0
        const x = i < 4 ? intOrNaN(r.cells[c]!, 0) : numOrNaN(r.cells[c]!)
        if (Number.isNaN(x)) return yield* (i < 4 ? badInt(t, r, c, i === 2 ? "decode count" : "token count", 0) : badCell(t, r, c))
        v.push(x)
      }
      rows.push([v[0]!, v[1]!, v[2]!, v[3]!, v[4]! * 1000])
    }
    if (rows.length === 0) return yield* new InputError({ path: file, line: 2, expected: "at least one attention row" })
    const g = makeGrid4D(rows)
    const mx = (i: number) => Math.max(...rows.map((r) => r[i]!))
    return {
      lookup: (a) => (a.pc + a.nd === 0 ? 0 : lookup4D(g, a.pc, a.kp, a.nd, a.nd > 0 ? a.kdSum / a.nd : 0)),
      describe: `prefill chunk <= ${mx(0)}, prefill KV <= ${mx(1)}, decodes <= ${mx(2)}, decode KV <= ${mx(3)} (${rows.length} points)`,
      hasDecode: true
    } satisfies AttentionTable
  })

/** The `tp<N>` folders of a bundle. */
export const bundleTps = (dir: string): ReadonlyArray<number> => {
  try {
    return fs.readdirSync(dir).filter((e) => /^tp\d+$/.test(e) && fs.existsSync(path.join(dir, e, "dense.csv"))).map((e) => Number(e.slice(2))).sort((a, b) => a - b)
  } catch {
    return []
  }
}

/** True if `dir` is a bundle variant folder (meta.yaml or tp<N>/dense.csv) or a tp folder. */
export const isBundle = (dir: string): boolean => bundleTps(dir).length > 0 || fs.existsSync(path.join(dir, "dense.csv"))

/**
 * Read a bundle at `dir` (variant folder with tp<N>/ sub-folders, or one tp<N> folder) for TP
 * degree `tp` (falls back to tp1 when tp<N> is missing; the caller scales).
 */
export const readBundle = (dir: string, tp: number): Effect.Effect<LayerProfile, FileError | InputError> =>
  Effect.gen(function*() {
    let variant = dir
    let tpDir = dir
    let tpUsed = 1
    if (!fs.existsSync(path.join(dir, "dense.csv"))) {
      const tps = bundleTps(dir)
      if (tps.length === 0) return yield* new FileError({ path: dir, reason: "not an LLMServingSim 2.0 profile bundle (no tp<N>/dense.csv)" })
      tpUsed = tps.includes(tp) ? tp : tps.includes(1) ? 1 : tps[0]!
      tpDir = path.join(dir, `tp${tpUsed}`)
    } else {
      variant = path.dirname(dir)
      const m = /^tp(\d+)$/.exec(path.basename(dir))
      tpUsed = m === null ? 1 : Number(m[1])
    }
    let meta: Record<string, unknown> = {}
    const metaFile = path.join(variant, "meta.yaml")
    if (fs.existsSync(metaFile)) {
      const text = yield* readText(metaFile)
      const parsed = yield* Effect.try({
        try: () => parseYaml(text) as unknown,
        catch: (e) => new InputError({ path: metaFile, expected: "valid YAML", got: (e as Error).message.split("\n")[0] })
      })
      if (typeof parsed === "object" && parsed !== null) meta = parsed as Record<string, unknown>
    }
    const ignored = new Set<string>()
    const dense = yield* readKeyed(path.join(tpDir, "dense.csv"), "tokens", ignored)
    const perSeqFile = path.join(tpDir, "per_sequence.csv")
    const perSeq = fs.existsSync(perSeqFile) ? yield* readKeyed(perSeqFile, "sequences", ignored) : new Map<string, Table1D>()
    const attnFile = path.join(tpDir, "attention.csv")
    const attention = fs.existsSync(attnFile) ? yield* readAttention2(attnFile) : null

    const layer: Partial<Record<LayerTokenOp, Table1D>> = {}
    for (const op of LAYER_TOKEN_OPS) {
      const t = dense.get(op) ?? (op === "gate_up_proj" ? dense.get("fc1") : op === "down_proj" ? dense.get("fc2") : undefined)
      if (t !== undefined) layer[op] = t
    }
    const step: Partial<Record<StepTokenOp, Table1D>> = {}
    for (const op of STEP_TOKEN_OPS) {
      const t = dense.get(op)
      if (t !== undefined) step[op] = t
    }
    const seq: Partial<Record<StepSeqOp, Table1D>> = {}
    for (const op of STEP_SEQ_OPS) {
      const t = perSeq.get(op) ?? dense.get(op)
      if (t !== undefined) seq[op] = t
    }
    const eff = (meta["engine_effective"] ?? {}) as Record<string, unknown>
    const ov = (eff["hf_overrides"] ?? {}) as Record<string, unknown>
    // hf_overrides are those of the profiler's last engine, which emulates a TP shard by
    // shrinking the model: with tp_degrees [1, 2] they hold the TP-2 shard, so scale them back
    const tpsMeta = Array.isArray(meta["tp_degrees"]) ? (meta["tp_degrees"] as Array<unknown>).filter((x): x is number => typeof x === "number") : []
    const last = tpsMeta.length === 0 ? 1 : Math.max(...tpsMeta)
    const n = (v: unknown, f = last) => (typeof v === "number" ? v * f : undefined)
    const shape: ProfiledShape = {
      heads: n(ov["num_attention_heads"]),
      kvHeads: n(ov["num_key_value_heads"]),
      intermediate: n(ov["intermediate_size"]),
      vocab: n(ov["vocab_size"]),
      hidden: n(ov["hidden_size"], 1)
    }
    return {
      source: tpDir,
      format: "llmservingsim2",
      hardware: typeof meta["hardware"] === "string" ? meta["hardware"] : null,
      model: typeof meta["model"] === "string" ? meta["model"] : null,
      tp: tpUsed,
      shape,
      layer,
      step,
      seq,
      attention,
      ignored: [...ignored],
      maxTokens: Math.max(0, ...[...dense.values()].map(maxKey))
    } satisfies LayerProfile
  })

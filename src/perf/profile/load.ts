/**
 * Find and read a profile for a model on a GPU. `where` may be:
 *  - an LLMServingSim 2.0 bundle (variant folder with meta.yaml and tp<N>/, or a tp<N> folder);
 *  - a CSV file: LLMServingSim v1 (`hardware,model,layer_name,...`), v0 (`layer_name,...,tp_size`)
 *    or Vidur mlp.csv (format from the header);
 *  - a folder holding layers.csv (v0) or mlp.csv (Vidur);
 *  - a folder of many profiles (e.g. ../shared/reference/llmservingsim-profiles): searched for a
 *    2.0 bundle, then a v0/v1 table, then a Vidur profile whose path names the hardware (name or
 *    alias) and the model (its last id segment, with or without -Instruct).
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError, InvalidOption } from "../../domain/errors.js"
import type { Hardware } from "../../domain/Hardware.js"
import type { ModelShape } from "../../domain/Model.js"
import { readCsv } from "./csv.js"
import { isBundle, readBundle } from "./llmservingsim2.js"
import type { LayerProfile } from "./types.js"
import { isV1Header, readV1 } from "./v1csv.js"
import { isVidurMlpHeader, readVidur } from "./vidur.js"

const norm = (s: string) => s.toLowerCase().replace(/[-_.\s]/g, "")

export interface ProfileTarget {
  readonly model: ModelShape
  readonly hardware: Hardware
  readonly tp: number
}

const readFile = (file: string, t: ProfileTarget): Effect.Effect<LayerProfile, FileError | InputError> =>
  Effect.gen(function*() {
    if (path.basename(file) === "dense.csv") return yield* readBundle(path.dirname(file), t.tp)
    const head = yield* readCsv(file)
    if (isV1Header(head.header)) return yield* readV1(file, { hardware: t.hardware.name, hardwareAliases: [...t.hardware.aliases, t.hardware.fullName], model: t.model.name, tp: t.tp })
    if (isVidurMlpHeader(head.header)) return yield* readVidur(file, t.tp)
    return yield* new InputError({ path: file, line: 1, expected: "a profile CSV: LLMServingSim v1 (hardware,model,layer_name,input,kv_cache,latency(ns)), v0 (layer_name,input,kv_cache,tp_size,latency(ns)), 2.0 dense.csv, or Vidur mlp.csv", got: head.header.slice(0, 6).join(",") })
  })

interface Candidate { readonly path: string; readonly kind: "bundle" | "v1" | "vidur"; readonly rank: number }

const walk = (root: string, depth: number, out: Array<Candidate>) => {
  let entries: Array<fs.Dirent>
  try {
    entries = fs.readdirSync(root, { withFileTypes: true })
  } catch {
    return
  }
  if (isBundle(root) && !/^tp\d+$/.test(path.basename(root))) {
    out.push({ path: root, kind: "bundle", rank: 0 })
    return
  }
  for (const e of entries) {
    const p = path.join(root, e.name)
    if (e.isDirectory()) {
      if (depth > 0) walk(p, depth - 1, out)
    } else if (e.name === "layers.csv" || (e.name.endsWith(".csv") && path.basename(root) === "perf_model")) out.push({ path: p, kind: "v1", rank: 1 })
    else if (e.name === "mlp.csv") out.push({ path: p, kind: "vidur", rank: 2 })
  }
}

const matchesHardware = (p: string, hw: Hardware) => {
  const names = new Set([hw.name, ...hw.aliases].map(norm))
  return p.split(path.sep).some((seg) => names.has(norm(seg)) || names.has(norm(seg.replace(/\.csv$/, ""))))
}
const matchesModel = (p: string, m: ModelShape) => {
  const base = norm(m.name.split("/").pop()!)
  const bare = base.replace(/instruct$/, "")
  const segs = p.split(path.sep).map(norm)
  return segs.some((s) => s === base || s === bare)
}

/** Find the profile for `t` under `where` and read it. */
export const loadProfile = (where: string, t: ProfileTarget): Effect.Effect<LayerProfile, FileError | InputError | InvalidOption> =>
  Effect.gen(function*() {
    if (!fs.existsSync(where)) return yield* new FileError({ path: where, reason: "no such file or folder (expected a profile folder or CSV)" })
    if (fs.statSync(where).isFile()) return yield* checkShape(yield* readFile(where, t), t.model)
    if (isBundle(where)) return yield* checkShape(yield* readBundle(where, t.tp), t.model)
    if (fs.existsSync(path.join(where, "layers.csv"))) return yield* checkShape(yield* readFile(path.join(where, "layers.csv"), t), t.model)
    if (fs.existsSync(path.join(where, "mlp.csv"))) return yield* checkShape(yield* readVidur(where, t.tp), t.model)
    const found: Array<Candidate> = []
    walk(where, 7, found)
    const hits = found.filter((c) => {
      const rel = path.relative(where, c.path)
      return matchesHardware(rel, t.hardware) && (c.kind === "v1" && path.basename(path.dirname(c.path)) === "perf_model" ? true : matchesModel(rel, t.model))
    }).sort((a, b) => a.rank - b.rank || a.path.localeCompare(b.path))
    if (hits.length === 0) {
      const listed = found.slice(0, 12).map((c) => path.relative(where, c.path)).join(", ")
      return yield* new FileError({ path: where, reason: `no profile of ${t.model.id} on ${t.hardware.name} found (profiles there: ${listed === "" ? "none" : listed})` })
    }
    const c = hits[0]!
    const prof = c.kind === "bundle" ? yield* readBundle(c.path, t.tp) : c.kind === "vidur" ? yield* readVidur(c.path, t.tp) : yield* readFile(c.path, t)
    return yield* checkShape(prof, t.model)
  })

/** Refuse a profile measured on a differently shaped model (a calibration transfers; a table does not). */
export const checkShape = (p: LayerProfile, m: ModelShape): Effect.Effect<LayerProfile, InvalidOption> => {
  const diffs: Array<string> = []
  const cmp = (what: string, got: number | undefined, want: number) => {
    if (got !== undefined && got !== want) diffs.push(`${what} ${got} vs ${want}`)
  }
  cmp("hidden", p.shape.hidden, m.hidden)
  cmp("attention heads", p.shape.heads, m.heads)
  cmp("KV heads", p.shape.kvHeads, m.kvHeads)
  cmp("FFN width", p.shape.intermediate, m.intermediate)
  cmp("vocabulary", p.shape.vocab, m.vocab)
  if (diffs.length === 0) return Effect.succeed(p)
  return Effect.fail(new InvalidOption({
    option: "--perf-model",
    reason: `${p.source} measured ${p.model ?? "another model"} (${diffs.join(", ")}), not ${m.id}; fit a calibration to it (llmservingsim calibrate) and use calibrated:FILE to transfer`
  }))
}

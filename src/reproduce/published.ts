/**
 * Published serving results as a CSV table (`../shared/reference/published-serving-benchmarks.csv`
 * layout): one measured value per row, with the engine, model, GPU, parallelism, dataset and load
 * that produced it. Read with csv-parse; a malformed file fails with InputError naming the file,
 * the 1-based line and the field. Rows are grouped into scenarios: one simulation each.
 */
import { Effect } from "effect"
import { InputError } from "../domain/errors.js"
import { readCsv } from "../perf/profile/csv.js"

/** The columns a published-results file must have (in any order; others are ignored). */
export const PUBLISHED_COLUMNS = [
  "source", "url", "engine", "engine_version", "model", "precision", "gpu", "num_gpus", "tp", "dataset",
  "isl", "osl", "num_requests", "load", "metric", "value", "unit", "notes"
] as const

/** One published measurement. `line` is its 1-based line in the file. */
export interface PublishedRow {
  readonly path: string
  readonly line: number
  readonly source: string
  readonly url: string
  readonly engine: string
  readonly engineVersion: string
  readonly model: string
  readonly precision: string
  readonly gpu: string
  readonly numGpus: number
  readonly tp: string
  readonly dataset: string
  readonly isl: string
  readonly osl: string
  readonly numRequests: number
  readonly load: string
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly notes: string
}

/** Rows that one simulation reproduces: same source, engine, version, model, GPU, TP, dataset, load and request count. */
export interface Scenario {
  /** S1, S2, ... in order of first appearance in the file. */
  readonly id: string
  readonly source: string
  readonly engine: string
  readonly engineVersion: string
  readonly model: string
  readonly gpu: string
  readonly tp: string
  readonly dataset: string
  readonly load: string
  readonly numRequests: number
  readonly rows: ReadonlyArray<PublishedRow>
}

/** Fields that must not be empty. */
const REQUIRED = ["source", "engine", "engine_version", "model", "gpu", "tp", "dataset", "load", "metric", "unit"] as const

/**
 * Read a published-results CSV. Fails with FileError (cannot read) or InputError naming
 * `file:line` and the field: a missing column, an empty required field, `num_requests` or
 * `num_gpus` not a positive integer, `value` not a number >= 0, a metric given twice for one
 * scenario.
 */
export const readPublished = (file: string) =>
  Effect.gen(function*() {
    const t = yield* readCsv(file)
    const idx: Record<string, number> = {}
    for (const c of PUBLISHED_COLUMNS) {
      const i = t.header.indexOf(c)
      if (i < 0) return yield* new InputError({ path: file, line: 1, field: c, expected: `a column '${c}' in the header (columns: ${PUBLISHED_COLUMNS.join(",")})`, got: t.header.slice(0, 8).join(",") })
      idx[c] = i
    }
    const rows: Array<PublishedRow> = []
    const seen = new Map<string, number>()
    for (const r of t.rows) {
      const cell = (c: typeof PUBLISHED_COLUMNS[number]) => r.cells[idx[c]!] ?? ""
      for (const c of REQUIRED) {
        if (cell(c) === "") return yield* new InputError({ path: file, line: r.line, field: c, expected: "a value", got: "an empty field" })
      }
      const posInt = (c: "num_requests" | "num_gpus") => {
        const s = cell(c)
        const v = Number(s)
        return /^\d+$/.test(s) && v > 0 ? Effect.succeed(v) : Effect.fail(new InputError({ path: file, line: r.line, field: c, expected: "a positive integer", got: JSON.stringify(s) }))
      }
      const numRequests = yield* posInt("num_requests")
      const numGpus = yield* posInt("num_gpus")
      const vs = cell("value")
      const value = Number(vs)
      if (vs === "" || !Number.isFinite(value) || value < 0) {
        return yield* new InputError({ path: file, line: r.line, field: "value", expected: "a number >= 0", got: JSON.stringify(vs) })
      }
      // a metric given twice for one scenario would be compared, and counted in the medians, twice
      const dupKey = JSON.stringify([keyOf({ source: cell("source"), engine: cell("engine"), engineVersion: cell("engine_version"), model: cell("model"), gpu: cell("gpu"), tp: cell("tp"), dataset: cell("dataset"), load: cell("load"), numRequests }), cell("metric")])
      const first = seen.get(dupKey)
      if (first !== undefined) {
        return yield* new InputError({ path: file, line: r.line, field: "metric", expected: `each metric once per scenario (line ${first} gives ${cell("metric")} for the same source, engine, model, GPU, TP, dataset, load and num_requests)`, got: JSON.stringify(cell("metric")) })
      }
      seen.set(dupKey, r.line)
      rows.push({
        path: file,
        line: r.line,
        source: cell("source"),
        url: cell("url"),
        engine: cell("engine"),
        engineVersion: cell("engine_version"),
        model: cell("model"),
        precision: cell("precision"),
        gpu: cell("gpu"),
        numGpus,
        tp: cell("tp"),
        dataset: cell("dataset"),
        isl: cell("isl"),
        osl: cell("osl"),
        numRequests,
        load: cell("load"),
        metric: cell("metric"),
        value,
        unit: cell("unit"),
        notes: cell("notes")
      })
    }
    return rows as ReadonlyArray<PublishedRow>
  })

/** The grouping key of a row (see Scenario). */
const keyOf = (r: Pick<PublishedRow, "source" | "engine" | "engineVersion" | "model" | "gpu" | "tp" | "dataset" | "load" | "numRequests">): string =>
  JSON.stringify([r.source, r.engine, r.engineVersion, r.model, r.gpu, r.tp, r.dataset, r.load, r.numRequests])

/** Group rows into scenarios, numbered S1, S2, ... in order of first appearance; rows keep their order. */
export const groupScenarios = (rows: ReadonlyArray<PublishedRow>): ReadonlyArray<Scenario> => {
  const groups = new Map<string, Array<PublishedRow>>()
  for (const r of rows) {
    const k = keyOf(r)
    const g = groups.get(k)
    if (g === undefined) groups.set(k, [r])
    else g.push(r)
  }
  return [...groups.values()].map((g, i) => {
    const r = g[0]!
    return {
      id: `S${i + 1}`,
      source: r.source,
      engine: r.engine,
      engineVersion: r.engineVersion,
      model: r.model,
      gpu: r.gpu,
      tp: r.tp,
      dataset: r.dataset,
      load: r.load,
      numRequests: r.numRequests,
      rows: g
    }
  })
}

/** A one-line label of a scenario for reports. */
export const scenarioLabel = (s: Scenario): string =>
  `${s.engine} ${s.engineVersion.split(" ")[0]} ${s.model} ${s.gpu} ${/^\d+$/.test(s.tp.trim()) ? `TP ${s.tp.trim()}` : s.tp}, ${s.load}, ${s.numRequests} req`

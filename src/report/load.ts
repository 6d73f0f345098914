/**
 * Reading what `simulate --output-dir` and `sweep --output` wrote, for `llmservingsim report`:
 * a run directory (summary.json, requests.csv|parquet, timeseries.csv|parquet, in either
 * `--output-format`) or a sweep CSV (a file, or a directory holding sweep.csv). Only the columns the
 * report draws are kept. Errors are user errors naming the path: a missing path, a directory with
 * neither summary.json nor sweep.csv, a malformed summary.json or table.
 */
import { parse as csvParse } from "csv-parse/sync"
import { Effect } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError } from "../domain/errors.js"
import { jsonSyntaxError } from "../domain/jsonSyntax.js"

/** One request of requests.csv as the report uses it (times in ms; NaN where the field is empty). */
export interface RequestRow {
  readonly instance: number
  readonly status: string
  readonly ttft_ms: number
  readonly tpot_ms: number
  readonly e2e_ms: number
  readonly output_tokens: number
}

/** One row of timeseries.csv (one bucket of one instance; `t` is the bucket's end in s). */
export interface TimeseriesRow {
  readonly t: number
  readonly instance: number
  readonly prompt_throughput: number
  readonly gen_throughput: number
  readonly running: number
  readonly waiting: number
  readonly kv_cache_pct: number
}

/** A simulate run directory. `requests`/`timeseries` are undefined when the file is absent. */
export interface RunData {
  readonly kind: "run"
  readonly dir: string
  readonly label: string
  readonly format: "csv" | "parquet"
  readonly summary: Readonly<Record<string, unknown>>
  readonly requests: ReadonlyArray<RequestRow> | undefined
  /** Whether requests carry an `instance` column. */
  readonly hasInstance: boolean
  readonly timeseries: ReadonlyArray<TimeseriesRow> | undefined
}

/** A sweep CSV: its header and rows as text (numbers parsed where the report needs them). */
export interface SweepData {
  readonly kind: "sweep"
  readonly file: string
  readonly label: string
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<Readonly<Record<string, string>>>
}

/** What one `report` argument holds. */
export type ReportInput = RunData | SweepData

const REQUEST_FIELDS = ["instance", "status", "ttft_ms", "tpot_ms", "e2e_ms", "output_tokens"] as const
const TIMESERIES_FIELDS = ["t", "instance", "prompt_throughput", "gen_throughput", "running", "waiting", "kv_cache_pct"] as const

/** A table cell as a number: NaN for empty, null or not a number (bigint from Parquet is converted). */
const num = (v: unknown): number => {
  if (v === null || v === undefined || v === "") return NaN
  if (typeof v === "number") return v
  if (typeof v === "bigint") return Number(v)
  const x = Number(v)
  return Number.isFinite(x) ? x : NaN
}

const readText = (file: string) =>
  Effect.try({ try: () => fs.readFileSync(file, "utf8"), catch: (e) => new FileError({ path: file, reason: `cannot read: ${(e as Error).message}` }) })

/** The rows of a CSV file with a header line, as objects of strings. */
const readCsv = (file: string) =>
  Effect.flatMap(readText(file), (text) =>
    Effect.try({
      try: () => csvParse(text, { columns: true, skip_empty_lines: true, relax_column_count: false }) as Array<Record<string, string>>,
      catch: (e) => new InputError({ path: file, expected: `a CSV file with a header line (${(e as Error).message})` })
    }))

/** The rows of a Parquet file (only `columns`), as objects. */
const readParquet = (file: string, columns: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: async () => {
      const f = await asyncBufferFromFile(file)
      return (await parquetReadObjects({ file: f, columns: [...columns] })) as Array<Record<string, unknown>>
    },
    catch: (e) => new InputError({ path: file, expected: `a Parquet file with the columns ${columns.join(", ")} (${(e as Error).message})` })
  })

/** Check that `rows` (from `file`) have every field in `need`. */
const requireColumns = (file: string, header: ReadonlyArray<string>, need: ReadonlyArray<string>) => {
  const missing = need.filter((c) => !header.includes(c))
  return missing.length === 0 ? Effect.void : Effect.fail(new InputError({ path: file, expected: `the columns ${need.join(", ")}`, got: `no ${missing.join(", ")}` }))
}

/** A table of a run directory (`name`.csv or `name`.parquet), reduced to `fields` as numbers/strings. */
const readTable = <K extends string>(dir: string, name: string, fields: ReadonlyArray<K>, required: ReadonlyArray<K>) =>
  Effect.gen(function*() {
    const csv = path.join(dir, `${name}.csv`)
    const parquet = path.join(dir, `${name}.parquet`)
    if (fs.existsSync(csv)) {
      const rows = yield* readCsv(csv)
      const header = rows.length > 0 ? Object.keys(rows[0]!) : (yield* readText(csv)).split("\n")[0]!.split(",")
      yield* requireColumns(csv, header, required)
      return { rows: rows as ReadonlyArray<Record<string, unknown>>, header, format: "csv" as const }
    }
    if (fs.existsSync(parquet)) {
      const meta = yield* Effect.tryPromise({
        try: async () => parquetMetadataAsync(await asyncBufferFromFile(parquet)),
        catch: (e) => new InputError({ path: parquet, expected: `a Parquet file (${(e as Error).message})` })
      })
      const header = meta.schema.slice(1).map((s) => s.name)
      yield* requireColumns(parquet, header, required)
      const rows = yield* readParquet(parquet, fields.filter((f) => header.includes(f)))
      return { rows: rows as ReadonlyArray<Record<string, unknown>>, header, format: "parquet" as const }
    }
    return undefined
  })

/**
 * Load a simulate output directory. Fails with FileError naming `dir`/summary.json when it is
 * missing, InputError when summary.json is not a JSON object or a table lacks a column the report
 * draws. requests and timeseries are optional (the report says which charts are left out).
 */
export const loadRun = (dir: string, label: string) =>
  Effect.gen(function*() {
    const summaryFile = path.join(dir, "summary.json")
    if (!fs.existsSync(summaryFile)) {
      return yield* new FileError({
        path: summaryFile,
        reason: "not found: expected a simulate --output-dir (summary.json, requests.csv, timeseries.csv) or a directory holding sweep.csv"
      })
    }
    const text = yield* readText(summaryFile)
    const summary = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new InputError({ path: summaryFile, expected: `JSON (${jsonSyntaxError(text, e)})` })
    })
    if (typeof summary !== "object" || summary === null || Array.isArray(summary)) {
      return yield* new InputError({ path: summaryFile, expected: "a JSON object (simulate's summary.json)" })
    }
    const req = yield* readTable(dir, "requests", REQUEST_FIELDS, ["ttft_ms", "tpot_ms", "e2e_ms"])
    const ts = yield* readTable(dir, "timeseries", TIMESERIES_FIELDS, ["t", "gen_throughput", "running", "waiting", "kv_cache_pct"])
    const hasInstance = req?.header.includes("instance") ?? false
    const requests = req?.rows.map((r): RequestRow => ({
      instance: hasInstance ? num(r["instance"]) : 0,
      status: r["status"] === undefined || r["status"] === null ? "finished" : String(r["status"]),
      ttft_ms: num(r["ttft_ms"]),
      tpot_ms: num(r["tpot_ms"]),
      e2e_ms: num(r["e2e_ms"]),
      output_tokens: num(r["output_tokens"])
    }))
    const timeseries = ts?.rows.map((r): TimeseriesRow => ({
      t: num(r["t"]),
      instance: r["instance"] === undefined ? 0 : num(r["instance"]),
      prompt_throughput: num(r["prompt_throughput"]),
      gen_throughput: num(r["gen_throughput"]),
      running: num(r["running"]),
      waiting: num(r["waiting"]),
      kv_cache_pct: num(r["kv_cache_pct"])
    }))
    const run: RunData = {
      kind: "run",
      dir,
      label,
      format: req?.format ?? ts?.format ?? "csv",
      summary: summary as Record<string, unknown>,
      requests,
      hasInstance,
      timeseries
    }
    return run
  })

/** Load a sweep CSV (`sweep --output`): header and rows; fails with InputError when it is not one. */
export const loadSweep = (file: string, label: string) =>
  Effect.gen(function*() {
    const rows = yield* readCsv(file)
    const header = rows.length > 0 ? Object.keys(rows[0]!) : (yield* readText(file)).split("\n")[0]!.split(",")
    const known = ["output_throughput", "mean_tpot_ms", "output_tokens_per_s_per_user", "output_tokens_per_s_per_gpu"]
    if (!known.some((c) => header.includes(c))) {
      return yield* new InputError({ path: file, expected: `a sweep CSV (sweep --output) with the columns ${known.join(" or ")}`, got: `columns ${header.slice(0, 8).join(", ")}` })
    }
    const data: SweepData = { kind: "sweep", file, label, columns: header, rows }
    return data
  })

/**
 * Load one `report` argument: a sweep CSV file, a directory holding summary.json (a run) or
 * sweep.csv (a sweep). Fails with FileError naming the path when it does not exist or holds neither.
 */
export const loadInput = (arg: string, label: string) =>
  Effect.gen(function*() {
    const stat = yield* Effect.try({
      try: () => fs.statSync(arg),
      catch: () => new FileError({ path: arg, reason: "no such file or directory (expected a simulate --output-dir, a directory holding sweep.csv, or a sweep CSV)" })
    })
    if (stat.isFile()) {
      if (!arg.toLowerCase().endsWith(".csv")) {
        return yield* new FileError({ path: arg, reason: "not a directory or a .csv file (expected a simulate --output-dir, a directory holding sweep.csv, or a sweep CSV)" })
      }
      return yield* loadSweep(arg, label)
    }
    const sweepFile = path.join(arg, "sweep.csv")
    if (!fs.existsSync(path.join(arg, "summary.json")) && fs.existsSync(sweepFile)) return yield* loadSweep(sweepFile, label)
    return yield* loadRun(arg, label)
  })

/**
 * Short distinct labels for the arguments: the last path component, or more of the path where two
 * would be the same.
 */
export const labelsOf = (args: ReadonlyArray<string>): Array<string> => {
  const parts = args.map((a) => path.resolve(a).split(path.sep).filter((p) => p !== ""))
  const labelOf = (p: ReadonlyArray<string>, k: number) => p.slice(Math.max(0, p.length - k)).join("/")
  return parts.map((p) => {
    for (let k = 1; k < p.length; k++) {
      const l = labelOf(p, k)
      if (parts.filter((q) => labelOf(q, k) === l).length === 1) return l
    }
    return p.join("/")
  })
}

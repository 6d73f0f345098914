/**
 * CSV reading for profile tables: whole file (csv-parse), header plus rows with 1-based line
 * numbers. Errors name the file, line and column; a table with a header but no
 * data rows is an error (a profile table that measured nothing would silently fall back to the
 * roofline for every kernel it should hold).
 */
import { parse as parseCsv } from "csv-parse/sync"
import { Effect } from "effect"
import * as fs from "node:fs"
import { FileError, InputError } from "../../domain/errors.js"

export interface CsvTable {
  readonly path: string
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<{ readonly line: number; readonly cells: ReadonlyArray<string> }>
}

export const readText = (file: string): Effect.Effect<string, FileError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => {
      const code = (e as NodeJS.ErrnoException).code
      return new FileError({ path: file, reason: code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message })
    }
  })

/** Read a CSV file (csv-parse); fails if a row has a different number of cells than the header. */
export const readCsv = (file: string): Effect.Effect<CsvTable, FileError | InputError> =>
  Effect.flatMap(readText(file), (text) => {
    let records: Array<{ record: Array<string>; info: { lines: number } }>
    try {
      records = parseCsv(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records
    } catch (e) {
      const err = e as { lines?: number; message?: string }
      return Effect.fail(new InputError({ path: file, line: err.lines, expected: "well-formed CSV", got: err.message?.split(":")[0] }))
    }
    if (records.length === 0) return Effect.fail(new InputError({ path: file, line: 1, expected: "a CSV header line", got: "an empty file" }))
    const header = records[0]!.record
    const shown = `${header.slice(0, 6).join(",")}${header.length > 6 ? ",..." : ""}`
    const rows: Array<{ line: number; cells: Array<string> }> = []
    for (let k = 1; k < records.length; k++) {
      const { record: cells, info } = records[k]!
      if (cells.length !== header.length) {
        return Effect.fail(new InputError({ path: file, line: info.lines, expected: `${header.length} comma-separated cells (${shown})`, got: `${cells.length}` }))
      }
      rows.push({ line: info.lines, cells })
    }
    if (rows.length === 0) return Effect.fail(new InputError({ path: file, line: records[0]!.info.lines + 1, expected: `at least one data row after the header (${shown})`, got: "only the header" }))
    return Effect.succeed({ path: file, header, rows })
  })

/** Index of a required column, or InputError naming it. */
export const column = (t: CsvTable, name: string): Effect.Effect<number, InputError> => {
  const i = t.header.indexOf(name)
  return i >= 0 ? Effect.succeed(i) : Effect.fail(new InputError({ path: t.path, line: 1, field: name, expected: `a column '${name}' in the header`, got: t.header.slice(0, 8).join(",") }))
}

/** A numeric cell (finite, >= 0 unless `allowNegative`), or InputError naming file/line/field. */
export const num = (t: CsvTable, row: { readonly line: number; readonly cells: ReadonlyArray<string> }, col: number, opts: { readonly allowEmpty?: boolean } = {}): Effect.Effect<number, InputError> => {
  const s = row.cells[col]!
  if (s === "" && opts.allowEmpty === true) return Effect.succeed(Number.NaN)
  const v = Number(s)
  return s !== "" && Number.isFinite(v) && v >= 0
    ? Effect.succeed(v)
    : Effect.fail(new InputError({ path: t.path, line: row.line, field: t.header[col], expected: "a number >= 0", got: JSON.stringify(s) }))
}

/** Synchronous numeric parse used inside tight loops; returns NaN on failure (caller reports). */
export const numOrNaN = (s: string): number => {
  if (s === "") return Number.NaN
  const v = Number(s)
  return Number.isFinite(v) && v >= 0 ? v : Number.NaN
}

/** The first row/column whose cell is not a number >= 0, as an InputError. */
export const badCell = (t: CsvTable, row: { readonly line: number; readonly cells: ReadonlyArray<string> }, col: number): InputError =>
  new InputError({ path: t.path, line: row.line, field: t.header[col], expected: "a number >= 0", got: JSON.stringify(row.cells[col]) })

/** Synchronous integer parse (a count: tokens, sequences, KV length): an integer >= `min`, else NaN. */
export const intOrNaN = (s: string, min: number): number => {
  const v = numOrNaN(s)
  return Number.isInteger(v) && v >= min ? v : Number.NaN
}

/** A cell that is not an integer >= `min`, as an InputError naming file/line/field and `what`. */
export const badInt = (t: CsvTable, row: { readonly line: number; readonly cells: ReadonlyArray<string> }, col: number, what: string, min: number): InputError =>
  new InputError({ path: t.path, line: row.line, field: t.header[col], expected: `an integer ${what} >= ${min}`, got: JSON.stringify(row.cells[col]) })

/**
 * A layer name that a format does not define, as an InputError naming file/line/field and the
 * names it accepts (`known`: the names we model, then those we read but do not model).
 */
export const unknownLayer = (t: CsvTable, row: { readonly line: number; readonly cells: ReadonlyArray<string> }, col: number, known: ReadonlyArray<string>, ignored: ReadonlyArray<string>): InputError =>
  new InputError({
    path: t.path,
    line: row.line,
    field: t.header[col],
    expected: `a known layer name: ${known.join(", ")}` + (ignored.length > 0 ? ` (read but not modelled: ${ignored.join(", ")})` : ""),
    got: JSON.stringify(row.cells[col])
  })

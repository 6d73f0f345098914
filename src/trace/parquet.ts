/**
 * Parquet output (`--output-format parquet`) through hyparquet-writer (pure JavaScript, no native
 * code or WASM): a table is buffered as typed columns and written one row group (64k rows) at a
 * time, so memory stays flat however many rows there are. Same column names as the CSV files;
 * times stay in ms (DOUBLE, the exact ns/1e6), counts are INT32, names are UTF-8 strings, and a
 * field the CSV leaves empty is null.
 *
 * A write that fails (a full disk) is kept in `error` and later rows are dropped, so the run goes
 * on and the sink's `writeSummary` fails with a FileError naming the file.
 */
import { fileWriter, ParquetWriter, type SchemaElement } from "hyparquet-writer"
import { FileError } from "../domain/errors.js"
import { e2eNs, RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { StepInfo } from "../engine/EngineObserver.js"
import type { RequestExtraColumns } from "./format.js"
import type { TimeseriesTable } from "./Timeseries.js"

/** A column: INT32, DOUBLE or UTF-8 string; `nullable` ones may hold null (an empty CSV field). */
export interface ColumnSpec {
  readonly name: string
  readonly kind: "int" | "double" | "string"
  readonly nullable?: boolean
}

type Column = Int32Array | Float64Array | Array<number | null> | Array<string | null>

const GROUP_ROWS = 65_536

const schemaOf = (columns: ReadonlyArray<ColumnSpec>): Array<SchemaElement> => [
  { name: "root", num_children: columns.length },
  ...columns.map((c): SchemaElement => {
    const repetition_type = c.nullable === true ? "OPTIONAL" : "REQUIRED"
    switch (c.kind) {
      case "int":
        return { name: c.name, type: "INT32", repetition_type }
      case "double":
        return { name: c.name, type: "DOUBLE", repetition_type }
      case "string":
        return { name: c.name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type }
    }
  })
]

/** Buffered Parquet file of one table: set the row's fields in `cols[j][n]`, then call `endRow()`. */
export class ParquetTable {
  /** Current row group's columns, in `columns` order; row `n` is being filled. */
  readonly cols: Array<Column>
  /** Rows in the current group so far. */
  n = 0
  error: Error | undefined = undefined
  private writer: ParquetWriter | undefined
  private finished = false

  constructor(readonly file: string, readonly columns: ReadonlyArray<ColumnSpec>, private readonly groupRows = GROUP_ROWS) {
    this.cols = columns.map((c): Column =>
      c.nullable === true || c.kind === "string" ? new Array(groupRows).fill(null) : c.kind === "int" ? new Int32Array(groupRows) : new Float64Array(groupRows)
    )
    this.writer = new ParquetWriter({ writer: fileWriter(file), schema: schemaOf(columns), createdBy: "llmservingsim-ts (hyparquet-writer)" })
  }

  /** The row being filled is complete; writes a row group when the buffer is full. */
  endRow(): void {
    if (++this.n === this.groupRows) this.writeGroup()
  }

  private writeGroup(): void {
    const n = this.n
    this.n = 0
    if (n === 0 || this.error !== undefined || this.writer === undefined) return
    try {
      const result = this.writer.write({
        columnData: this.columns.map((c, j) => {
          const col = this.cols[j]!
          const data = n === this.groupRows ? col : col.slice(0, n)
          return { name: c.name, data: data as Array<number> }
        }),
        rowGroupSize: n
      })
      if (result !== undefined) throw new Error("unexpected asynchronous parquet write")
    } catch (e) {
      this.error = e as Error
    }
  }

  /** Write the rows left and the file's footer (idempotent). */
  finish(): void {
    if (this.finished) return
    this.finished = true
    this.writeGroup()
    if (this.error !== undefined || this.writer === undefined) return
    try {
      const result = this.writer.finish()
      if (result !== undefined) throw new Error("unexpected asynchronous parquet write")
    } catch (e) {
      this.error = e as Error
    }
    this.writer = undefined
  }

  /** The FileError of a failed write, if one failed. */
  failure(): FileError | undefined {
    return this.error === undefined ? undefined : new FileError({ path: this.file, reason: `cannot write: ${this.error.message}` })
  }
}

/** Write a whole table given as columns (the time series) in one go. */
export const writeParquetColumns = (file: string, columns: ReadonlyArray<ColumnSpec & { readonly data: Column }>): FileError | undefined => {
  try {
    const writer = new ParquetWriter({ writer: fileWriter(file), schema: schemaOf(columns), createdBy: "llmservingsim-ts (hyparquet-writer)" })
    const rows = columns[0]?.data.length ?? 0
    if (rows > 0) writer.write({ columnData: columns.map((c) => ({ name: c.name, data: c.data as Array<number> })), rowGroupSize: GROUP_ROWS })
    writer.finish()
    return undefined
  } catch (e) {
    return new FileError({ path: file, reason: `cannot write: ${(e as Error).message}` })
  }
}

// ---- the tables ----

const ms = (name: string): ColumnSpec => ({ name, kind: "double", nullable: true })
const int = (name: string, nullable = false): ColumnSpec => ({ name, kind: "int", nullable })
const str = (name: string, nullable = false): ColumnSpec => ({ name, kind: "string", nullable })

/** requests.parquet: the columns of requests.csv. */
export const REQUEST_COLUMNS: ReadonlyArray<ColumnSpec> = [
  int("id"), int("instance"), str("pool"), str("status"), ms("arrival_ms"), ms("queued_ms"), ms("scheduled_ms"), ms("first_token_ms"), ms("finish_ms"),
  int("input_tokens"), int("output_tokens"), ms("ttft_ms"), ms("tpot_ms"), ms("e2e_ms"), ms("frontend_ms"), ms("queue_ms"), ms("prefill_ms"),
  int("preemptions"), int("cached_tokens"), int("prefill_instance", true), ms("prefill_done_ms"), ms("kv_transfer_start_ms"), ms("kv_transfer_end_ms"),
  ms("client_queue_ms"), str("reason", true)
]

/** REQUEST_COLUMNS with the run's extra columns (format.ts RequestExtraColumns), and the filler of their fields. */
export const requestColumnsWith = (extra: RequestExtraColumns = {}): { columns: ReadonlyArray<ColumnSpec>; fill: ((c: Array<Column>, i: number, r: SimRequest) => void) | undefined } => {
  const priority = extra.priority === true
  const names = extra.loraAdapters
  if (!priority && names === undefined) return { columns: REQUEST_COLUMNS, fill: undefined }
  const columns = [...REQUEST_COLUMNS, ...(priority ? [int("priority")] : []), ...(names !== undefined ? [str("lora", true)] : [])]
  const p = REQUEST_COLUMNS.length
  const l = p + (priority ? 1 : 0)
  return {
    columns,
    fill: (c, i, r) => {
      if (priority) (c[p] as Int32Array)[i] = r.priority
      if (names !== undefined) (c[l] as Array<string | null>)[i] = r.lora > 0 ? names[r.lora - 1]! : null
    }
  }
}

/** steps.parquet (--step-log): the columns of steps.csv. */
export const STEP_COLUMNS: ReadonlyArray<ColumnSpec> = [
  int("instance"), str("pool"), { name: "start_ms", kind: "double" }, { name: "duration_ms", kind: "double" }, int("prefill_seqs"), int("prefill_tokens"),
  int("decode_seqs"), int("running"), int("waiting"), int("kv_blocks_used"), int("kv_blocks_total"), int("preempted")
]

/** ns as ms, null for a negative (unset) time: the value of a requests.csv time field. */
const msOrNull = (ns: number): number | null => (ns < 0 ? null : ns / 1e6)

/**
 * Fill the current row of `t` (REQUEST_COLUMNS) with request `r` and end it: the values of
 * requestRow(r, reason), a `tpot_ms` not rounded to 6 decimals, and null where the CSV is empty.
 */
export const putRequestRow = (t: ParquetTable, r: SimRequest, reason = "", extra?: (c: Array<Column>, i: number, r: SimRequest) => void): void => {
  const c = t.cols
  const i = t.n
  const status = r.status === RequestStatus.Rejected ? "rejected" : r.numOutput >= r.outputTokens ? "finished" : "aborted"
  const done = status === "finished"
  ;(c[0] as Int32Array)[i] = r.id
  ;(c[1] as Int32Array)[i] = r.instance
  ;(c[2] as Array<string>)[i] = r.pool
  ;(c[3] as Array<string>)[i] = status
  const d = c as Array<Array<number | null>>
  d[4]![i] = msOrNull(r.arrivalNs)
  d[5]![i] = msOrNull(r.queuedNs)
  d[6]![i] = msOrNull(r.firstScheduledNs)
  d[7]![i] = msOrNull(r.firstTokenNs)
  d[8]![i] = msOrNull(r.finishNs)
  ;(c[9] as Int32Array)[i] = r.promptTokens
  ;(c[10] as Int32Array)[i] = status === "rejected" ? r.outputTokens : r.numOutput
  d[11]![i] = done ? msOrNull(ttftNs(r)) : null
  d[12]![i] = done && r.numOutput > 1 ? (r.lastTokenNs - r.firstTokenNs) / 1e6 / (r.numOutput - 1) : null
  d[13]![i] = done ? msOrNull(e2eNs(r)) : null
  d[14]![i] = done ? msOrNull(r.queuedNs - r.arrivalNs + r.egressNs) : null
  d[15]![i] = done ? msOrNull(r.firstScheduledNs - r.queuedNs) : null
  d[16]![i] = done ? msOrNull(r.firstTokenNs - r.firstScheduledNs) : null
  ;(c[17] as Int32Array)[i] = r.preemptions
  ;(c[18] as Int32Array)[i] = r.cachedPromptTokens
  d[19]![i] = r.prefillInstance < 0 ? null : r.prefillInstance
  d[20]![i] = msOrNull(r.prefillDoneNs)
  d[21]![i] = msOrNull(r.kvTransferStartNs)
  d[22]![i] = msOrNull(r.kvTransferEndNs)
  d[23]![i] = msOrNull(r.clientQueueNs)
  ;(c[24] as Array<string | null>)[i] = reason === "" ? null : reason
  if (extra !== undefined) extra(c, i, r)
  t.endRow()
}

/** Fill the current row of `t` (STEP_COLUMNS) with step `s` and end it. */
export const putStepRow = (t: ParquetTable, s: StepInfo): void => {
  const c = t.cols
  const i = t.n
  ;(c[0] as Int32Array)[i] = s.instance
  ;(c[1] as Array<string>)[i] = s.pool
  ;(c[2] as Float64Array)[i] = s.startNs / 1e6
  ;(c[3] as Float64Array)[i] = s.durationNs / 1e6
  ;(c[4] as Int32Array)[i] = s.shape.numPrefill
  ;(c[5] as Int32Array)[i] = s.shape.prefillTokens
  ;(c[6] as Int32Array)[i] = s.shape.numDecode
  ;(c[7] as Int32Array)[i] = s.running
  ;(c[8] as Int32Array)[i] = s.waiting
  ;(c[9] as Int32Array)[i] = s.kvBlocksUsed
  ;(c[10] as Int32Array)[i] = s.kvBlocksTotal
  ;(c[11] as Int32Array)[i] = s.preempted
  t.endRow()
}

/** Write the time series as timeseries.parquet (columns as timeseries.csv; rates and means unrounded). */
export const writeTimeseriesParquet = (file: string, tb: TimeseriesTable): FileError | undefined => {
  const i32 = (a: Float64Array) => Int32Array.from(a)
  const dbl = (name: string, data: Float64Array) => ({ name, kind: "double" as const, data })
  const int32 = (name: string, data: Float64Array) => ({ name, kind: "int" as const, data: i32(data) })
  return writeParquetColumns(file, [
    dbl("t", tb.t), { name: "instance", kind: "int", data: tb.instance }, { name: "pool", kind: "string", data: [...tb.pool] },
    int32("steps", tb.steps), dbl("busy_pct", tb.busyPct), dbl("prompt_throughput", tb.promptThroughput), dbl("gen_throughput", tb.genThroughput),
    dbl("running", tb.running), dbl("waiting", tb.waiting), dbl("kv_cache_pct", tb.kvCachePct),
    int32("prompt_tokens", tb.promptTokens), int32("generation_tokens", tb.generationTokens),
    int32("prefix_cache_queries", tb.prefixCacheQueries), int32("prefix_cache_hits", tb.prefixCacheHits),
    int32("preemptions", tb.preemptions), int32("requests_finished", tb.requestsFinished)
  ])
}

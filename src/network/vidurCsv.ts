/**
 * Reader of Vidur's measured collective tables (github.com/microsoft/vidur,
 * data/profiling/network/<sku>/{all_reduce,send_recv}.csv), written by Vidur's
 * `vidur/profiling/collectives` profiler. Columns:
 *
 *   ,time_stats.<c>.min,time_stats.<c>.max,time_stats.<c>.mean,time_stats.<c>.median,
 *   time_stats.<c>.std,rank,num_workers,size,collective,devices_per_node,max_devices_per_node
 *
 * with <c> = all_reduce or send_recv. Units (as Vidur uses them): the times are milliseconds
 * (Vidur's predictor adds `nccl_cpu_launch_overhead_ms` to them) and `size` is the message in
 * bytes (Vidur converts it to tokens as size / embedding_dim / 2, i.e. 16-bit activations).
 *
 * Which rows are kept, following Vidur's SklearnExecutionTimePredictor:
 *  - `collective` equal to the table's collective (other rows are skipped);
 *  - per num_workers n, the rows measured with all n GPUs on one node (devices_per_node == n;
 *    Vidur keeps exactly these for TP all-reduce, and devices_per_node == 2 for single-node
 *    send/recv). Where a num_workers has no such rows (a100_dgx's 16 workers on 8-GPU nodes),
 *    the rows with the largest devices_per_node (fewest nodes) are kept instead;
 *  - the median time (`time_stats.<c>.median`), as Vidur trains on the median; repeated sizes
 *    are averaged.
 * Measured medians are noisy at small sizes (in h100_dgx/all_reduce.csv, TP 2, 270 of 993
 * neighbouring sizes get faster with more bytes), so each curve is made non-decreasing in size by
 * isotonic least squares (pool-adjacent-violators), which leaves an already monotone table as it is.
 *
 * Parsed with csv-parse as a stream; a malformed file fails with InputError naming the file, the
 * 1-based line and the field; an unreadable one with FileError.
 */
import { parse as csvParse } from "csv-parse"
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import { FileError, InputError, show } from "../domain/errors.js"

export type Collective = "all_reduce" | "send_recv"

/** One measured curve: time of the collective vs message size, for one num_workers. */
export interface CollectiveCurve {
  readonly numWorkers: number
  /** The devices_per_node of the rows kept (undefined when the file has no such column). */
  readonly devicesPerNode: number | undefined
  /** Distinct message sizes, bytes, ascending. */
  readonly sizes: ReadonlyArray<number>
  /** Median time at each size, ns, made non-decreasing (isotonic fit). */
  readonly ns: ReadonlyArray<number>
  /** The measured median times before the isotonic fit, ns (for fits and reports). */
  readonly measuredNs: ReadonlyArray<number>
}

export interface CollectiveTable {
  readonly path: string
  readonly collective: Collective
  /** Curves by num_workers, ascending num_workers. */
  readonly curves: ReadonlyArray<CollectiveCurve>
  /** Rows read (of this collective, before the devices_per_node selection). */
  readonly rows: number
}

const openError = (file: string, e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code
  return new FileError({ path: file, reason: code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, not a CSV file" : (e as Error).message })
}

interface Row {
  readonly n: number
  readonly dpn: number | undefined
  readonly size: number
  readonly ns: number
}

/**
 * Pool-adjacent-violators: the non-decreasing sequence closest to `y` in weighted least squares.
 * A non-decreasing `y` is returned unchanged.
 */
export const isotonic = (y: ReadonlyArray<number>, w: ReadonlyArray<number> = y.map(() => 1)): Array<number> => {
  const val: Array<number> = []
  const wt: Array<number> = []
  const len: Array<number> = []
  for (let i = 0; i < y.length; i++) {
    val.push(y[i]!)
    wt.push(w[i]!)
    len.push(1)
    while (val.length > 1 && val[val.length - 2]! > val[val.length - 1]!) {
      const v2 = val.pop()!, w2 = wt.pop()!, l2 = len.pop()!
      const v1 = val.pop()!, w1 = wt.pop()!, l1 = len.pop()!
      val.push((v1 * w1 + v2 * w2) / (w1 + w2))
      wt.push(w1 + w2)
      len.push(l1 + l2)
    }
  }
  const out: Array<number> = []
  for (let b = 0; b < val.length; b++) for (let k = 0; k < len[b]!; k++) out.push(val[b]!)
  return out
}

/** The curves of the kept rows (see the module comment for the selection). */
export const curvesOf = (rows: ReadonlyArray<Row>): Array<CollectiveCurve> => {
  const byN = new Map<number, Array<Row>>()
  for (const r of rows) {
    const a = byN.get(r.n)
    if (a === undefined) byN.set(r.n, [r])
    else a.push(r)
  }
  const curves: Array<CollectiveCurve> = []
  for (const n of [...byN.keys()].sort((a, b) => a - b)) {
    const all = byN.get(n)!
    const dpns = [...new Set(all.map((r) => r.dpn).filter((d): d is number => d !== undefined))]
    const dpn = dpns.length === 0 ? undefined : dpns.includes(n) ? n : Math.max(...dpns)
    const kept = dpn === undefined ? all : all.filter((r) => r.dpn === dpn)
    const bySize = new Map<number, { sum: number; count: number }>()
    for (const r of kept) {
      const s = bySize.get(r.size)
      if (s === undefined) bySize.set(r.size, { sum: r.ns, count: 1 })
      else { s.sum += r.ns; s.count++ }
    }
    const sizes = [...bySize.keys()].sort((a, b) => a - b)
    const measuredNs = sizes.map((s) => bySize.get(s)!.sum / bySize.get(s)!.count)
    const ns = isotonic(measuredNs, sizes.map((s) => bySize.get(s)!.count))
    curves.push({ numWorkers: n, devicesPerNode: dpn, sizes, ns, measuredNs })
  }
  return curves
}

/** The collective a header times (`time_stats.<c>.median`), if it is one of ours. */
export const collectiveOfHeader = (header: ReadonlyArray<string>): Collective | undefined =>
  header.includes("time_stats.all_reduce.median") ? "all_reduce" : header.includes("time_stats.send_recv.median") ? "send_recv" : undefined

/**
 * Read one Vidur network CSV. `expect` is the collective the file should hold (from its name);
 * undefined accepts either, detected from the header.
 */
export const readCollectiveCsv = (file: string, expect?: Collective): Effect.Effect<CollectiveTable, FileError | InputError> =>
  Effect.gen(function*() {
    const st = yield* Effect.try({ try: () => fs.statSync(file), catch: (e) => openError(file, e) })
    if (st.isDirectory()) return yield* new FileError({ path: file, reason: "is a directory, not a CSV file" })
    let header: Array<string> | undefined
    let collective: Collective | undefined
    let col = { t: -1, n: -1, size: -1, coll: -1, dpn: -1 }
    const rows: Array<Row> = []
    const parser = fs.createReadStream(file).pipe(csvParse({ bom: true, trim: true, skip_empty_lines: true, info: true }))
    const records = Stream.fromAsyncIterable(
      parser as AsyncIterable<{ record: Array<string>; info: { lines: number } }>,
      (e) => {
        const err = e as { lines?: number; message?: string; code?: string }
        if (err.code === "ENOENT" || err.code === "EACCES" || err.code === "EISDIR") return openError(file, e)
        return new InputError({ path: file, line: err.lines, expected: "a well-formed CSV row with as many cells as the header", got: err.message?.split(":")[0] })
      }
    )
    const badNumber = (line: number, field: string, value: string | undefined, what: string) =>
      new InputError({ path: file, line, field, expected: what, got: show(value ?? "") })
    yield* Stream.runForEachChunk(records, (chunk) =>
      Effect.suspend(() => {
        for (const { info, record } of chunk) {
          const line = info.lines
          if (header === undefined) {
            header = record
            collective = collectiveOfHeader(record)
            if (collective === undefined || (expect !== undefined && collective !== expect)) {
              const want = expect ?? "all_reduce or send_recv"
              return Effect.fail(new InputError({ path: file, line, field: `time_stats.${want}.median`, expected: `a Vidur network CSV header with time_stats.${want}.median`, got: show(record.slice(0, 6).join(",")) }))
            }
            for (const name of ["num_workers", "size"]) {
              if (!record.includes(name)) return Effect.fail(new InputError({ path: file, line, field: name, expected: `a column '${name}' in the header`, got: show(record.slice(0, 8).join(",")) }))
            }
            col = {
              t: record.indexOf(`time_stats.${collective}.median`),
              n: record.indexOf("num_workers"),
              size: record.indexOf("size"),
              coll: record.indexOf("collective"),
              dpn: record.indexOf("devices_per_node")
            }
            continue
          }
          if (col.coll >= 0 && record[col.coll] !== collective) continue
          const tStr = record[col.t]
          const ms = tStr === undefined || tStr === "" ? Number.NaN : Number(tStr)
          if (!(Number.isFinite(ms) && ms >= 0)) return Effect.fail(badNumber(line, header[col.t]!, tStr, "a time >= 0 in ms"))
          const nStr = record[col.n]
          const n = Number(nStr)
          if (!(nStr !== "" && Number.isInteger(n) && n >= 1)) return Effect.fail(badNumber(line, "num_workers", nStr, "a positive integer"))
          const sStr = record[col.size]
          const size = Number(sStr)
          if (!(sStr !== "" && Number.isFinite(size) && size > 0)) return Effect.fail(badNumber(line, "size", sStr, "a message size > 0 in bytes"))
          let dpn: number | undefined
          if (col.dpn >= 0) {
            const dStr = record[col.dpn]
            dpn = Number(dStr)
            if (!(dStr !== "" && Number.isInteger(dpn) && dpn >= 1)) return Effect.fail(badNumber(line, "devices_per_node", dStr, "a positive integer"))
          }
          rows.push({ n, dpn, size, ns: ms * 1e6 })
        }
        return Effect.void
      }))
    if (header === undefined) return yield* new InputError({ path: file, line: 1, expected: "a Vidur network CSV header", got: "an empty file" })
    if (rows.length === 0) return yield* new InputError({ path: file, line: 2, expected: `at least one ${collective} row` })
    return { path: file, collective: collective!, curves: curvesOf(rows), rows: rows.length }
  })

/**
 * TraceWriter: where a run's results go. Layers:
 *  - `files(dir, options)`: `requests.csv` (one row per request as it finishes or is rejected),
 *    `timeseries.csv` (fixed buckets of simulated time, default 1 s: see Timeseries.ts), with
 *    `stepLog` also `steps.csv` (one row per engine step), and `summary.json`; with
 *    `outputFormat: "parquet"` the three tables are `.parquet` files instead (parquet.ts). Rows are
 *    encoded straight into 1 MiB buffers (ByteFile) or 64k-row column groups, so memory does not
 *    grow with the number of requests or steps (the time series holds its buckets until the end);
 *  - `inMemory(store)`: rows kept as objects (tests);
 *  - `none`: discard everything but the summary.
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError } from "../domain/errors.js"
import type { SimRequest } from "../domain/SimRequest.js"
import type { EngineObserver, StepInfo } from "../engine/EngineObserver.js"
import type { Summary } from "../metrics/Summary.js"
import { ByteFile } from "./ByteFile.js"
import { extraRequestFields, type RequestExtraColumns, requestRow, requestsHeader, STEPS_HEADER, writeRequestRow, writeStepRow } from "./format.js"
import { ParquetTable, putRequestRow, putStepRow, requestColumnsWith, STEP_COLUMNS, writeTimeseriesParquet } from "./parquet.js"
import { Timeseries, TIMESERIES_HEADER, timeseriesRow, type TimeseriesSource } from "./Timeseries.js"
import { mkdirs } from "../domain/mkdirs.js"

/** File formats of the tables (`--output-format`). */
export const OUTPUT_FORMATS = ["csv", "parquet"] as const
/** One of OUTPUT_FORMATS. */
export type OutputFormat = typeof OUTPUT_FORMATS[number]

/** What `TraceWriter.files` writes besides requests and summary.json. */
export interface FileOutputOptions {
  /** Also the per-step log, steps.csv / steps.parquet (`--step-log`; default off). */
  readonly stepLog?: boolean
  /** Bucket width of timeseries.csv, s of simulated time (`--timeseries-interval-s`; default 1). */
  readonly timeseriesIntervalS?: number
  /** csv (default) or parquet (`--output-format`). */
  readonly outputFormat?: OutputFormat
  /** Columns requests.csv gains after `reason` (priority, lora) when the run uses them (format.ts). */
  readonly requestColumns?: RequestExtraColumns
}

/** The files a run with these options writes, in order (for messages and tests). */
export const outputFiles = (o: FileOutputOptions = {}): Array<string> => {
  const ext = o.outputFormat === "parquet" ? "parquet" : "csv"
  return ["summary.json", `requests.${ext}`, `timeseries.${ext}`, ...(o.stepLog === true ? [`steps.${ext}`] : [])]
}

export interface TraceSink {
  /** Receives finished/rejected requests and steps while the engine runs. */
  readonly observer: EngineObserver
  /** Write the run's summary and flush everything. */
  readonly writeSummary: (s: Summary) => Effect.Effect<void, FileError>
  /** Called once the engine's instances exist (the time series reads their KV caches' counters). */
  readonly attach?: (instances: ReadonlyArray<TimeseriesSource>) => void
}

export class TraceWriter extends Context.Tag("llmservingsim/TraceWriter")<TraceWriter, TraceSink>() {
  /**
   * Write `summary.json`, `requests.csv` and `timeseries.csv` (and with `stepLog` `steps.csv`; with
   * `outputFormat: "parquet"` the tables as .parquet) into `dir` (created if missing).
   */
  static readonly files = (dir: string, options: FileOutputOptions = {}): Layer.Layer<TraceWriter, FileError> =>
    Layer.scoped(TraceWriter, makeFileSink(dir, options))

  /** Keep everything in `store` (tests). */
  static readonly inMemory = (store: InMemoryTrace): Layer.Layer<TraceWriter> => Layer.succeed(TraceWriter, memorySink(store))

  /** Discard rows. */
  static readonly none: Layer.Layer<TraceWriter> = Layer.succeed(TraceWriter, { observer: {}, writeSummary: () => Effect.void })
}

export interface InMemoryTrace {
  readonly requests: Array<{ readonly request: SimRequest; readonly reason: string; readonly row: string }>
  readonly steps: Array<StepInfo>
  summary: Summary | undefined
  /** The run's time series, when asked for (makeInMemoryTrace's `timeseriesIntervalS`). */
  readonly timeseries: Timeseries | undefined
}

/** An empty store for `TraceWriter.inMemory`; with `timeseriesIntervalS` it also keeps the time series. */
export const makeInMemoryTrace = (o: { readonly timeseriesIntervalS?: number } = {}): InMemoryTrace => ({
  requests: [],
  steps: [],
  summary: undefined,
  timeseries: o.timeseriesIntervalS === undefined ? undefined : new Timeseries(intervalNsOf(o.timeseriesIntervalS))
})

const memorySink = (store: InMemoryTrace): TraceSink => {
  const ts = store.timeseries?.observer
  return {
    observer: {
      onStep: (s) => {
        store.steps.push({ ...s, shape: { ...s.shape, prefillChunk: s.shape.prefillChunk.slice(0, s.shape.numPrefill), prefillContext: s.shape.prefillContext.slice(0, s.shape.numPrefill) } })
        ts?.onStep?.(s)
      },
      onFinish: (r) => {
        store.requests.push({ request: r, reason: "", row: requestRow(r) })
        ts?.onFinish?.(r)
      },
      onReject: (r, reason) => store.requests.push({ request: r, reason, row: requestRow(r, reason) }),
      ...(ts === undefined ? {} : { onPreempt: ts.onPreempt! })
    },
    writeSummary: (s) => Effect.sync(() => {
      store.summary = s
    }),
    attach: (instances) => store.timeseries?.attach(instances)
  }
}

/** A bucket width in s as integer ns (at least 1). */
export const intervalNsOf = (seconds: number): number => Math.max(1, Math.round(seconds * 1e9))

/**
 * Write `s` as `dir`/summary.json (2-space JSON and a newline, as the file sink writes it); used
 * also to rewrite a run's summary with what was computed after it (`simulate --sensitivity`).
 */
export const writeSummaryFile = (dir: string, s: object): Effect.Effect<void, FileError> => {
  const file = path.join(dir, "summary.json")
  return Effect.try({
    try: () => fs.writeFileSync(file, JSON.stringify(s, null, 2) + "\n"),
    catch: (e) => new FileError({ path: file, reason: `cannot write: ${(e as Error).message}` })
  })
}

const acquire = <A extends { close(): void } | { finish(): void }>(file: string, open: () => A) =>
  Effect.acquireRelease(
    Effect.try({ try: open, catch: (e) => new FileError({ path: file, reason: `cannot write: ${(e as Error).message}` }) }),
    (f) => Effect.sync(() => ("close" in f ? f.close() : f.finish()))
  )

const makeFileSink = (dir: string, o: FileOutputOptions) =>
  Effect.gen(function*() {
    yield* Effect.try({
      try: () => mkdirs(dir),
      catch: (e) => new FileError({ path: dir, reason: `cannot create output directory: ${(e as Error).message}` })
    })
    const parquet = o.outputFormat === "parquet"
    const ext = parquet ? "parquet" : "csv"
    const series = new Timeseries(intervalNsOf(o.timeseriesIntervalS ?? 1))
    const ts = series.observer
    const tsStep = ts.onStep!
    const tsFinish = ts.onFinish!
    const file = (name: string) => path.join(dir, `${name}.${ext}`)
    let observer: EngineObserver
    let flush: () => FileError | undefined
    if (!parquet) {
      const requests = yield* acquire(file("requests"), () => ByteFile.open(file("requests")))
      requests.text(requestsHeader(o.requestColumns))
      const extra = extraRequestFields(o.requestColumns)
      const steps = o.stepLog === true ? yield* acquire(file("steps"), () => ByteFile.open(file("steps"))) : undefined
      steps?.text(STEPS_HEADER)
      observer = {
        onFinish: (r) => {
          writeRequestRow(requests, r, "", extra)
          tsFinish(r)
        },
        onReject: (r, reason) => writeRequestRow(requests, r, reason, extra),
        onStep: steps === undefined ? tsStep : (s: StepInfo) => {
          writeStepRow(steps, s)
          tsStep(s)
        },
        onPreempt: ts.onPreempt!
      }
      flush = () => {
        requests.flush()
        steps?.flush()
        return requests.failure() ?? steps?.failure()
      }
    } else {
      const { columns, fill } = requestColumnsWith(o.requestColumns)
      const requests = yield* acquire(file("requests"), () => new ParquetTable(file("requests"), columns))
      const steps = o.stepLog === true ? yield* acquire(file("steps"), () => new ParquetTable(file("steps"), STEP_COLUMNS)) : undefined
      observer = {
        onFinish: (r) => {
          putRequestRow(requests, r, "", fill)
          tsFinish(r)
        },
        onReject: (r, reason) => putRequestRow(requests, r, reason, fill),
        onStep: steps === undefined ? tsStep : (s: StepInfo) => {
          putStepRow(steps, s)
          tsStep(s)
        },
        onPreempt: ts.onPreempt!
      }
      flush = () => {
        requests.finish()
        steps?.finish()
        return requests.failure() ?? steps?.failure()
      }
    }
    const writeTimeseries = (): FileError | undefined => {
      const tb = series.table()
      if (parquet) return writeTimeseriesParquet(file("timeseries"), tb)
      let out: ByteFile
      try {
        out = ByteFile.open(file("timeseries"))
      } catch (e) {
        return new FileError({ path: file("timeseries"), reason: `cannot write: ${(e as Error).message}` })
      }
      out.text(TIMESERIES_HEADER)
      for (let i = 0; i < tb.rows; i++) {
        out.beginRow()
        out.text(timeseriesRow(tb, i))
      }
      out.close()
      return out.failure()
    }
    return {
      observer,
      attach: (instances) => series.attach(instances),
      writeSummary: (s: Summary) =>
        Effect.suspend(() => {
          const failed = flush() ?? writeTimeseries()
          if (failed !== undefined) return Effect.fail(failed)
          return writeSummaryFile(dir, s)
        })
    } satisfies TraceSink
  })

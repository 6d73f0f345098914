/**
 * Reads a trace file as a Stream of arrivals, never holding the whole file: CSV/TSV through
 * csv-parse, JSONL line by line. The format is detected from the extension and the header or
 * first record, or forced with `format`. Arrivals are made relative to the first record,
 * divided by `rateScale` (2 = twice the request rate) and cut to `numRequests`.
 * A gzip-compressed file (detected by its magic bytes, whatever its name) is read through Node's
 * zlib, transparently. Fails with FileError (cannot open/read) or InputError (file, line, field,
 * what was expected; a binary file is refused without echoing its bytes).
 */
import { MAX_ARRIVAL_DAYS, MAX_ARRIVAL_NS } from "../../domain/clockRange.js"
import { parse as csvParse } from "csv-parse"
import { Chunk, Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { FileError, InputError } from "../../domain/errors.js"
import type { Arrival } from "../../engine/Engine.js"
import { type CsvFormat, FORMATS, type JsonlFormat, TRACE_FORMATS, type TraceFormat, type TraceRecord } from "./formats.js"
import { checkLora, optionalIntField, optionalLoraField } from "./fields.js"

export interface TraceOptions {
  readonly format?: TraceFormat | undefined
  readonly numRequests?: number | undefined
  /** Multiply the request rate by this factor (arrival times divided by it). */
  readonly rateScale?: number | undefined
  /**
   * The served LoRA adapters' names, or null when LoRA is off: a record's `lora` naming another
   * adapter (or any, with LoRA off) fails with InputError at its file and line. Absent: not checked.
   */
  readonly loraAdapters?: ReadonlyArray<string> | null | undefined
}

export type TraceError = FileError | InputError

const readHead = (file: string): Effect.Effect<string, FileError> =>
  Effect.try({
    try: () => {
      const st = fs.statSync(file)
      if (st.isDirectory()) throw Object.assign(new Error("is a directory, not a trace file"), { code: "EISDIR" })
      const fd = fs.openSync(file, "r")
      try {
        const buf = Buffer.alloc(65536)
        const n = fs.readSync(fd, buf, 0, buf.length, 0)
        const bytes = buf.subarray(0, n)
        // a truncated gzip prefix decompresses as far as it goes with a sync flush
        const text = isGzipHead(bytes) ? zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH }) : bytes
        return text.toString("utf8")
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (e) => {
      const code = (e as NodeJS.ErrnoException).code
      return new FileError({ path: file, reason: code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, not a trace file" : (e as Error).message })
    }
  })

const isGzipHead = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b

/** Whether `file` starts with gzip's magic bytes. */
const isGzip = (file: string): boolean => {
  try {
    const fd = fs.openSync(file, "r")
    try {
      const b = Buffer.alloc(2)
      return fs.readSync(fd, b, 0, 2, 0) === 2 && isGzipHead(b)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return false
  }
}

/** The file's bytes as a stream, decompressed when it is gzip. */
const openText = (file: string, highWaterMark?: number): NodeJS.ReadableStream => {
  const raw = fs.createReadStream(file, highWaterMark === undefined ? {} : { highWaterMark })
  if (!isGzip(file)) return raw
  const gz = zlib.createGunzip()
  // pipe() does not forward errors: a read error ends the gunzip stream with it
  raw.on("error", (e) => gz.destroy(e))
  return raw.pipe(gz)
}

/**
 * Whether an LLMServingSim JSONL trace holds agentic sessions (a line with `sub_requests`): one
 * streamed pass over the text, so `simulate` knows before the run to send their later turns
 * closed-loop. Fails with FileError when the file cannot be read.
 */
export const hasAgenticSessions = (file: string): Effect.Effect<boolean, FileError> =>
  Effect.tryPromise({
    try: async () => {
      let tail = ""
      for await (const chunk of openText(file) as AsyncIterable<Buffer | string>) {
        const text = tail + chunk.toString()
        if (text.includes('"sub_requests"')) return true
        tail = text.slice(-16)
      }
      return false
    },
    catch: (e) => new FileError({ path: file, reason: streamReason(e) })
  })

/** `src` piped into `dest`, `src`'s errors (a truncated or corrupt gzip) ending `dest` with them. */
const pipeInto = <D extends NodeJS.WritableStream & { destroy: (e?: Error) => unknown }>(src: NodeJS.ReadableStream, dest: D): D => {
  src.on("error", (e: Error) => dest.destroy(e))
  return src.pipe(dest)
}

/** A stream error as a one-line reason ("truncated gzip" for zlib's unexpected end of file). */
const streamReason = (e: unknown): string => {
  const err = e as { code?: string; message?: string }
  return err.code === "Z_BUF_ERROR" ? "truncated gzip (unexpected end of file)" : err.code?.startsWith("Z_") === true ? `corrupt gzip (${err.message})` : String(err.message ?? e)
}

const firstLine = (head: string) => head.replace(/^\uFEFF/, "").split(/\r?\n/).find((l) => l.trim() !== "") ?? ""

/** Detect the format from the extension and the first line. */
export const detectFormat = (file: string): Effect.Effect<TraceFormat, TraceError> =>
  Effect.gen(function*() {
    const head = yield* readHead(file)
    const line = firstLine(head)
    const ext = path.extname(file).toLowerCase()
    const fail = (why: string) =>
      new InputError({ path: file, line: 1, expected: `a trace in one of the formats ${TRACE_FORMATS.join(", ")} (${why}); use --trace-format to force one` })
    if (line === "") return yield* fail("the file is empty")
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000e-\u001a\ufffd]/.test(head.slice(0, 4096))) return yield* fail("the file is binary, not text")
    if (line.trimStart().startsWith("{")) {
      let o: Record<string, unknown>
      try {
        o = JSON.parse(line) as Record<string, unknown>
      } catch {
        return yield* new InputError({ path: file, line: 1, expected: "a JSON object per line", got: line.slice(0, 40) })
      }
      if ("input_length" in o || "hash_ids" in o) return "mooncake"
      if ("input_toks" in o || "sub_requests" in o) return "llmservingsim-jsonl"
      return yield* fail(`unrecognised JSON fields ${Object.keys(o).slice(0, 5).join(", ")}`)
    }
    const cols = line.split(line.includes("\t") ? "\t" : ",").map((c) => c.trim())
    for (const f of TRACE_FORMATS) {
      const spec = FORMATS[f]
      if (spec.kind === "csv" && spec.columns.every((c) => cols.includes(c))) return f
    }
    return yield* fail(`unrecognised header '${line.slice(0, 60)}'${ext === "" ? "" : ` in a ${ext} file`}`)
  })

/** Raw records of a CSV/TSV trace with their line numbers. */
const csvRecords = (file: string, spec: CsvFormat) =>
  Stream.suspend(() => {
    const parser = pipeInto(openText(file), csvParse({
      delimiter: spec.delimiter,
      columns: true,
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true
    }))
    return Stream.fromAsyncIterable(
      parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>,
      (e) => {
        const err = e as { lines?: number; message?: string; code?: string }
        if (err.code === "ENOENT") return new FileError({ path: file, reason: "no such file" })
        if (err.code?.startsWith("Z_") === true) return new FileError({ path: file, reason: streamReason(e) })
        return new InputError({ path: file, line: err.lines, expected: `${spec.columns.length} ${spec.delimiter === "\t" ? "tab" : "comma"}-separated columns (${spec.columns.join(", ")})`, got: err.message?.split(":")[0] })
      }
    )
  })

/** Raw JSON objects of a JSONL trace with their line numbers. */
const jsonlRecords = (file: string) => Stream.suspend(() => {
  // the file is opened and lines counted per run of the stream (it can be run again)
  let lineNo = 0
  return Stream.fromAsyncIterable(openText(file, 1 << 20) as AsyncIterable<Uint8Array>, (e) => new FileError({ path: file, reason: streamReason(e) })).pipe(
    Stream.map((b) => b as Uint8Array),
    Stream.decodeText(),
    Stream.splitLines,
    Stream.mapChunksEffect((lines) =>
      Effect.suspend(() => {
        const out: Array<{ o: Record<string, unknown>; line: number }> = []
        for (const l of lines) {
          lineNo++
          if (l.trim() === "") continue
          let o: unknown
          try {
            o = JSON.parse(l)
          } catch {
            return Effect.fail(new InputError({ path: file, line: lineNo, expected: "a JSON object", got: l.length > 40 ? l.slice(0, 37) + "..." : l }))
          }
          if (typeof o !== "object" || o === null || Array.isArray(o)) {
            return Effect.fail(new InputError({ path: file, line: lineNo, expected: "a JSON object", got: l.slice(0, 40) }))
          }
          out.push({ o: o as Record<string, unknown>, line: lineNo })
        }
        return Effect.succeed(Chunk.unsafeFromArray(out))
      })
    )
  )
})

/** Turn raw records into arrivals: relative times, monotonic check, rate scaling. */
const toArrivals = <R>(
  file: string,
  records: Stream.Stream<R, TraceError>,
  parseOne: (r: R, out: TraceRecord) => void,
  rateScale: number
): Stream.Stream<Arrival, TraceError> => Stream.suspend(() => {
  // per run of the stream, so it can be run again (simulate --sensitivity replays the trace)
  let first: { secs: number; ns: number } | undefined
  let prev = 0
  let prevLine = 0
  const rec: TraceRecord = { secs: 0, ns: 0, prompt: 0, output: 0, content: undefined, session: undefined, priority: undefined, lora: undefined }
  return records.pipe(
    Stream.mapChunksEffect((chunk) =>
      Effect.suspend(() => {
        const out: Array<Arrival> = []
        try {
          for (const r of chunk) {
            rec.content = undefined
            rec.session = undefined
            rec.priority = undefined
            rec.lora = undefined
            parseOne(r, rec)
            const line = (r as { line?: number; info?: { lines: number } }).line ?? (r as { info: { lines: number } }).info.lines
            if (first === undefined) first = { secs: rec.secs, ns: rec.ns }
            const rel = (rec.secs - first.secs) * 1e9 + (rec.ns - first.ns)
            if (rel < prev) {
              return Effect.fail(new InputError({ path: file, line, field: "arrival time", expected: `arrival times in non-decreasing order (line ${prevLine} is later)` }))
            }
            prev = rel
            prevLine = line
            if (rel / rateScale > MAX_ARRIVAL_NS) {
              return Effect.fail(new InputError({ path: file, line, field: "arrival time", expected: `arrivals within ${MAX_ARRIVAL_DAYS.toFixed(0)} days of the first, the simulated clock's range (this one is ${(rel / rateScale / 86_400e9).toExponential(2)} days after it${rateScale === 1 ? "" : ` with --rate-scale ${rateScale}`})` }))
            }
            const a: Arrival = rec.session !== undefined
              ? { arrivalNs: Math.round(rel / rateScale), promptTokens: rec.prompt, outputTokens: rec.output, content: rec.content, session: rec.session }
              : rec.content === undefined
              ? { arrivalNs: Math.round(rel / rateScale), promptTokens: rec.prompt, outputTokens: rec.output }
              : { arrivalNs: Math.round(rel / rateScale), promptTokens: rec.prompt, outputTokens: rec.output, content: rec.content }
            const b = rec.priority === undefined ? a : { ...a, priority: rec.priority }
            out.push(rec.lora === undefined ? b : { ...b, loraName: rec.lora })
          }
        } catch (e) {
          if (e instanceof InputError) return Effect.fail(e)
          throw e
        }
        return Effect.succeed(Chunk.unsafeFromArray(out))
      })
    )
  )
})

/**
 * Open a trace: detects (or takes) its format, checks the header, and returns the arrivals as a
 * lazy Stream plus the format used.
 */
export const openTrace = (
  file: string,
  options: TraceOptions = {}
): Effect.Effect<{ readonly format: TraceFormat; readonly arrivals: Stream.Stream<Arrival, TraceError> }, TraceError> =>
  Effect.gen(function*() {
    const format = options.format ?? (yield* detectFormat(file))
    const spec = FORMATS[format]
    const rateScale = options.rateScale ?? 1
    let arrivals: Stream.Stream<Arrival, TraceError>
    if (spec.kind === "csv") {
      const head = firstLine(yield* readHead(file))
      const cols = head.split(spec.delimiter).map((c) => c.trim())
      const missing = spec.columns.filter((c) => !cols.includes(c))
      if (missing.length > 0) {
        return yield* new InputError({ path: file, line: 1, expected: `a header with columns ${spec.columns.join(", ")} for format ${format}`, got: `missing ${missing.join(", ")}` })
      }
      const hasPriority = cols.includes("priority")
      const hasLora = cols.includes("lora")
      arrivals = toArrivals(file, csvRecords(file, spec), (r, out) => {
        const w = { path: file, line: r.info.lines }
        spec.parse(w, (c) => r.record[c], out)
        if (hasPriority) out.priority = optionalIntField(w, "priority", r.record["priority"])
        if (hasLora) out.lora = checkLora(w, optionalLoraField(w, r.record["lora"]), options.loraAdapters)
      }, rateScale)
    } else {
      const js = spec as JsonlFormat
      arrivals = toArrivals(file, jsonlRecords(file), (r, out) => {
        const w = { path: file, line: r.line }
        js.parse(w, r.o, out)
        if ("priority" in r.o) out.priority = optionalIntField(w, "priority", r.o["priority"])
        if ("lora" in r.o) out.lora = checkLora(w, optionalLoraField(w, r.o["lora"]), options.loraAdapters)
      }, rateScale)
    }
    if (options.numRequests !== undefined) arrivals = Stream.take(arrivals, options.numRequests)
    return { format, arrivals }
  })

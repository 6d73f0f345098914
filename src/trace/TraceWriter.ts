/**
 * TraceWriter: where a run's results go. Layers:
 *  - `files(dir)`: `requests.csv` (one row per request as it finishes or is rejected),
 *    `steps.csv` (one row per engine step) and `summary.json`, streamed through 1 MiB buffers so
 *    memory does not grow with the run;
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
import { REQUESTS_HEADER, requestRow, STEPS_HEADER, stepRow } from "./format.js"
import { mkdirs } from "../domain/mkdirs.js"

export interface TraceSink {
  /** Receives finished/rejected requests and steps while the engine runs. */
  readonly observer: EngineObserver
  /** Write the run's summary and flush everything. */
  readonly writeSummary: (s: Summary) => Effect.Effect<void, FileError>
}

export class TraceWriter extends Context.Tag("llmservingsim/TraceWriter")<TraceWriter, TraceSink>() {
  /** Write `requests.csv`, `steps.csv` and `summary.json` into `dir` (created if missing). */
  static readonly files = (dir: string, options: { readonly steps?: boolean } = {}): Layer.Layer<TraceWriter, FileError> =>
    Layer.scoped(TraceWriter, makeFileSink(dir, options.steps ?? true))

  /** Keep everything in `store` (tests). */
  static readonly inMemory = (store: InMemoryTrace): Layer.Layer<TraceWriter> => Layer.succeed(TraceWriter, memorySink(store))

  /** Discard rows. */
  static readonly none: Layer.Layer<TraceWriter> = Layer.succeed(TraceWriter, { observer: {}, writeSummary: () => Effect.void })
}

export interface InMemoryTrace {
  readonly requests: Array<{ readonly request: SimRequest; readonly reason: string; readonly row: string }>
  readonly steps: Array<StepInfo>
  summary: Summary | undefined
}

export const makeInMemoryTrace = (): InMemoryTrace => ({ requests: [], steps: [], summary: undefined })

const memorySink = (store: InMemoryTrace): TraceSink => ({
  observer: {
    onStep: (s) => store.steps.push({ ...s, shape: { ...s.shape, prefillChunk: s.shape.prefillChunk.slice(0, s.shape.numPrefill), prefillContext: s.shape.prefillContext.slice(0, s.shape.numPrefill) } }),
    onFinish: (r) => store.requests.push({ request: r, reason: "", row: requestRow(r) }),
    onReject: (r, reason) => store.requests.push({ request: r, reason, row: requestRow(r, reason) })
  },
  writeSummary: (s) => Effect.sync(() => {
    store.summary = s
  })
})

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

const FLUSH_BYTES = 1 << 20

/**
 * A buffered append-only text file written with synchronous writes (no per-row Effect). A write
 * that fails (a full disk: ENOSPC) is kept in `error` and later rows are dropped, so the run goes
 * on and `writeSummary` fails with a FileError naming this file.
 */
class BufferedFile {
  private parts: Array<string> = []
  private size = 0
  error: Error | undefined = undefined
  constructor(readonly file: string, private readonly fd: number) {}
  write(s: string): void {
    if (this.error !== undefined) return
    this.parts.push(s)
    this.size += s.length
    if (this.size >= FLUSH_BYTES) this.flush()
  }
  flush(): void {
    if (this.size === 0 || this.error !== undefined) return
    try {
      fs.writeSync(this.fd, this.parts.join(""))
    } catch (e) {
      this.error = e as Error
    }
    this.parts = []
    this.size = 0
  }
  /** The FileError of a failed write, if one failed. */
  failure(): FileError | undefined {
    return this.error === undefined ? undefined : new FileError({ path: this.file, reason: `cannot write: ${this.error.message}` })
  }
  close(): void {
    this.flush()
    try {
      fs.closeSync(this.fd)
    } catch {
      // already reported through failure()
    }
  }
}

const openFile = (file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => new BufferedFile(file, fs.openSync(file, "w")),
      catch: (e) => new FileError({ path: file, reason: `cannot write: ${(e as Error).message}` })
    }),
    (f) => Effect.sync(() => f.close())
  )

const makeFileSink = (dir: string, withSteps: boolean) =>
  Effect.gen(function*() {
    yield* Effect.try({
      try: () => mkdirs(dir),
      catch: (e) => new FileError({ path: dir, reason: `cannot create output directory: ${(e as Error).message}` })
    })
    const requests = yield* openFile(path.join(dir, "requests.csv"))
    requests.write(REQUESTS_HEADER)
    const steps = withSteps ? yield* openFile(path.join(dir, "steps.csv")) : undefined
    steps?.write(STEPS_HEADER)
    const observer: EngineObserver = {
      onFinish: (r) => requests.write(requestRow(r)),
      onReject: (r, reason) => requests.write(requestRow(r, reason)),
      ...(steps === undefined ? {} : { onStep: (s: StepInfo) => steps.write(stepRow(s)) })
    }
    return {
      observer,
      writeSummary: (s: Summary) =>
        Effect.suspend(() => {
          requests.flush()
          steps?.flush()
          const failed = requests.failure() ?? steps?.failure()
          if (failed !== undefined) return Effect.fail(failed)
          return writeSummaryFile(dir, s)
        })
    } satisfies TraceSink
  })

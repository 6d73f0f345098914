/**
 * `simulate`'s progress on stderr, drawn with cli-progress: on a terminal a live bar (requests
 * finished of the total, simulated time, requests per second of wall time, ETA), redrawn at most
 * 5 times a second; when stderr is not a terminal (piped, a CI log) a plain line every 10 s, so a
 * run of a few seconds prints nothing; nothing with --quiet. The counts come from an engine
 * observer (one increment per finished or rejected request) and the simulation's progress callback
 * (after each chunk of arrivals and each drain slice), never from the engine's steps.
 */
import cliProgress from "cli-progress"
import type { EngineObserver } from "../engine/EngineObserver.js"

export interface ProgressOptions {
  /** Requests the run will have, when known (generated workloads, --num-requests). */
  readonly total: number | undefined
  /** Where it goes (default process.stderr). */
  readonly stream?: NodeJS.WriteStream
  /** Line interval when the stream is not a terminal, ms (default 10,000). */
  readonly lineEveryMs?: number
}

const thousands = (n: number) => Math.round(n).toLocaleString("en-US")

export class Progress {
  private done = 0
  private clockNs = 0
  private readonly started = performance.now()
  /** The live bar on a terminal; undefined when the stream is not one (plain lines instead). */
  private readonly bar: cliProgress.SingleBar | undefined
  private readonly stream: NodeJS.WriteStream
  private readonly lineEveryMs: number
  private lastLine: number
  private readonly total: number
  private running = false
  /** Counts the requests that ended (finished or rejected); add it to the run's observers. */
  readonly observer: EngineObserver

  constructor(o: ProgressOptions) {
    const stream = o.stream ?? process.stderr
    const known = o.total !== undefined && o.total > 0
    this.total = known ? o.total! : 0
    const tty = stream.isTTY === true
    this.stream = stream
    this.lineEveryMs = o.lineEveryMs ?? 10_000
    this.lastLine = this.started
    this.bar = !tty ? undefined : new cliProgress.SingleBar({
      stream,
      format: known
        ? `{bar} {percentage}% | {done}/{all} requests | sim {sim} s | {rate} req/s | ETA {eta_formatted}`
        : `{done} requests done | sim {sim} s | {rate} req/s`,
      barsize: 24,
      fps: 5,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      etaBuffer: 50
    }, cliProgress.Presets.shades_classic)
    const end = () => {
      this.done++
    }
    this.observer = { onFinish: end, onReject: end }
  }

  private payload() {
    const wallS = (performance.now() - this.started) / 1000
    return { done: thousands(this.done), all: thousands(this.total), sim: (this.clockNs / 1e9).toFixed(1), rate: thousands(wallS > 0 ? this.done / wallS : 0) }
  }

  /** The simulation's progress callback: the engine clock (ns) after a chunk or drain slice. */
  tick(_submitted: number, clockNs: number): void {
    this.clockNs = clockNs
    if (this.bar === undefined) {
      // not a terminal: a plain line every lineEveryMs of wall time (none in a shorter run)
      const now = performance.now()
      if (now - this.lastLine < this.lineEveryMs) return
      this.lastLine = now
      const p = this.payload()
      const pct = this.total > 0 ? ` (${((100 * this.done) / this.total).toFixed(1)}%)` : ""
      this.stream.write(`progress: ${p.done}${this.total > 0 ? `/${p.all}` : ""} requests done${pct}, simulated ${p.sim} s, ${p.rate} req/s\n`)
      return
    }
    if (!this.running) {
      this.bar.start(this.total, this.done, this.payload())
      this.running = true
    } else this.bar.update(this.done, this.payload())
  }

  /** Remove the bar (the report follows on a clean line). */
  stop(): void {
    if (!this.running || this.bar === undefined) return
    this.running = false
    this.bar.stop()
  }
}

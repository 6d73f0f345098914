/**
 * `simulate --trace-events FILE`: the run as Chrome trace-event JSON (the "JSON Object Format" of
 * the Trace Event Format, docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU),
 * which ui.perfetto.dev and chrome://tracing open. Timestamps are µs of simulated time.
 *
 * - one process per instance (`process_name` metadata: instance, pool, role);
 * - thread 0, "engine steps": one complete event (ph X) per step, args: prefill tokens and
 *   sequences, decode sequences, the running / waiting counts and KV blocks in use after scheduling
 *   it, and where the perf model can tell them apart its compute, communication and overhead µs
 *   (the engine reports fast-forwarded steps one by one too; an event standing for k steps, which
 *   StepInfo allows, would be named `decode x k`);
 * - per request, async spans (ph b/e, cat "request", id = request id) on the process it ran on:
 *   `queued` (arrival to first scheduled), `prefill` (to the first token), `decode` (to the last),
 *   `kv transfer` under disaggregation, an instant `preempted` (ph n) per preemption; rejected
 *   requests get an instant `rejected`;
 * - counters (ph C): running / waiting and KV blocks used, and the prefix-cache hit rate of the
 *   finished requests so far, at most one sample per instance per `counterIntervalNs` of simulated
 *   time (default 10 ms) plus every change after a quiet spell.
 *
 * Large runs stay loadable: request spans for the first `maxRequests` requests only (by arrival;
 * default 2,000), and at most `maxSteps` step events (default 1,000,000; later steps are counted, not
 * written). The file's `otherData` says what was left out. Events are written through a 1 MiB
 * buffer as they happen (no run-sized string in memory); the observer costs nothing without the flag.
 */
import * as fs from "node:fs"
import { FileError } from "../domain/errors.js"
import { type SimRequest } from "../domain/SimRequest.js"
import type { Engine } from "../engine/Engine.js"
import type { EngineObserver, StepInfo } from "../engine/EngineObserver.js"
import { ROLE_NAMES } from "../engine/Instance.js"
import type { StepBreakdown } from "../perf/PerfModelService.js"

export interface TraceEventsOptions {
  /** Requests (the first by arrival) whose spans are written; default 2,000. */
  readonly maxRequests?: number
  /** Step events written at most; default 1,000,000. */
  readonly maxSteps?: number
  /** Least simulated time between two counter samples of one instance, ns; default 10 ms. */
  readonly counterIntervalNs?: number
}

const us = (ns: number): number => ns / 1000

export class TraceEventsWriter {
  private readonly fd: number
  private buf: Array<string> = []
  private size = 0
  private first = true
  private engine: Engine | undefined = undefined
  private readonly maxRequests: number
  private readonly maxSteps: number
  private readonly interval: number
  private stepsWritten = 0
  private stepsDropped = 0
  private requestsWritten = 0
  private readonly lastCounter: Array<number> = []
  private hitTokens = 0
  private promptTokens = 0
  private readonly parts: StepBreakdown = { computeNs: 0, commNs: 0, overheadNs: 0 }
  private error: unknown = undefined
  private closed = false
  readonly observer: EngineObserver

  /** Opens `path` for writing; fails with FileError when it cannot. */
  static open(path: string, options: TraceEventsOptions = {}): TraceEventsWriter | FileError {
    try {
      return new TraceEventsWriter(fs.openSync(path, "w"), path, options)
    } catch (e) {
      return new FileError({ path, reason: `cannot write: ${(e as Error).message}` })
    }
  }

  private constructor(fd: number, readonly path: string, o: TraceEventsOptions) {
    this.fd = fd
    this.maxRequests = o.maxRequests ?? 2000
    this.maxSteps = o.maxSteps ?? 1_000_000
    this.interval = o.counterIntervalNs ?? 10_000_000
    this.raw(`{"displayTimeUnit":"ms","traceEvents":[`)
    this.observer = {
      onStep: (s) => this.step(s),
      onFinish: (r) => this.request(r, undefined),
      onReject: (r, why) => this.request(r, why),
      onPreempt: (r, t) => {
        if (r.id < this.maxRequests) this.event(`{"name":"preempted","cat":"request","ph":"n","id":${r.id},"pid":${r.instance},"tid":1,"ts":${us(t)}}`)
      }
    }
  }

  /** The engine whose instances the events name (processes, perf models). */
  attach(engine: Engine): void {
    this.engine = engine
    for (const inst of engine.instances) {
      const name = `instance ${inst.id} (${inst.poolName}, ${ROLE_NAMES[inst.role]})`
      this.event(`{"name":"process_name","ph":"M","pid":${inst.id},"tid":0,"args":{"name":${JSON.stringify(name)}}}`)
      this.event(`{"name":"process_sort_index","ph":"M","pid":${inst.id},"tid":0,"args":{"sort_index":${inst.id}}}`)
      this.event(`{"name":"thread_name","ph":"M","pid":${inst.id},"tid":0,"args":{"name":"engine steps"}}`)
      this.event(`{"name":"thread_name","ph":"M","pid":${inst.id},"tid":1,"args":{"name":"requests"}}`)
    }
  }

  private raw(text: string): void {
    this.buf.push(text)
    this.size += text.length
    if (this.size >= 1 << 20) this.flush()
  }

  private event(json: string): void {
    this.raw(this.first ? json : `,\n${json}`)
    this.first = false
  }

  private flush(): void {
    if (this.buf.length === 0 || this.error !== undefined) return
    try {
      fs.writeSync(this.fd, this.buf.join(""))
    } catch (e) {
      this.error = e
    }
    this.buf = []
    this.size = 0
  }

  private step(s: StepInfo): void {
    const k = s.steps ?? 1
    if (this.stepsWritten >= this.maxSteps) {
      this.stepsDropped += k
      return
    }
    this.stepsWritten++
    const b = s.shape
    const name = b.numPrefill > 0 ? (b.numDecode > 0 ? "prefill+decode" : "prefill") : k > 1 ? `decode x ${k}` : "decode"
    let split = ""
    const perf = this.engine?.instances[s.instance]?.perf
    if (perf?.breakdown !== undefined) {
      const p = this.parts
      perf.breakdown(b, p)
      const comm = p.commNs * k
      const over = p.overheadNs * k
      split = `,"compute_us":${us(Math.max(0, s.durationNs - comm - over))},"communication_us":${us(comm)},"overhead_us":${us(over)}`
    } else if (perf?.stepOverheadNs !== undefined) {
      split = `,"overhead_us":${us(perf.stepOverheadNs * k)}`
    }
    this.event(
      `{"name":"${name}","cat":"step","ph":"X","pid":${s.instance},"tid":0,"ts":${us(s.startNs)},"dur":${us(s.durationNs)},"args":{` +
        `"prefill_tokens":${b.prefillTokens},"prefill_seqs":${b.numPrefill},"decode_seqs":${b.numDecode},"steps":${k},` +
        `"running":${s.running},"waiting":${s.waiting},"kv_blocks_used":${s.kvBlocksUsed}${split}}}`
    )
    const t = s.startNs
    const last = this.lastCounter[s.instance] ?? -Infinity
    if (t - last >= this.interval) {
      this.lastCounter[s.instance] = t
      this.event(`{"name":"requests","ph":"C","pid":${s.instance},"tid":0,"ts":${us(t)},"args":{"running":${s.running},"waiting":${s.waiting}}}`)
      this.event(`{"name":"kv blocks","ph":"C","pid":${s.instance},"tid":0,"ts":${us(t)},"args":{"used":${s.kvBlocksUsed},"free":${s.kvBlocksTotal - s.kvBlocksUsed}}}`)
    }
  }

  private span(name: string, r: SimRequest, pid: number, fromNs: number, toNs: number): void {
    if (fromNs < 0 || toNs < fromNs) return
    this.event(`{"name":"${name}","cat":"request","ph":"b","id":${r.id},"pid":${pid},"tid":1,"ts":${us(fromNs)},"args":{"prompt_tokens":${r.promptTokens},"output_tokens":${r.numOutput}}}`)
    this.event(`{"name":"${name}","cat":"request","ph":"e","id":${r.id},"pid":${pid},"tid":1,"ts":${us(toNs)}}`)
  }

  private request(r: SimRequest, rejected: string | undefined): void {
    if (rejected === undefined && r.firstTokenNs >= 0) {
      this.promptTokens += r.promptTokens
      this.hitTokens += r.cachedPromptTokens
      this.event(`{"name":"prefix cache hit rate","ph":"C","pid":${r.instance},"tid":0,"ts":${us(r.finishNs)},"args":{"rate":${this.promptTokens === 0 ? 0 : this.hitTokens / this.promptTokens}}}`)
    }
    if (r.id >= this.maxRequests) return
    this.requestsWritten++
    if (rejected !== undefined) {
      this.event(`{"name":"rejected","cat":"request","ph":"n","id":${r.id},"pid":${r.instance},"tid":1,"ts":${us(r.finishNs)},"args":{"reason":${JSON.stringify(rejected)}}}`)
      return
    }
    const prefillPid = r.prefillInstance >= 0 ? r.prefillInstance : r.instance
    this.span("queued", r, prefillPid, r.arrivalNs, r.firstScheduledNs)
    if (r.prefillInstance >= 0) {
      this.span("prefill", r, prefillPid, r.firstScheduledNs, r.prefillDoneNs)
      this.span("kv transfer", r, r.instance, r.kvTransferStartNs, r.kvTransferEndNs)
    } else this.span("prefill", r, prefillPid, r.firstScheduledNs, r.firstTokenNs)
    this.span("decode", r, r.instance, r.firstTokenNs, r.finishNs)
  }

  /** Write the end of the file (what was left out, in `otherData`) and close it (once; later calls only report); a FileError when a write failed. */
  close(): FileError | undefined {
    if (this.closed) return this.closeError()
    this.closed = true
    this.raw(`],"otherData":${JSON.stringify({
      generator: "llmservingsim simulate --trace-events",
      time_unit: "us of simulated time",
      step_events: this.stepsWritten,
      steps_not_written: this.stepsDropped,
      max_steps: this.maxSteps,
      request_spans_for_first: this.maxRequests,
      requests_with_spans: this.requestsWritten
    })}}\n`)
    this.flush()
    try {
      fs.closeSync(this.fd)
    } catch (e) {
      this.error ??= e
    }
    return this.closeError()
  }

  private closeError(): FileError | undefined {
    return this.error === undefined ? undefined : new FileError({ path: this.path, reason: `cannot write: ${(this.error as Error).message ?? String(this.error)}` })
  }
}

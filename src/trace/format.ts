/**
 * Row formats of `requests.csv` and `steps.csv` (times in ms with ns resolution): as text
 * (`requestRow`, `stepRow`: tests, the in-memory sink) and written straight into a ByteFile
 * (`writeRequestRow`, `writeStepRow`: the files), byte for byte the same.
 */
import { e2eNs, RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { StepInfo } from "../engine/EngineObserver.js"
import type { ByteFile } from "./ByteFile.js"

/** Integer ns as ms with six decimals, exactly ("12.000345"); empty for negative (unset). */
export const nsToMs = (ns: number): string => {
  if (ns < 0) return ""
  const whole = Math.floor(ns / 1e6)
  const frac = ns - whole * 1e6
  return `${whole}.${String(frac).padStart(6, "0")}`
}

const ms6 = (x: number): string => x.toFixed(6)

/** The header line of requests.csv (tests pin it: keep its columns and order). */
export const REQUESTS_HEADER =
  "id,instance,pool,status,arrival_ms,queued_ms,scheduled_ms,first_token_ms,finish_ms,input_tokens,output_tokens,ttft_ms,tpot_ms,e2e_ms,frontend_ms,queue_ms,prefill_ms,preemptions,cached_tokens," +
  "prefill_instance,prefill_done_ms,kv_transfer_start_ms,kv_transfer_end_ms,client_queue_ms,reason\n"

/** The `status` column of requests.csv for `r`. */
const statusOf = (r: SimRequest): "finished" | "aborted" | "rejected" =>
  r.status === RequestStatus.Rejected ? "rejected" : r.numOutput >= r.outputTokens ? "finished" : "aborted"

const STATUS_BYTES = { finished: Buffer.from("finished"), aborted: Buffer.from("aborted"), rejected: Buffer.from("rejected") } as const

/** A CSV field: quoted (with doubled quotes) when it holds a comma, a quote or a newline. */
export const csvQuote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

/**
 * One row of requests.csv for a finished, aborted or rejected request (`output_tokens`: generated,
 * or for a rejected request the output it asked for). `arrival_ms` is the client's send,
 * `queued_ms` its arrival at the engine core (after the front end's ingress), `first_token_ms` and
 * `finish_ms` step ends; `ttft_ms` and `e2e_ms` are what the client sees (plus the egress).
 * TTFT = `frontend_ms` (ingress + egress) + `queue_ms` (engine core to first scheduled) +
 * `prefill_ms` (first scheduled to the first token's step end), exactly.
 * With a closed-loop client (--max-concurrency)
 * `arrival_ms` is when the client sent it and `client_queue_ms` how long it waited for a slot before
 * (send - scheduled arrival); without one `client_queue_ms` is empty.
 */
export const requestRow = (r: SimRequest, reason = ""): string => {
  const status = statusOf(r)
  const done = status === "finished"
  const ttft = done ? nsToMs(ttftNs(r)) : ""
  const tpot = done && r.numOutput > 1 ? ms6((r.lastTokenNs - r.firstTokenNs) / 1e6 / (r.numOutput - 1)) : ""
  const e2e = done ? nsToMs(e2eNs(r)) : ""
  const split = done ? `${nsToMs(r.queuedNs - r.arrivalNs + r.egressNs)},${nsToMs(r.firstScheduledNs - r.queuedNs)},${nsToMs(r.firstTokenNs - r.firstScheduledNs)}` : ",,"
  return `${r.id},${r.instance},${r.pool},${status},${nsToMs(r.arrivalNs)},${nsToMs(r.queuedNs)},${nsToMs(r.firstScheduledNs)},` +
    `${nsToMs(r.firstTokenNs)},${nsToMs(r.finishNs)},${r.promptTokens},${status === "rejected" ? r.outputTokens : r.numOutput},${ttft},${tpot},${e2e},${split},${r.preemptions},${r.cachedPromptTokens},` +
    `${r.prefillInstance < 0 ? "" : r.prefillInstance},${nsToMs(r.prefillDoneNs)},${nsToMs(r.kvTransferStartNs)},${nsToMs(r.kvTransferEndNs)},${nsToMs(r.clientQueueNs)},${csvQuote(reason)}\n`
}

/**
 * Columns requests.csv / requests.parquet gain after `reason` when a run uses them (absent: the
 * default header, unchanged): `priority` (--scheduling-policy priority: the request's priority) and
 * `lora` (--enable-lora: the adapter's name, empty for the base model).
 */
export interface RequestExtraColumns {
  readonly priority?: boolean | undefined
  /** The served adapters' names, id 1..n at index 0..n-1. */
  readonly loraAdapters?: ReadonlyArray<string> | undefined
}

/** requests.csv's header with `extra`'s columns. */
export const requestsHeader = (extra: RequestExtraColumns = {}): string =>
  REQUESTS_HEADER.slice(0, -1) + (extra.priority === true ? ",priority" : "") + (extra.loraAdapters !== undefined ? ",lora" : "") + "\n"

/** The writer of `extra`'s fields of a row (each after a comma), or undefined when there are none. */
export const extraRequestFields = (extra: RequestExtraColumns = {}): ((w: ByteFile, r: SimRequest) => void) | undefined => {
  const priority = extra.priority === true
  const names = extra.loraAdapters?.map(csvQuote)
  if (!priority && names === undefined) return undefined
  return (w, r) => {
    if (priority) {
      w.comma()
      w.int(r.priority)
    }
    if (names !== undefined) {
      w.comma()
      if (r.lora > 0) w.text(names[r.lora - 1]!)
    }
  }
}

/**
 * Write `requestRow(r, reason)` into `w`, byte for byte, without building the row's text; `extra`
 * (extraRequestFields) appends the run's extra columns.
 */
export const writeRequestRow = (w: ByteFile, r: SimRequest, reason = "", extra?: (w: ByteFile, r: SimRequest) => void): void => {
  w.beginRow()
  const status = statusOf(r)
  const done = status === "finished"
  w.int(r.id)
  w.comma()
  w.int(r.instance)
  w.comma()
  w.name(r.pool)
  w.comma()
  w.raw(STATUS_BYTES[status])
  w.comma()
  w.ms(r.arrivalNs)
  w.comma()
  w.ms(r.queuedNs)
  w.comma()
  w.ms(r.firstScheduledNs)
  w.comma()
  w.ms(r.firstTokenNs)
  w.comma()
  w.ms(r.finishNs)
  w.comma()
  w.int(r.promptTokens)
  w.comma()
  w.int(status === "rejected" ? r.outputTokens : r.numOutput)
  w.comma()
  if (done) w.ms(ttftNs(r))
  w.comma()
  if (done && r.numOutput > 1) w.fixed6((r.lastTokenNs - r.firstTokenNs) / 1e6 / (r.numOutput - 1))
  w.comma()
  if (done) w.ms(e2eNs(r))
  w.comma()
  if (done) w.ms(r.queuedNs - r.arrivalNs + r.egressNs)
  w.comma()
  if (done) w.ms(r.firstScheduledNs - r.queuedNs)
  w.comma()
  if (done) w.ms(r.firstTokenNs - r.firstScheduledNs)
  w.comma()
  w.int(r.preemptions)
  w.comma()
  w.int(r.cachedPromptTokens)
  w.comma()
  if (r.prefillInstance >= 0) w.int(r.prefillInstance)
  w.comma()
  w.ms(r.prefillDoneNs)
  w.comma()
  w.ms(r.kvTransferStartNs)
  w.comma()
  w.ms(r.kvTransferEndNs)
  w.comma()
  w.ms(r.clientQueueNs)
  w.comma()
  if (reason.length > 0) w.text(csvQuote(reason))
  if (extra !== undefined) extra(w, r)
  w.newline()
}

/** The header line of steps.csv. */
export const STEPS_HEADER =
  "instance,pool,start_ms,duration_ms,prefill_seqs,prefill_tokens,decode_seqs,running,waiting,kv_blocks_used,kv_blocks_total,preempted\n"

/** One row of steps.csv. */
export const stepRow = (s: StepInfo): string =>
  `${s.instance},${s.pool},${nsToMs(s.startNs)},${nsToMs(s.durationNs)},${s.shape.numPrefill},${s.shape.prefillTokens},${s.shape.numDecode},` +
  `${s.running},${s.waiting},${s.kvBlocksUsed},${s.kvBlocksTotal},${s.preempted}\n`

/** Write `stepRow(s)` into `w`, byte for byte, without building the row's text. */
export const writeStepRow = (w: ByteFile, s: StepInfo): void => {
  w.beginRow()
  w.int(s.instance)
  w.comma()
  w.name(s.pool)
  w.comma()
  w.ms(s.startNs)
  w.comma()
  w.ms(s.durationNs)
  w.comma()
  w.int(s.shape.numPrefill)
  w.comma()
  w.int(s.shape.prefillTokens)
  w.comma()
  w.int(s.shape.numDecode)
  w.comma()
  w.int(s.running)
  w.comma()
  w.int(s.waiting)
  w.comma()
  w.int(s.kvBlocksUsed)
  w.comma()
  w.int(s.kvBlocksTotal)
  w.comma()
  w.int(s.preempted)
  w.newline()
}

/** Row formats of `requests.csv` and `steps.csv` (times in ms with ns resolution). */
import { e2eNs, RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { StepInfo } from "../engine/EngineObserver.js"

/** Integer ns as ms with six decimals, exactly ("12.000345"); empty for negative (unset). */
export const nsToMs = (ns: number): string => {
  if (ns < 0) return ""
  const whole = Math.floor(ns / 1e6)
  const frac = ns - whole * 1e6
  return `${whole}.${String(frac).padStart(6, "0")}`
}

const ms6 = (x: number): string => x.toFixed(6)

export const REQUESTS_HEADER =
  "id,instance,pool,status,arrival_ms,queued_ms,scheduled_ms,first_token_ms,finish_ms,input_tokens,output_tokens,ttft_ms,tpot_ms,e2e_ms,frontend_ms,queue_ms,prefill_ms,preemptions,cached_tokens," +
  "prefill_instance,prefill_done_ms,kv_transfer_start_ms,kv_transfer_end_ms,client_queue_ms,reason\n"

const csvQuote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)

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
  const status = r.status === RequestStatus.Rejected ? "rejected" : r.numOutput >= r.outputTokens ? "finished" : "aborted"
  const done = status === "finished"
  const ttft = done ? nsToMs(ttftNs(r)) : ""
  const tpot = done && r.numOutput > 1 ? ms6((r.lastTokenNs - r.firstTokenNs) / 1e6 / (r.numOutput - 1)) : ""
  const e2e = done ? nsToMs(e2eNs(r)) : ""
  const split = done ? `${nsToMs(r.queuedNs - r.arrivalNs + r.egressNs)},${nsToMs(r.firstScheduledNs - r.queuedNs)},${nsToMs(r.firstTokenNs - r.firstScheduledNs)}` : ",,"
  return `${r.id},${r.instance},${r.pool},${status},${nsToMs(r.arrivalNs)},${nsToMs(r.queuedNs)},${nsToMs(r.firstScheduledNs)},` +
    `${nsToMs(r.firstTokenNs)},${nsToMs(r.finishNs)},${r.promptTokens},${status === "rejected" ? r.outputTokens : r.numOutput},${ttft},${tpot},${e2e},${split},${r.preemptions},${r.cachedPromptTokens},` +
    `${r.prefillInstance < 0 ? "" : r.prefillInstance},${nsToMs(r.prefillDoneNs)},${nsToMs(r.kvTransferStartNs)},${nsToMs(r.kvTransferEndNs)},${nsToMs(r.clientQueueNs)},${csvQuote(reason)}\n`
}

export const STEPS_HEADER =
  "instance,pool,start_ms,duration_ms,prefill_seqs,prefill_tokens,decode_seqs,running,waiting,kv_blocks_used,kv_blocks_total,preempted\n"

export const stepRow = (s: StepInfo): string =>
  `${s.instance},${s.pool},${nsToMs(s.startNs)},${nsToMs(s.durationNs)},${s.shape.numPrefill},${s.shape.prefillTokens},${s.shape.numDecode},` +
  `${s.running},${s.waiting},${s.kvBlocksUsed},${s.kvBlocksTotal},${s.preempted}\n`

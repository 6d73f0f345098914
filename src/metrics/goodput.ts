/**
 * Goodput as vLLM's `bench serve --goodput ttft:MS tpot:MS e2el:MS` computes it
 * (vllm/benchmarks/serve.py `calculate_metrics`): a finished request is good when every given
 * service-level objective holds (its TTFT, TPOT and E2E latency each at most the objective, ms;
 * a one-token output's TPOT counts as 0), and `request_goodput` is good requests per second of the
 * run's duration. Per-objective attainment (the share of finished requests meeting each one, and
 * all of them) is added, as GuideLLM reports it.
 */
import { Effect } from "effect"
import { foldListFlag } from "../cli/listFlag.js"
import { parseDecimal } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"
import { e2eNs, RequestStatus, type SimRequest, ttftNs } from "../domain/SimRequest.js"
import type { EngineObserver } from "../engine/EngineObserver.js"

/** The objectives, ms (absent: not checked). */
export interface GoodputSlo {
  readonly ttft?: number
  readonly tpot?: number
  readonly e2el?: number
}

const KEYS = ["ttft", "tpot", "e2el"] as const

/**
 * Parse `KEY:MS` pairs separated by spaces or commas (vLLM's `--goodput ttft:300 tpot:50`), or
 * InvalidOption naming --goodput: keys ttft, tpot, e2el (each once), values numbers >= 0 (ms).
 */
export const parseGoodput = (text: string): Effect.Effect<GoodputSlo, InvalidOption> =>
  Effect.gen(function*() {
    const bad = (reason: string) => new InvalidOption({ option: "--goodput", reason })
    const out: Record<string, number> = {}
    const parts = text.trim().split(/\s*,\s*|\s+/)
    if (parts.every((p) => p === "")) return yield* bad("expected KEY:MS pairs, e.g. ttft:300 tpot:50 (keys ttft, tpot, e2el)")
    if (parts.includes("")) return yield* bad(`an empty entry in '${text}' (two commas, or one at an end)`)
    for (const part of parts) {
      const m = /^([a-z0-9_]+):(.*)$/.exec(part)
      if (m === null) return yield* bad(`expected KEY:MS (got '${part}'); keys ttft, tpot, e2el`)
      const [, key, value] = m
      if (!(KEYS as ReadonlyArray<string>).includes(key!)) return yield* bad(`invalid metric name '${key}': the service level objective name should be one of ${KEYS.join(", ")}`)
      if (out[key!] !== undefined) return yield* bad(`${key} is given twice`)
      const v = parseDecimal(value!)
      if (v === undefined || v < 0) return yield* bad(`invalid value '${value}' for ${key}: the service level objective value should be a number of ms >= 0`)
      out[key!] = v
    }
    return out as GoodputSlo
  })

/**
 * Argv with vLLM's spelling `--goodput ttft:300 tpot:50` (several values after one flag) folded
 * into one value `--goodput ttft:300,tpot:50`, which @effect/cli reads as one option.
 */
export const normalizeGoodputFlag = (args: ReadonlyArray<string>): Array<string> => foldListFlag(args, "--goodput", /^[a-z0-9_]+:/)

/** The goodput section of summary.json. */
export interface GoodputSummary {
  /** Good requests per second of the run's duration (vLLM's key). */
  readonly request_goodput: number
  readonly goodput: {
    readonly slo_ms: GoodputSlo
    readonly good_requests: number
    /** Share of the finished requests meeting each objective, and all of them. */
    readonly attainment: { readonly ttft?: number; readonly tpot?: number; readonly e2el?: number; readonly all: number }
  }
}

/** Counts the finished requests meeting the objectives (O(1) per finish). */
export class GoodputMeter {
  private finished = 0
  private good = 0
  private okTtft = 0
  private okTpot = 0
  private okE2el = 0
  readonly observer: EngineObserver

  constructor(readonly slo: GoodputSlo) {
    const NS = 1e6
    const ttft = slo.ttft === undefined ? Infinity : slo.ttft * NS
    const tpot = slo.tpot === undefined ? Infinity : slo.tpot * NS
    const e2el = slo.e2el === undefined ? Infinity : slo.e2el * NS
    this.observer = {
      onFinish: (r: SimRequest) => {
        if (r.status !== RequestStatus.Finished || r.numOutput < r.outputTokens) return // aborted, as MetricsCollector
        this.finished++
        const a = ttftNs(r) <= ttft
        const b = (r.numOutput > 1 ? (r.lastTokenNs - r.firstTokenNs) / (r.numOutput - 1) : 0) <= tpot
        const c = e2eNs(r) <= e2el
        if (a) this.okTtft++
        if (b) this.okTpot++
        if (c) this.okE2el++
        if (a && b && c) this.good++
      }
    }
  }

  /** The summary keys for a run of `durationS` seconds. */
  summary(durationS: number): GoodputSummary {
    const share = (k: number) => (this.finished === 0 ? 0 : k / this.finished)
    return {
      request_goodput: durationS > 0 ? this.good / durationS : 0,
      goodput: {
        slo_ms: this.slo,
        good_requests: this.good,
        attainment: {
          ...(this.slo.ttft === undefined ? {} : { ttft: share(this.okTtft) }),
          ...(this.slo.tpot === undefined ? {} : { tpot: share(this.okTpot) }),
          ...(this.slo.e2el === undefined ? {} : { e2el: share(this.okE2el) }),
          all: share(this.good)
        }
      }
    }
  }
}

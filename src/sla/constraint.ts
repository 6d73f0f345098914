/**
 * SLA constraints: `METRIC<=VALUE` (also `<`, `>=`, `>`) over the summary.json metric names
 * (vLLM bench's: p99_ttft_ms, mean_tpot_ms, p99_e2el_ms, request_throughput, ...). A probe meets a
 * constraint when its metric is a number that satisfies the comparison; a missing or NaN metric
 * (no request completed) never does.
 */
import { parseDecimal } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"

/** The summary.json metrics a constraint may name (units in the name: _ms, tokens or requests per s). */
export const CONSTRAINT_METRICS: ReadonlyArray<string> = [
  ...["ttft", "tpot", "itl", "e2el"].flatMap((m) => ["mean", "median", "std", "p90", "p95", "p99"].map((s) => `${s}_${m}_ms`)),
  "request_throughput", "output_throughput", "total_token_throughput", "duration", "completed", "rejected",
  "num_preemptions", "prefix_cache_hit_rate"
]

export type Operator = "<=" | "<" | ">=" | ">"

/** One constraint: `metric op value`. */
export interface Constraint {
  readonly metric: string
  readonly op: Operator
  readonly value: number
}

const PATTERN = /^\s*([A-Za-z0-9_]+)\s*(<=|>=|<|>|=<|=>|==|=|!=)?\s*(.*?)\s*$/

/** Parse `metric<=value`; an unknown metric, a bad operator or value is an InvalidOption naming `option`. */
export const parseConstraint = (text: string, option = "--constraint"): Constraint | InvalidOption => {
  const m = PATTERN.exec(text)
  const bad = (reason: string) => new InvalidOption({ option, reason: `${reason} (got '${text}'; expected METRIC<=VALUE, e.g. p99_ttft_ms<=500)` })
  if (m === null) return bad("not a constraint")
  const [, metric, op, rest] = m as unknown as [string, string, string | undefined, string]
  if (!CONSTRAINT_METRICS.includes(metric)) return bad(`unknown metric '${metric}'; use one of ${CONSTRAINT_METRICS.join(", ")}`)
  if (op === undefined || !["<=", "<", ">=", ">"].includes(op)) {
    return bad(`${op === undefined ? "no operator" : `bad operator '${op}'`}: use <=, <, >= or >`)
  }
  const value = parseDecimal(rest)
  if (value === undefined) return bad(`'${rest}' is not a finite number`)
  return { metric, op: op as Operator, value }
}

/** Whether `actual` satisfies `c` (false for NaN or a non-number). */
export const satisfies = (c: Constraint, actual: unknown): boolean => {
  if (typeof actual !== "number" || Number.isNaN(actual)) return false
  switch (c.op) {
    case "<=": return actual <= c.value
    case "<": return actual < c.value
    case ">=": return actual >= c.value
    case ">": return actual > c.value
  }
}

/** The constraints a probe's metrics break (empty: it meets them all). */
export const violated = (cs: ReadonlyArray<Constraint>, metrics: Readonly<Record<string, unknown>>): Array<Constraint> =>
  cs.filter((c) => !satisfies(c, metrics[c.metric]))

/** `p99_ttft_ms<=500` */
export const showConstraint = (c: Constraint): string => `${c.metric}${c.op}${c.value}`

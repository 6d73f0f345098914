/**
 * The router's configuration as flags give it: `--router POLICY`, `--router-weights
 * queue=W,kv=W,prefix=W` (the `weighted` policy) and `--router-staleness-ms MS` (how old the load
 * signals the router reads may be). Parsing and checking return an InvalidOption naming the flag.
 */
import { Effect } from "effect"
import { InvalidOption } from "../domain/errors.js"

export const ROUTER_POLICIES = [
  "round-robin", "random", "least-outstanding", "least-loaded", "least-kv", "prefix-aware", "weighted"
] as const
export type RouterPolicy = typeof ROUTER_POLICIES[number]

/** Weights of the `weighted` policy's three scorers (llm-d's queue, KV-utilization and prefix-cache scorers). */
export interface RouterWeights {
  readonly queue: number
  readonly kv: number
  readonly prefix: number
}

/**
 * llm-d's out-of-the-box scheduling profile: queue-scorer 2, kv-cache-utilization-scorer 2,
 * prefix-cache-scorer 3 (llm-d-inference-scheduler's default-plugins.yaml EndpointPickerConfig;
 * Red Hat's llm-d docs describe the same default, queue depth 2 and prefix cache 3).
 */
export const DEFAULT_ROUTER_WEIGHTS: RouterWeights = { queue: 2, kv: 2, prefix: 3 }

export interface RouterSpec {
  readonly policy: RouterPolicy
  /** The `weighted` policy's weights (DEFAULT_ROUTER_WEIGHTS when not given). */
  readonly weights: RouterWeights
  /** Refresh interval of the load signals, ms of simulated time; 0 = the router reads exact state. */
  readonly stalenessMs: number
}

/** A bare policy name as a spec with the defaults. */
export const toRouterSpec = (choice: RouterPolicy | RouterSpec): RouterSpec =>
  typeof choice === "string" ? { policy: choice, weights: DEFAULT_ROUTER_WEIGHTS, stalenessMs: 0 } : choice

/**
 * Parse `queue=W,kv=W,prefix=W` (any subset, any order; a scorer left out gets weight 0, as a
 * scorer left out of an llm-d scheduling profile). Each W a finite number >= 0, at least one > 0.
 */
export const parseRouterWeights = (text: string): RouterWeights | InvalidOption => {
  const bad = (reason: string) => new InvalidOption({ option: "--router-weights", reason })
  const w: Record<string, number> = {}
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p !== "")
  if (parts.length === 0) return bad(`expected queue=W,kv=W,prefix=W (got '${text}')`)
  for (const p of parts) {
    const eq = p.indexOf("=")
    const key = (eq < 0 ? p : p.slice(0, eq)).trim()
    if (key !== "queue" && key !== "kv" && key !== "prefix") return bad(`unknown scorer '${key}'; expected queue, kv or prefix`)
    if (key in w) return bad(`'${key}' is given twice`)
    const raw = eq < 0 ? "" : p.slice(eq + 1).trim()
    const v = raw === "" ? NaN : Number(raw)
    if (!(Number.isFinite(v) && v >= 0)) return bad(`${key}: expected a number >= 0 (got '${raw}')`)
    w[key] = v
  }
  const weights = { queue: w.queue ?? 0, kv: w.kv ?? 0, prefix: w.prefix ?? 0 }
  if (weights.queue + weights.kv + weights.prefix <= 0) return bad("at least one weight must be > 0")
  return weights
}

/**
 * Check a spec: a known policy, weights only with `weighted`, staleness a finite number >= 0 and
 * only with policies that read load signals (not round-robin or random: a flag accepted and
 * ignored would be a bug).
 */
export const checkRouterSpec = (s: { readonly policy: string; readonly weights?: RouterWeights | undefined; readonly stalenessMs?: number | undefined }, weightsGiven = false): RouterSpec | InvalidOption => {
  if (!(ROUTER_POLICIES as ReadonlyArray<string>).includes(s.policy)) {
    return new InvalidOption({ option: "--router", reason: `unknown policy '${s.policy}'; expected one of ${ROUTER_POLICIES.join(", ")}` })
  }
  const policy = s.policy as RouterPolicy
  if (weightsGiven && policy !== "weighted") {
    return new InvalidOption({ option: "--router-weights", reason: `applies only to --router weighted (got --router ${policy})` })
  }
  const w = s.weights ?? DEFAULT_ROUTER_WEIGHTS
  for (const k of ["queue", "kv", "prefix"] as const) {
    if (!(Number.isFinite(w[k]) && w[k] >= 0)) return new InvalidOption({ option: "--router-weights", reason: `${k}: expected a number >= 0 (got ${w[k]})` })
  }
  if (w.queue + w.kv + w.prefix <= 0) return new InvalidOption({ option: "--router-weights", reason: "at least one weight must be > 0" })
  const stalenessMs = s.stalenessMs ?? 0
  if (!(Number.isFinite(stalenessMs) && stalenessMs >= 0)) {
    return new InvalidOption({ option: "--router-staleness-ms", reason: `expected a number >= 0 (got ${stalenessMs})` })
  }
  if (stalenessMs > 0 && (policy === "round-robin" || policy === "random")) {
    return new InvalidOption({ option: "--router-staleness-ms", reason: `--router ${policy} reads no load signal; use a load-aware policy or drop the flag` })
  }
  return { policy, weights: w, stalenessMs }
}

/** The spec from the three flags as given (undefined = not given). */
export const routerSpec = (flags: { readonly policy: string; readonly weights?: string | undefined; readonly stalenessMs?: number | undefined }): RouterSpec | InvalidOption => {
  let weights: RouterWeights | undefined
  if (flags.weights !== undefined) {
    const w = parseRouterWeights(flags.weights)
    if (w instanceof InvalidOption) return w
    weights = w
  }
  return checkRouterSpec({ policy: flags.policy, weights, stalenessMs: flags.stalenessMs }, flags.weights !== undefined)
}

/** The router flags as given (undefined = not given). */
export interface RouterFlags {
  readonly policy?: string | undefined
  readonly weights?: string | undefined
  readonly stalenessMs?: number | undefined
}

/** True when any router flag was given. */
export const routerFlagsGiven = (f: RouterFlags): boolean => f.policy !== undefined || f.weights !== undefined || f.stalenessMs !== undefined

/** The checked spec of the router flags (policy default round-robin); fails with InvalidOption naming the flag. */
export const routerOf = (f: RouterFlags): Effect.Effect<RouterSpec, InvalidOption> => {
  const s = routerSpec({ policy: f.policy ?? "round-robin", weights: f.weights, stalenessMs: f.stalenessMs })
  return s instanceof InvalidOption ? Effect.fail(s) : Effect.succeed(s)
}

/**
 * The router flags as a spec without the policy checks (sweep checks each grid point's policy);
 * bad weights or staleness values still fail with InvalidOption naming the flag.
 */
export const uncheckedRouter = (f: RouterFlags): Effect.Effect<RouterSpec, InvalidOption> => {
  const w = f.weights === undefined ? DEFAULT_ROUTER_WEIGHTS : parseRouterWeights(f.weights)
  if (w instanceof InvalidOption) return Effect.fail(w)
  const stalenessMs = f.stalenessMs ?? 0
  if (!(Number.isFinite(stalenessMs) && stalenessMs >= 0)) {
    return Effect.fail(new InvalidOption({ option: "--router-staleness-ms", reason: `expected a number >= 0 (got ${stalenessMs})` }))
  }
  return Effect.succeed({ policy: (f.policy ?? "round-robin") as RouterPolicy, weights: w, stalenessMs })
}

/**
 * The router's configuration as flags give it: `--router POLICY`, `--router-weights
 * queue=W,kv=W,prefix=W` (the `weighted` policy), `--router-cache-aware
 * cache_threshold=F,balance_abs_threshold=N,balance_rel_threshold=F` (the `cache-aware` policy) and
 * `--router-staleness-ms MS` (how old the load signals the router reads may be). Parsing and
 * checking return an InvalidOption naming the flag.
 */
import { Effect } from "effect"
import { parseDecimal, parseInteger } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"

export const ROUTER_POLICIES = [
  "round-robin", "random", "least-outstanding", "least-loaded", "least-kv", "prefix-aware", "cache-aware", "weighted"
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

/** The `cache-aware` policy's thresholds (SGLang router's flags of the same names). */
export interface CacheAwareThresholds {
  /** Route by prefix when the longest cached prefix is more than this fraction of the prompt (0..1). */
  readonly cacheThreshold: number
  /** Imbalanced needs (max - min) outstanding requests above this. */
  readonly balanceAbs: number
  /** Imbalanced needs max outstanding above this times min (>= 1). */
  readonly balanceRel: number
}

/**
 * SGLang model gateway's defaults: `--cache-threshold 0.3 --balance-abs-threshold 64
 * --balance-rel-threshold 1.5` (its CLI defaults and the `PolicyConfig::CacheAware` its launcher
 * builds; older sglang-router releases used 0.5 / 32 / 1.0001).
 */
export const DEFAULT_CACHE_AWARE: CacheAwareThresholds = { cacheThreshold: 0.3, balanceAbs: 64, balanceRel: 1.5 }

export interface RouterSpec {
  readonly policy: RouterPolicy
  /** The `weighted` policy's weights (DEFAULT_ROUTER_WEIGHTS when not given). */
  readonly weights: RouterWeights
  /** The `cache-aware` policy's thresholds (DEFAULT_CACHE_AWARE when not given). */
  readonly cacheAware: CacheAwareThresholds
  /** Refresh interval of the load signals, ms of simulated time; 0 = the router reads exact state. */
  readonly stalenessMs: number
}

/** A bare policy name as a spec with the defaults. */
export const toRouterSpec = (choice: RouterPolicy | RouterSpec): RouterSpec =>
  typeof choice === "string" ? { policy: choice, weights: DEFAULT_ROUTER_WEIGHTS, cacheAware: DEFAULT_CACHE_AWARE, stalenessMs: 0 } : choice

/**
 * Parse `queue=W,kv=W,prefix=W` (any subset, any order; a scorer left out gets weight 0, as a
 * scorer left out of an llm-d scheduling profile). Each W a finite number >= 0, at least one > 0.
 */
export const parseRouterWeights = (text: string): RouterWeights | InvalidOption => {
  const bad = (reason: string) => new InvalidOption({ option: "--router-weights", reason })
  const w: Record<string, number> = {}
  const parts = text.split(",").map((p) => p.trim())
  if (parts.every((p) => p === "")) return bad(`expected queue=W,kv=W,prefix=W (got '${text}')`)
  if (parts.includes("")) return bad(`an empty entry in '${text}' (two commas, or one at an end)`)
  for (const p of parts) {
    const eq = p.indexOf("=")
    const key = (eq < 0 ? p : p.slice(0, eq)).trim()
    if (key !== "queue" && key !== "kv" && key !== "prefix") return bad(`unknown scorer '${key}'; expected queue, kv or prefix`)
    if (key in w) return bad(`'${key}' is given twice`)
    const raw = eq < 0 ? "" : p.slice(eq + 1).trim()
    const v = parseDecimal(raw)
    if (!(v !== undefined && v >= 0)) return bad(`${key}: expected a number >= 0 (got '${raw}')`)
    w[key] = v
  }
  const weights = { queue: w.queue ?? 0, kv: w.kv ?? 0, prefix: w.prefix ?? 0 }
  if (weights.queue + weights.kv + weights.prefix <= 0) return bad("at least one weight must be > 0")
  return weights
}

const CACHE_AWARE_KEYS = { cache_threshold: "cacheThreshold", balance_abs_threshold: "balanceAbs", balance_rel_threshold: "balanceRel" } as const

/** The reason `t` is not a valid set of thresholds, or undefined. */
export const cacheAwareProblem = (t: CacheAwareThresholds): string | undefined => {
  if (!(Number.isFinite(t.cacheThreshold) && t.cacheThreshold >= 0 && t.cacheThreshold <= 1)) return `cache_threshold: expected a number from 0 to 1 (got ${t.cacheThreshold})`
  if (!(Number.isFinite(t.balanceAbs) && t.balanceAbs >= 0)) return `balance_abs_threshold: expected a number >= 0 (got ${t.balanceAbs})`
  if (!(Number.isFinite(t.balanceRel) && t.balanceRel >= 1)) return `balance_rel_threshold: expected a number >= 1 (got ${t.balanceRel})`
  return undefined
}

/**
 * Parse `cache_threshold=F,balance_abs_threshold=N,balance_rel_threshold=F` (any subset, any
 * order; a threshold left out keeps SGLang's default, DEFAULT_CACHE_AWARE).
 */
export const parseCacheAware = (text: string): CacheAwareThresholds | InvalidOption => {
  const bad = (reason: string) => new InvalidOption({ option: "--router-cache-aware", reason })
  const parts = text.split(",").map((p) => p.trim())
  if (parts.every((p) => p === "")) return bad(`expected cache_threshold=F,balance_abs_threshold=N,balance_rel_threshold=F (got '${text}')`)
  if (parts.includes("")) return bad(`an empty entry in '${text}' (two commas, or one at an end)`)
  const t: Record<string, number> = { ...DEFAULT_CACHE_AWARE }
  const seen = new Set<string>()
  for (const p of parts) {
    const eq = p.indexOf("=")
    const key = (eq < 0 ? p : p.slice(0, eq)).trim()
    if (!(key in CACHE_AWARE_KEYS)) return bad(`unknown threshold '${key}'; expected ${Object.keys(CACHE_AWARE_KEYS).join(", ")}`)
    if (seen.has(key)) return bad(`'${key}' is given twice`)
    seen.add(key)
    const raw = eq < 0 ? "" : p.slice(eq + 1).trim()
    const integer = key === "balance_abs_threshold"
    const v = integer ? parseInteger(raw) : parseDecimal(raw)
    if (v === undefined) return bad(`${key}: expected ${integer ? "an integer (a count of requests, as SGLang's)" : "a number"} (got '${raw}')`)
    t[CACHE_AWARE_KEYS[key as keyof typeof CACHE_AWARE_KEYS]] = v
  }
  const out = t as unknown as CacheAwareThresholds
  const why = cacheAwareProblem(out)
  return why === undefined ? out : bad(why)
}

/**
 * Check a spec: a known policy, weights only with `weighted`, staleness a finite number >= 0 and
 * only with policies that read load signals (not round-robin or random: a flag accepted and
 * ignored would be a bug).
 */
export const checkRouterSpec = (
  s: { readonly policy: string; readonly weights?: RouterWeights | undefined; readonly cacheAware?: CacheAwareThresholds | undefined; readonly stalenessMs?: number | undefined },
  weightsGiven = false,
  cacheAwareGiven = false
): RouterSpec | InvalidOption => {
  if (!(ROUTER_POLICIES as ReadonlyArray<string>).includes(s.policy)) {
    return new InvalidOption({ option: "--router", reason: `unknown policy '${s.policy}'; expected one of ${ROUTER_POLICIES.join(", ")}` })
  }
  const policy = s.policy as RouterPolicy
  if (weightsGiven && policy !== "weighted") {
    return new InvalidOption({ option: "--router-weights", reason: `applies only to --router weighted (got --router ${policy})` })
  }
  if (cacheAwareGiven && policy !== "cache-aware") {
    return new InvalidOption({ option: "--router-cache-aware", reason: `applies only to --router cache-aware (got --router ${policy})` })
  }
  const cacheAware = s.cacheAware ?? DEFAULT_CACHE_AWARE
  const why = cacheAwareProblem(cacheAware)
  if (why !== undefined) return new InvalidOption({ option: "--router-cache-aware", reason: why })
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
  return { policy, weights: w, cacheAware, stalenessMs }
}

/** The spec from the router flags as given (undefined = not given). */
export const routerSpec = (flags: { readonly policy: string; readonly weights?: string | undefined; readonly cacheAware?: string | undefined; readonly stalenessMs?: number | undefined }): RouterSpec | InvalidOption => {
  let weights: RouterWeights | undefined
  if (flags.weights !== undefined) {
    const w = parseRouterWeights(flags.weights)
    if (w instanceof InvalidOption) return w
    weights = w
  }
  let cacheAware: CacheAwareThresholds | undefined
  if (flags.cacheAware !== undefined) {
    const t = parseCacheAware(flags.cacheAware)
    if (t instanceof InvalidOption) return t
    cacheAware = t
  }
  return checkRouterSpec({ policy: flags.policy, weights, cacheAware, stalenessMs: flags.stalenessMs }, flags.weights !== undefined, flags.cacheAware !== undefined)
}

/** The router flags as given (undefined = not given). */
export interface RouterFlags {
  readonly policy?: string | undefined
  readonly weights?: string | undefined
  readonly cacheAware?: string | undefined
  readonly stalenessMs?: number | undefined
}

/** True when any router flag was given. */
export const routerFlagsGiven = (f: RouterFlags): boolean =>
  f.policy !== undefined || f.weights !== undefined || f.cacheAware !== undefined || f.stalenessMs !== undefined

/** The checked spec of the router flags (policy default round-robin); fails with InvalidOption naming the flag. */
export const routerOf = (f: RouterFlags): Effect.Effect<RouterSpec, InvalidOption> => {
  const s = routerSpec({ policy: f.policy ?? "round-robin", weights: f.weights, cacheAware: f.cacheAware, stalenessMs: f.stalenessMs })
  return s instanceof InvalidOption ? Effect.fail(s) : Effect.succeed(s)
}

/**
 * The router flags as a spec without the policy checks (sweep checks each grid point's policy);
 * bad weights, thresholds or staleness values still fail with InvalidOption naming the flag.
 */
export const uncheckedRouter = (f: RouterFlags): Effect.Effect<RouterSpec, InvalidOption> => {
  const w = f.weights === undefined ? DEFAULT_ROUTER_WEIGHTS : parseRouterWeights(f.weights)
  if (w instanceof InvalidOption) return Effect.fail(w)
  const cacheAware = f.cacheAware === undefined ? DEFAULT_CACHE_AWARE : parseCacheAware(f.cacheAware)
  if (cacheAware instanceof InvalidOption) return Effect.fail(cacheAware)
  const stalenessMs = f.stalenessMs ?? 0
  if (!(Number.isFinite(stalenessMs) && stalenessMs >= 0)) {
    return Effect.fail(new InvalidOption({ option: "--router-staleness-ms", reason: `expected a number >= 0 (got ${stalenessMs})` }))
  }
  return Effect.succeed({ policy: (f.policy ?? "round-robin") as RouterPolicy, weights: w, cacheAware, stalenessMs })
}

/**
 * The router as summary.json's `config.router` records it: the cluster file's names
 * (`staleness_ms`, `weights`, `cache_threshold`, ...) and only what the policy reads (the weights
 * with `weighted`, the thresholds with `cache-aware`, the staleness with a policy that reads load
 * signals), so the record can be pasted into a cluster file's `router:` and runs the same.
 */
export const routerJson = (choice: RouterPolicy | RouterSpec): Record<string, unknown> => {
  const s = toRouterSpec(choice)
  return {
    policy: s.policy,
    ...(s.policy === "weighted" ? { weights: { ...s.weights } } : {}),
    ...(s.policy === "cache-aware"
      ? { cache_threshold: s.cacheAware.cacheThreshold, balance_abs_threshold: s.cacheAware.balanceAbs, balance_rel_threshold: s.cacheAware.balanceRel }
      : {}),
    ...(s.policy === "round-robin" || s.policy === "random" ? {} : { staleness_ms: s.stalenessMs })
  }
}

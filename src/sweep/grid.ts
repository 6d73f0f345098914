/**
 * Sweep grids: `--grid flag=v1,v2,...` axes over the `simulate` flags, expanded to the cartesian
 * product of configurations (first axis varies slowest). Flag names are simulate's kebab-case
 * names without the dashes; values are parsed as the flag's type.
 */
import { checkRouterSpec, type RouterPolicy, type RouterSpec, toRouterSpec } from "../cluster/RouterSpec.js"
import { parseDecimal, parseInteger } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"
import type { EngineFlags } from "../config/resolve.js"
import { ENGINE_FLAG_TABLE, type FlagKind as Kind, WORKLOAD_FLAG_TABLE } from "../config/engineFlagTable.js"
import type { WorkloadFlags } from "../workload/Workload.js"

/** One configuration: flag overrides as plain data (cloned into worker threads). */
export interface SweepJob {
  readonly index: number
  readonly engine: EngineFlags
  readonly workload: WorkloadFlags
  readonly router: RouterPolicy | RouterSpec
  /** The axis values of this configuration, for the result row. */
  readonly point: Readonly<Record<string, string>>
  /** summary.json metrics to return in the row's `metrics` (sla constraints); default none. */
  readonly metrics?: ReadonlyArray<string>
}

const ENGINE = ENGINE_FLAG_TABLE
const WORKLOAD = WORKLOAD_FLAG_TABLE

/**
 * Router axes besides `router` (the policy): the `cache-aware` thresholds under SGLang's flag names
 * (`--cache-threshold`, `--balance-abs-threshold`, `--balance-rel-threshold`) and the load signals'
 * staleness, each a field of the point's RouterSpec.
 */
const ROUTER_AXES = {
  "cache-threshold": { kind: "float", field: "cacheThreshold" },
  "balance-abs-threshold": { kind: "int", field: "balanceAbs" },
  "balance-rel-threshold": { kind: "float", field: "balanceRel" },
  "router-staleness-ms": { kind: "float", field: "stalenessMs" }
} as const

export const SWEEPABLE = [...Object.keys(ENGINE), ...Object.keys(WORKLOAD), "router", ...Object.keys(ROUTER_AXES)]

export interface Axis {
  readonly flag: string
  readonly values: ReadonlyArray<string>
}

/** Parse `flag=v1,v2`; fails with InvalidOption naming --grid. */
export const parseAxis = (text: string): Axis | InvalidOption => {
  const eq = text.indexOf("=")
  const flag = (eq < 0 ? text : text.slice(0, eq)).trim().replace(/^--/, "")
  const values = eq < 0 ? [] : text.slice(eq + 1).split(",").map((v) => v.trim())
  if (!SWEEPABLE.includes(flag)) return new InvalidOption({ option: "--grid", reason: `'${flag}' is not a sweepable flag; use one of ${SWEEPABLE.join(", ")}` })
  if (values.length === 0 || values.every((v) => v === "")) return new InvalidOption({ option: "--grid", reason: `expected ${flag}=v1,v2,... (got '${text}')` })
  if (values.includes("")) return new InvalidOption({ option: "--grid", reason: `${flag}: an empty value in '${text}' (two commas, or one at an end)` })
  // a value given twice (also as another spelling of one number: .5 and 5e-1) would run a configuration twice
  const kind = kindOfAxis(flag)
  const seen = new Map<string, string>()
  for (const v of values) {
    // request-rate is a text flag (for inf) holding a number; names (hardware, model) compare without case
    const n = flag === "request-rate" ? parseRate(v) : kind === "int" || kind === "float" ? parseDecimal(v) : undefined
    const key = n === undefined ? v.toLowerCase() : String(n)
    const before = seen.get(key)
    if (before !== undefined) return new InvalidOption({ option: "--grid", reason: `${flag}: ${before === v ? `'${v}'` : `'${before}' and '${v}' (the same value)`} given twice` })
    seen.set(key, v)
  }
  return { flag, values }
}

/** A request rate's text: a decimal number, or inf / infinity (any case). */
const parseRate = (v: string): number | undefined => (/^(inf|infinity)$/i.test(v.trim()) ? Infinity : parseDecimal(v))

const kindOfAxis = (flag: string): Kind | undefined =>
  flag in ROUTER_AXES ? ROUTER_AXES[flag as keyof typeof ROUTER_AXES].kind : (ENGINE[flag] ?? WORKLOAD[flag])?.[1]

const parseValue = (flag: string, kind: Kind, v: string): string | number | boolean | InvalidOption => {
  if (flag === "request-rate") {
    // a number > 0 or inf, as --request-rate (a text flag because of inf)
    const rate = parseRate(v)
    return rate !== undefined && rate > 0 ? v : new InvalidOption({ option: "--grid", reason: `${flag}: expected a number > 0 or inf (got '${v}')` })
  }
  switch (kind) {
    case "string": return v
    case "bool":
      if (v === "true" || v === "on") return true
      if (v === "false" || v === "off") return false
      return new InvalidOption({ option: "--grid", reason: `${flag}: expected true or false (got '${v}')` })
    default: {
      const n = kind === "int" ? parseInteger(v) : parseDecimal(v)
      if (n === undefined) {
        return new InvalidOption({ option: "--grid", reason: `${flag}: expected ${kind === "int" ? "an integer" : "a number"} (got '${v}')` })
      }
      return n
    }
  }
}

/** The cartesian product of the axes over the base flags. */
export const expandGrid = (
  axes: ReadonlyArray<Axis>,
  base: { readonly engine: EngineFlags; readonly workload: WorkloadFlags; readonly router: SweepJob["router"] }
): Array<SweepJob> | InvalidOption => {
  let points: Array<Record<string, string>> = [{}]
  for (const a of axes) points = points.flatMap((p) => a.values.map((v) => ({ ...p, [a.flag]: v })))
  const jobs: Array<SweepJob> = []
  for (const [index, point] of points.entries()) {
    const engine: Record<string, unknown> = { ...base.engine }
    const workload: Record<string, unknown> = { ...base.workload }
    let router = base.router
    const baseSpec = toRouterSpec(base.router)
    let policy: string = baseSpec.policy
    const cacheAware: Record<string, number> = { ...baseSpec.cacheAware }
    let stalenessMs = baseSpec.stalenessMs
    const routerAxes: Array<string> = []
    for (const [flag, v] of Object.entries(point)) {
      if (flag === "router") {
        policy = v
        routerAxes.push(`router=${v}`)
        continue
      }
      if (flag in ROUTER_AXES) {
        const axis = ROUTER_AXES[flag as keyof typeof ROUTER_AXES]
        const value = parseValue(flag, axis.kind, v)
        if (value instanceof InvalidOption) return value
        if (axis.field === "stalenessMs") stalenessMs = value as number
        else cacheAware[axis.field] = value as number
        routerAxes.push(`${flag}=${v}`)
        continue
      }
      const spec = ENGINE[flag] ?? WORKLOAD[flag]!
      const value = parseValue(flag, spec[1], v)
      if (value instanceof InvalidOption) return value
      if (flag in ENGINE) engine[spec[0]] = value
      else workload[spec[0]] = value
    }
    if (routerAxes.length > 0) {
      const where = routerAxes.join(" ")
      const thresholdAxis = Object.keys(point).find((f) => f in ROUTER_AXES && f !== "router-staleness-ms")
      if (thresholdAxis !== undefined && policy !== "cache-aware") {
        return new InvalidOption({ option: "--grid", reason: `${thresholdAxis}: applies only to --router cache-aware (a point of this grid runs ${policy}: ${where})` })
      }
      const s = checkRouterSpec({ ...baseSpec, policy, cacheAware: cacheAware as unknown as RouterSpec["cacheAware"], stalenessMs })
      if (s instanceof InvalidOption) return new InvalidOption({ option: "--grid", reason: `${where}: ${s.message}` })
      router = s
    }
    jobs.push({ index, engine: engine as unknown as EngineFlags, workload: workload as WorkloadFlags, router, point })
  }
  return jobs
}

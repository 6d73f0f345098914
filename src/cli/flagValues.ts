/**
 * A check of the command line's flag values before @effect/cli parses them, so a mistake names its
 * flag: @effect/cli's own messages say `'2.5' is not a integer` or `Expected one of the following
 * cases` without the flag, and `Received unknown argument` for a value flag given twice. Covers the
 * engine flags (config/engineFlagTable.ts), the workload flags, the choice flags and every other
 * numeric flag (a test checks that each `Options.integer` / `Options.float` of src/cli has its kind
 * here), numbers read as decimals (domain/decimal.ts); text flags are left to @effect/cli.
 */
import { ENGINE_FLAG_TABLE, WORKLOAD_FLAG_TABLE } from "../config/engineFlagTable.js"
import { parseDecimal, parseInteger } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"
import { TRACE_FORMATS } from "../workload/traces/formats.js"
import { ON_OFF_FLAGS } from "./options.js"

type Kind = "int" | "float" | "string" | "bool" | ReadonlyArray<string>

/** Value flags outside the two tables, and the choice flags with their values. */
const OTHER: Record<string, Kind> = {
  "router-staleness-ms": "float", "router-weights": "string", "router-cache-aware": "string", router: "string", "cluster-config": "string", "output-dir": "string",
  "speculative-config": "string", port: "int", "time-scale": "float", "max-waiting": "int", workers: "int", host: "string", "base-url": "string", sensitivity: "float",
  "trace-events-max-requests": "int", "log-stats-interval-s": "float", "sla-start": "float", "sla-max": "float", "sla-tolerance": "float", "gpu-hour-price": "float",
  "equivalence-margin": "float", holdout: "float", "holdout-seed": "int", "max-evals": "int", "timeseries-interval-s": "float",
  "trace-format": TRACE_FORMATS,
  "length-dist": ["fixed", "uniform", "lognormal"], "kv-cache-dtype": ["auto", "fp8"], dtype: ["auto", "bfloat16", "float16", "fp8"],
  search: ["request-rate", "max-concurrency"], "queue-full-status": ["503", "429"]
}

/** The value kind checked for `--name` (undefined: not a value flag this check knows). */
export const kindOf = (name: string): Kind | undefined => OTHER[name] ?? WORKLOAD_FLAG_TABLE[name]?.[1] ?? ENGINE_FLAG_TABLE[name]?.[1]

/** The first bad value or repeated value flag in `args` (the arguments after the program), or undefined. */
export const checkFlagValues = (args: ReadonlyArray<string>): InvalidOption | undefined => {
  const seen = new Set<string>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (!a.startsWith("--")) continue
    const eq = a.indexOf("=")
    const name = a.slice(2, eq < 0 ? undefined : eq)
    const kind = kindOf(name)
    if (kind === undefined || kind === "bool") continue
    const value = eq >= 0 ? a.slice(eq + 1) : args[i + 1]
    if (eq < 0) i++
    const flag = `--${name}`
    if (seen.has(name)) return new InvalidOption({ option: flag, reason: "given twice; give it once" })
    seen.add(name)
    if (value === undefined || (eq < 0 && value.startsWith("--"))) return new InvalidOption({ option: flag, reason: "expected a value after it" })
    if (value.trim() === "") return new InvalidOption({ option: flag, reason: "expected a value (got an empty string)" })
    if (kind === "int" && parseInteger(value) === undefined) {
      return new InvalidOption({ option: flag, reason: `expected an integer (got ${JSON.stringify(value)})` })
    }
    if (kind === "float" && parseDecimal(value) === undefined) {
      return new InvalidOption({ option: flag, reason: `expected a number (got ${JSON.stringify(value)})` })
    }
    if (typeof kind === "object" && !kind.includes(value)) {
      return new InvalidOption({ option: flag, reason: `expected one of ${kind.join(", ")} (got ${JSON.stringify(value)})` })
    }
  }
  return undefined
}

const ON = /^(true|yes|on|y|1)$/i
const OFF = /^(false|no|off|n|0)$/i

/**
 * An on/off flag given both ways (`--enable-prefix-caching ... --no-enable-prefix-caching`, or
 * `--NAME true` and `--NAME=false`) in `args` (the raw arguments after the program): a conflict,
 * refused rather than letting the last one win silently. Undefined when there is none.
 */
export const checkOnOffConflicts = (args: ReadonlyArray<string>): InvalidOption | undefined => {
  const seen = new Map<string, boolean>()
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") break
    const name = ON_OFF_FLAGS.find((n) => a === `--${n}` || a === `--no-${n}` || a.startsWith(`--${n}=`))
    if (name === undefined) continue
    let on = !a.startsWith("--no-")
    const eq = a.indexOf("=")
    const value = eq >= 0 ? a.slice(eq + 1) : on && (ON.test(args[i + 1] ?? "") || OFF.test(args[i + 1] ?? "")) ? args[++i]! : undefined
    if (value !== undefined) on = ON.test(value) ? true : OFF.test(value) ? false : on
    const before = seen.get(name)
    if (before !== undefined && before !== on) {
      return new InvalidOption({ option: `--${name}`, reason: `given both on and off (--${name} and --no-${name}); give one` })
    }
    seen.set(name, on)
  }
  return undefined
}

/**
 * Which flags each command takes, read from the commands' own @effect/cli options (their Usage
 * data), and a check of the command line against it before @effect/cli parses. @effect/cli says
 * only `Received unknown argument: '--cluster-config'` both for a flag of another command and for a
 * typo; here a flag that some other command takes is refused naming the flag, the command and what
 * to use instead, and an unknown flag close to one of the command's own gets a "did you mean".
 */
import { Command, CommandDescriptor, type Usage } from "@effect/cli"
import { HashMap } from "effect"
import { InvalidOption } from "../domain/errors.js"
import { rootCommand } from "./main.js"

/** A command's long flags (without the dashes), each with whether it takes a value. */
export type CommandFlags = ReadonlyMap<string, { readonly takesValue: boolean }>

/** @effect/cli's built-in flags, which every command accepts. */
const BUILT_INS = new Set(["help", "version", "completions", "log-level", "wizard"])

const collect = (u: Usage.Usage, out: Map<string, { takesValue: boolean }>): Map<string, { takesValue: boolean }> => {
  switch (u._tag) {
    case "Named":
      for (const n of u.names) if (n.startsWith("--")) out.set(n.slice(2), { takesValue: u.acceptedValues._tag === "Some" })
      break
    case "Optional":
    case "Repeated":
      collect(u.usage, out)
      break
    case "Alternation":
    case "Concat":
      collect(u.left, out)
      collect(u.right, out)
      break
  }
  return out
}

let table: ReadonlyMap<string, CommandFlags> | undefined

/** Every subcommand of `llmservingsim` with the long flags it takes (built once, from the command tree). */
export const commandFlagTable = (): ReadonlyMap<string, CommandFlags> => {
  table ??= new Map(
    [...HashMap.toEntries(Command.getSubcommands(rootCommand))]
      .map(([name, d]) => [name, collect(CommandDescriptor.getUsage(d), new Map())] as const)
      .sort(([a], [b]) => a.localeCompare(b))
  )
  return table
}

/**
 * Why `command` does not take `flag` and what to use instead, where one line can say it
 * (undefined: the generic reason, naming the commands that take it).
 */
const reasonFor = (flag: string, command: string): string | undefined => {
  const serving = command === "serve" || command === "server"
  const c = `\`${command}\``
  switch (flag) {
    case "cluster-config":
      return `${c} takes no cluster file${serving || ["sweep", "test-api", "validate"].includes(command) ? " (it runs one colocated pool)" : ""}; use \`simulate --cluster-config FILE\` to simulate a cluster`
    case "output-dir":
      if (serving) return `${c} writes no result files (its metrics are at GET /metrics); use \`simulate --output-dir DIR\` for requests.csv, timeseries.csv and summary.json`
      if (command === "sweep") return `${c} does not take it; it writes one CSV row per configuration to --output FILE`
      if (command === "calibrate") return `${c} does not take it; it writes the calibration to --output FILE (-o)`
      return undefined
    case "output":
      return command === "simulate" ? `${c} does not take it; it writes its results to a folder: --output-dir DIR` : undefined
    case "exact-steps":
      return `${c} does not take it (fast-forwarded decode steps give the same results); only \`simulate\` runs every step one by one`
    case "grid":
    case "workers":
    case "compare-serial":
      return `${c} does not take it; use \`sweep --grid flag=v1,v2 ...\` for a grid of configurations`
    case "trace":
    case "num-requests":
    case "request-rate":
      return serving ? `${c} answers HTTP requests and takes no workload; send one with \`test-api --${flag} ...\` or simulate it with \`simulate --${flag} ...\`` : undefined
    case "port":
    case "host":
      return command === "test-api" ? `${c} does not take it; give the server's address as --base-url http://HOST:PORT` : undefined
    case "base-url":
      return serving ? `${c} does not take it; it listens on --host and --port (--base-url is \`test-api\`'s)` : undefined
    default:
      return undefined
  }
}

/** Edit distance with adjacent transpositions counting one (optimal string alignment), for flag names. */
const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[a.length]![b.length]!
}

/** The one flag of `flags` that `name` is most likely a misspelling or a shortening of, if any. */
export const closestFlag = (name: string, flags: Iterable<string>): string | undefined => {
  const all = [...flags]
  const prefixed = all.filter((f) => name.length >= 4 && f.startsWith(name))
  if (prefixed.length === 1) return prefixed[0]
  let best: string | undefined
  let bestD = Infinity
  for (const f of all) {
    const d = distance(name, f)
    if (d < bestD) {
      best = f
      bestD = d
    }
  }
  return bestD <= Math.min(2, Math.floor(name.length / 3)) ? best : undefined
}

/**
 * Check the long flags of `args` (the arguments after the program: the command, then its flags)
 * against what the command takes. A flag that another command takes is an InvalidOption naming the
 * flag, the command and what to use instead; a flag no command takes is one only when a flag of
 * this command is close to it ("did you mean"), else it is left to @effect/cli. Undefined when
 * every flag is this command's (or the command is not known: @effect/cli reports that).
 */
export const checkCommandFlags = (args: ReadonlyArray<string>): InvalidOption | undefined => {
  const command = args[0]
  if (command === undefined) return undefined
  const flags = commandFlagTable().get(command)
  if (flags === undefined) return undefined
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    if (a === "--") break
    if (!a.startsWith("--")) continue
    const eq = a.indexOf("=")
    const name = a.slice(2, eq < 0 ? undefined : eq)
    const own = flags.get(name)
    if (own !== undefined) {
      if (own.takesValue && eq < 0) i++ // its value, whatever it looks like
      continue
    }
    if (BUILT_INS.has(name)) continue
    const others = [...commandFlagTable()].filter(([c, f]) => c !== command && c !== "server" && f.has(name)).map(([c]) => `\`${c}\``)
    if (others.length > 0) {
      return new InvalidOption({
        option: `--${name}`,
        reason: reasonFor(name, command) ?? `\`${command}\` does not take it (it is a flag of ${others.join(", ")}); see \`llmservingsim ${command} --help\``
      })
    }
    const near = closestFlag(name, flags.keys())
    if (near !== undefined) return new InvalidOption({ option: `--${name}`, reason: `unknown argument to \`${command}\`; did you mean --${near}?` })
  }
  return undefined
}

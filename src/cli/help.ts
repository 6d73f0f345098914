/**
 * Compact `--help` pages, drawn from the commands' own @effect/cli definitions (Command.getHelp's
 * HelpDoc, so a flag's name, value type, description and whether it is required come from the one
 * place it is declared): one line per flag (`--[no-]NAME` for on/off pairs), grouped, wrapped to the
 * terminal; @effect/cli's per-flag boilerplate ("A user-defined piece of text.", "This setting is
 * optional.") is dropped. Defaults are part of each flag's description.
 */
import { CliConfig, Command, type HelpDoc } from "@effect/cli"
import type { Span } from "@effect/cli/HelpDoc/Span"

/** One flag or positional argument of a command as its help shows it. */
export interface FlagHelp {
  /** `--block-size`, `-q, --quiet`, `--[no-]enable-prefix-caching`, `<DIR>` */
  readonly names: string
  /** The value placeholder: `N`, `X`, `TEXT`, `a|b|c`, `TEXT...`; empty for a switch. */
  readonly value: string
  readonly description: string
  readonly required: boolean
}

const spanText = (s: Span): string => {
  switch (s._tag) {
    case "Sequence": return spanText(s.left) + spanText(s.right)
    case "Text": case "URI": return s.value
    default: return typeof s.value === "string" ? s.value : spanText(s.value)
  }
}

const paragraphs = (d: HelpDoc.HelpDoc, out: Array<string> = []): Array<string> => {
  if (d._tag === "Paragraph") out.push(spanText(d.value))
  else if (d._tag === "Sequence") { paragraphs(d.left, out); paragraphs(d.right, out) }
  return out
}

const definitions = (d: HelpDoc.HelpDoc, out: Array<readonly [Span, HelpDoc.HelpDoc]> = []) => {
  if (d._tag === "DescriptionList") out.push(...d.definitions)
  else if (d._tag === "Sequence") { definitions(d.left, out); definitions(d.right, out) }
  return out
}

const BOILERPLATE = /^(A user-defined piece of text\.|An integer\.|A floating point number\.|A true or false value\.|One of the following: .*|This setting is optional\.|This option may be repeated .*)$/
const OPTIONAL = "This setting is optional."
/** @effect/cli's built-in flags, listed once in a footer instead of with each command's own. */
const BUILT_IN = new Set(["--completions", "--log-level", "-h, --help", "--wizard", "--version"])
const VALUE: Record<string, string> = { integer: "N", float: "X", text: "TEXT", "text...": "TEXT..." }
/** Placeholders of flags whose value is optional (cli/sensitivity.ts gives a bare flag its default). */
const OPTIONAL_VALUE: Record<string, string> = { "--sensitivity": "[PCT]" }

/** The flags and arguments of `command` in declaration order, on/off pairs folded into one. */
export const flagsOf = (command: Command.Command<any, any, any, any>): Array<FlagHelp> => {
  const flags: Array<FlagHelp> = []
  for (const [span, doc] of definitions(Command.getHelp(command, CliConfig.defaultConfig))) {
    const usage = spanText(span).replace(/^\((.*)\)$/, "$1").trim()
    const texts = paragraphs(doc)
    const description = texts.filter((t) => !BOILERPLATE.test(t)).join(" ")
    const m = /^((?:-\w, )?--?[\w-]+|<[^>]+>)(?: (.+))?$/.exec(usage)
    const names = m?.[1] ?? usage
    if (BUILT_IN.has(names)) continue
    const value = m?.[2] === undefined ? "" : OPTIONAL_VALUE[names] ?? VALUE[m[2]] ?? m[2].replace(/ \| /g, "|")
    if (description.startsWith("Turn off --")) {
      const on = flags.findIndex((f) => f.names === description.slice("Turn off ".length))
      if (on >= 0) {
        flags[on] = { ...flags[on]!, names: `--[no-]${flags[on]!.names.slice(2)}` }
        continue
      }
    }
    flags.push({ names, value, description, required: !texts.includes(OPTIONAL) && !names.startsWith("<") && value !== "" })
  }
  return flags
}

/**
 * A section of flags several commands share, in the order they are shown. A group with a `topic`
 * is folded on the command's page (one line naming its flags) and shown whole by
 * `CMD --help TOPIC` or `CMD --help all`, so pages stay short as features grow.
 */
interface Group {
  readonly title: string
  readonly flags: ReadonlyArray<string>
  readonly topic?: string
}

const GROUPS: ReadonlyArray<Group> = [
  { title: "Model and hardware", flags: ["model", "hardware", "dtype", "kv-cache-dtype", "seed"] },
  {
    title: "Engine (vLLM's names and defaults)",
    flags: [
      "block-size", "gpu-memory-utilization", "num-gpu-blocks-override", "max-num-batched-tokens", "max-num-seqs", "max-model-len",
      "enable-chunked-prefill", "long-prefill-token-threshold", "scheduler-reserve-full-isl", "enable-prefix-caching", "num-scheduler-steps"
    ]
  },
  {
    title: "Scheduling policy (fcfs, priority; Orca, static, Sarathi-Serve, SJF)",
    flags: ["scheduling-policy", "priority-levels"],
    topic: "scheduling"
  },
  {
    title: "Parallelism and cluster",
    flags: [
      "tensor-parallel-size", "pipeline-parallel-size", "data-parallel-size", "num-instances", "enable-expert-parallel", "expert-load-imbalance",
      "router", "router-weights", "router-cache-aware", "router-staleness-ms", "cluster-config"
    ]
  },
  {
    title: "Front end (the modelled API server; serve refuses it)",
    flags: ["frontend-ingress-us", "frontend-tokenize-us-per-token", "frontend-egress-us"],
    topic: "frontend"
  },
  {
    title: "Speculative decoding (vLLM --speculative-config JSON)",
    flags: ["speculative-config"],
    topic: "specdecode"
  },
  {
    title: "LoRA adapters (vLLM --enable-lora)",
    flags: ["enable-lora", "max-loras", "max-lora-rank", "max-cpu-loras", "lora-modules", "lora-storage-gbps"],
    topic: "lora"
  },
  {
    title: "Perf and network model",
    flags: ["perf-model", "network", "compute-efficiency", "attention-efficiency", "memory-efficiency", "kernel-overhead-us", "step-overhead-us"],
    topic: "perf"
  },
  {
    title: "Workload",
    flags: [
      "trace", "trace-format", "num-requests", "rate-scale", "request-rate", "burstiness", "input-len", "output-len", "length-dist", "range-ratio", "length-sigma",
      "random-input-len", "random-output-len", "random-range-ratio", "random-prefix-len"
    ]
  },
  { title: "Closed-loop client (vLLM bench --max-concurrency)", flags: ["max-concurrency", "client-think-time-ms"], topic: "client" },
  { title: "KV in host memory (vLLM's CPU offloading; V0 swap preemption)", flags: ["kv-offloading-size", "kv-offloading-backend", "preemption-mode", "swap-space"], topic: "offload" },
  {
    title: "Sessions (multi-turn chat and agent workloads)",
    flags: ["num-sessions", "session-turns", "session-think-time-ms", "session-system-prompt-len", "session-system-prompts", "shared-prefix"],
    topic: "sessions"
  },
  {
    title: "Analysis: HTML report (`llmservingsim report` for several runs), timeline, goodput, sensitivity",
    flags: ["report", "trace-events", "trace-events-max-requests", "goodput", "sensitivity"],
    topic: "analysis"
  },
  { title: "Power, energy and PIM attention offload", flags: ["energy", "pim-config"], topic: "energy" }
]

/** The topics `CMD --help TOPIC` takes: the folded groups' names, and `all`. */
export const HELP_TOPICS: ReadonlyArray<string> = ["all", ...GROUPS.flatMap((g) => (g.topic === undefined ? [] : [g.topic]))]

/** A few runnable examples per command (the README has more). */
const EXAMPLES: Record<string, ReadonlyArray<string>> = {
  simulate: [
    "simulate                                        # the default workload: 1,000 requests on one H100",
    "simulate --trace trace.csv --hardware A100 --output-dir out",
    "simulate --max-concurrency 32 --request-rate inf --num-requests 500 --tensor-parallel-size 2"
  ],
  sweep: [
    "sweep --num-requests 3000 --grid request-rate=2,4,8 --grid max-num-seqs=32,256 --output sweep.csv",
    "sweep --cluster-database postgres://sim@db-host/sweeps --grid request-rate=2,4,8   # on sweep-runner processes"
  ],
  report: [
    "report out                                      # out/report.html from a simulate --output-dir",
    "report run-a run-b sweep.csv --output cmp.html --plots png"
  ],
  sla: [
    "sla --constraint p99_ttft_ms<=500 --constraint p99_tpot_ms<=50 --grid hardware=A100,H100,H200 --grid tensor-parallel-size=1,2 --gpu-hour-price 2.5",
    "sla --search max-concurrency --constraint p99_e2el_ms<=20000 --num-requests 500 --probes-output probes.csv"
  ],
  "sweep-runner": ["sweep-runner --database-url postgres://sim@db-host/sweeps --host $(hostname) --port 34431"],
  serve: ["serve --model meta-llama/Llama-3.1-8B-Instruct --hardware H100 --port 8000"],
  "test-api": ["test-api --base-url http://127.0.0.1:8000 --request-rate 10 --num-requests 100"],
  validate: ["validate --run RUN_DIR --workload trace.jsonl --perf-model profile:PROFILE_DIR"]
}

const bareName = (f: FlagHelp) => f.names.replace(/^(-\w, )?--(\[no-\])?/, "")

const wrap = (text: string, width: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else line = line === "" ? word : `${line} ${word}`
  }
  if (line !== "" || lines.length === 0) lines.push(line)
  return lines
}

const COLUMN = 34

const flagLines = (flags: ReadonlyArray<FlagHelp>, width: number, column = COLUMN): Array<string> =>
  flags.flatMap((f) => {
    const left = `  ${f.names}${f.value === "" ? "" : ` ${f.value}`}`
    const description = f.required ? `${f.description} (required)` : f.description
    const body = wrap(description, Math.max(30, width - column))
    const pad = " ".repeat(column)
    return left.length < column - 1
      ? [left.padEnd(column) + body[0], ...body.slice(1).map((l) => pad + l)]
      : [left, ...body.map((l) => pad + l)]
  })

const descriptionOf = (command: Command.Command<any, any, any, any>): string => {
  const doc = Command.getHelp(command, CliConfig.defaultConfig)
  return paragraphs(doc)[0] ?? ""
}

const nameOf = (command: Command.Command<any, any, any, any>): string => [...Command.getNames(command)][0] ?? ""

/** The terminal's width (at most 140), or 120 columns when stdout is not a terminal. */
export const helpWidth = (): number => Math.min(140, process.stdout.isTTY === true ? process.stdout.columns ?? 120 : 120)

/**
 * `llmservingsim CMD --help [TOPIC]`: usage, description, the flags in groups. Folded groups are one
 * line each unless `topic` is theirs or `all`; with a group's topic only that group is listed.
 */
export const renderCommandHelp = (program: string, command: Command.Command<any, any, any, any>, width: number, topic?: string): string => {
  const flags = flagsOf(command)
  const name = nameOf(command)
  const args = flags.filter((f) => f.names.startsWith("<"))
  const out = [`Usage: ${program} ${name} [flags]${args.map((a) => ` ${a.names}`).join("")}`, "", ...wrap(descriptionOf(command), width), ""]
  const only = topic !== undefined && topic !== "all" ? topic : undefined
  if (args.length > 0 && only === undefined) out.push("Arguments:", ...flagLines(args, width), "")
  const rest = flags.filter((f) => !f.names.startsWith("<"))
  const used = new Set<FlagHelp>()
  for (const g of GROUPS) {
    const inGroup = g.flags.map((n) => rest.find((f) => bareName(f) === n)).filter((f): f is FlagHelp => f !== undefined)
    if (inGroup.length === 0) continue
    inGroup.forEach((f) => used.add(f))
    if (only !== undefined && g.topic !== only) continue
    if (g.topic !== undefined && topic === undefined) {
      const names = inGroup.map((f) => f.names).join(", ")
      out.push(...wrap(`${g.title} (\`${program} ${name} --help ${g.topic}\`): ${names}`, width), "")
    } else out.push(`${g.title}:`, ...flagLines(inGroup, width), "")
  }
  if (only !== undefined) return out.join("\n")
  const own = rest.filter((f) => !used.has(f))
  if (own.length > 0) out.push(used.size > 0 ? "Output and run:" : "Flags:", ...flagLines(own, width), "")
  const examples = EXAMPLES[name]
  if (examples !== undefined) out.push("Examples:", ...examples.map((e) => `  ${program} ${e}`), "")
  out.push(`Also: -h, --help [all|TOPIC]; --version; --log-level LEVEL; --completions sh|bash|fish|zsh. Flags follow vLLM's names.`)
  return out.join("\n")
}

/** The folded topics that `command` has flags in (what `CMD --help TOPIC` accepts for it). */
export const topicsOf = (command: Command.Command<any, any, any, any>): Array<string> => {
  const names = new Set(flagsOf(command).map(bareName))
  return ["all", ...GROUPS.flatMap((g) => (g.topic !== undefined && g.flags.some((f) => names.has(f)) ? [g.topic] : []))]
}

/** The word after `--help`/`-h` when it names a topic rather than a flag or command (else undefined). */
export const helpTopic = (args: ReadonlyArray<string>, commandNames: ReadonlyArray<string>): string | undefined => {
  const end = args.indexOf("--")
  const head = end < 0 ? args : args.slice(0, end)
  const i = head.findIndex((a) => a === "--help" || a === "-h")
  const next = i < 0 ? undefined : head[i + 1]
  return next === undefined || next.startsWith("-") || commandNames.includes(next) ? undefined : next
}

/** `llmservingsim --help`: the commands, one line each, and where to go next. */
export const renderRootHelp = (
  program: string,
  description: string,
  commands: ReadonlyArray<Command.Command<any, any, any, any>>,
  width: number
): string => {
  const rows = commands.map((c) => ({ names: nameOf(c), value: "", description: descriptionOf(c), required: false }))
  return [
    `Usage: ${program} <command> [flags]`,
    "",
    ...wrap(description, width),
    "",
    "Commands:",
    ...flagLines(rows, width, 16),
    "",
    `Run \`${program} <command> --help\` for a command's flags with their defaults, e.g. \`${program} simulate --help\`.`,
    `Quick start: \`${program} simulate\` runs the built-in default workload (1,000 requests, Llama-3.1-8B on one H100).`,
    "Also: --version; --completions sh|bash|fish|zsh (a shell completion script)."
  ].join("\n")
}

/**
 * Whether `args` (after the program) ask for help: no arguments, `-h`/`--help` anywhere before a
 * `--`, or `help [COMMAND]`. Returns the command name asked about (undefined = the top level), or
 * `false` when it is not a help request.
 */
export const helpRequest = (args: ReadonlyArray<string>, commandNames: ReadonlyArray<string>): string | undefined | false => {
  if (args.length === 0) return undefined
  if (args[0] === "help") return args[1] !== undefined && commandNames.includes(args[1]) ? args[1] : undefined
  const end = args.indexOf("--")
  const head = end < 0 ? args : args.slice(0, end)
  if (!head.includes("--help") && !head.includes("-h")) return false
  return head.find((a) => commandNames.includes(a))
}

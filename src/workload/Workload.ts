/**
 * A workload from flags: a trace file (streamed) or the built-in generator, and the client that
 * sends it (open loop, or vLLM bench's --max-concurrency closed loop). Checks every flag's range and
 * combination (InvalidOption naming it) and opens the trace (FileError / InputError).
 */
import { MAX_ARRIVAL_DAYS, MAX_ARRIVAL_NS } from "../domain/clockRange.js"
import { Effect, type Stream } from "effect"
import { parseDecimal } from "../domain/decimal.js"
import { InvalidOption } from "../domain/errors.js"
import type { ClientSpec } from "../engine/ClosedLoopClient.js"
import type { Arrival } from "../engine/Engine.js"
import { type GeneratorSpec, generatorStream, type LengthDist } from "./generator.js"
import { type SessionSpec, sessionStream, type SharedPrefix, sharedPrefixSpec } from "./sessions.js"
import type { TraceFormat } from "./traces/formats.js"
import { hasAgenticSessions, openTrace, type TraceError } from "./traces/TraceReader.js"

export interface WorkloadFlags {
  readonly trace?: string | undefined
  readonly traceFormat?: TraceFormat | undefined
  readonly numRequests?: number | undefined
  readonly rateScale?: number | undefined
  /** A number or "inf". */
  readonly requestRate?: string | undefined
  readonly burstiness?: number | undefined
  readonly inputLen?: number | undefined
  readonly outputLen?: number | undefined
  readonly lengthDist?: LengthDist | undefined
  readonly rangeRatio?: number | undefined
  readonly lengthSigma?: number | undefined
  /** vLLM bench's random dataset names: --random-input-len (= --input-len), --random-output-len (= --output-len). */
  readonly randomInputLen?: number | undefined
  readonly randomOutputLen?: number | undefined
  /** --random-range-ratio R: --length-dist uniform --range-ratio R (R = 0: fixed lengths). */
  readonly randomRangeRatio?: number | undefined
  /** --random-prefix-len P: P tokens shared by every prompt, before its drawn length. */
  readonly randomPrefixLen?: number | undefined
  /** --max-concurrency N: at most N requests in flight (vLLM bench's client semaphore). */
  readonly maxConcurrency?: number | undefined
  /** --client-think-time-ms MEAN: exponential pause after each response before its slot is reused, ms. */
  readonly clientThinkTimeMs?: number | undefined
  /** --num-sessions N: a multi-turn session workload of N sessions (workload/sessions.ts). */
  readonly numSessions?: number | undefined
  /** --session-turns N or MIN-MAX: turns per session (default 5). */
  readonly sessionTurns?: string | undefined
  /** --session-think-time-ms MEAN: exponential think / tool time between an answer and the next turn, ms (default 0). */
  readonly sessionThinkTimeMs?: number | undefined
  /** --session-system-prompt-len N: tokens of the system prompt shared across sessions (default 0). */
  readonly sessionSystemPromptLen?: number | undefined
  /** --session-system-prompts N: distinct system prompts, one per session drawn uniformly (default 1). */
  readonly sessionSystemPrompts?: number | undefined
  /** --shared-prefix K=V,...: inference-perf's shared_prefix data (one-turn sessions in groups). */
  readonly sharedPrefix?: string | undefined
}

export interface Workload {
  /** One line describing it (console report). */
  readonly description: string
  /** The same as data (summary.json). */
  readonly spec: Record<string, unknown>
  readonly arrivals: Stream.Stream<Arrival, TraceError>
  /** The closed-loop client (--max-concurrency), or undefined: every request is sent at its arrival. */
  readonly client?: ClientSpec | undefined
  /**
   * A session workload: `arrivals` are the first turns, the session client sends the rest; generated
   * (its spec) or read from a trace whose first turns carry their sessions ("trace").
   */
  readonly sessions?: SessionSpec | "trace" | undefined
}

export const DEFAULT_GENERATOR = { numRequests: 1000, requestRate: 10, burstiness: 1, inputLen: 1024, outputLen: 256, lengthDist: "fixed", rangeRatio: 0.5, lengthSigma: 0.5 } as const

const bad = (option: string, reason: string) => Effect.fail(new InvalidOption({ option, reason }))

/**
 * The closed-loop client of --max-concurrency and --client-think-time-ms (undefined without
 * --max-concurrency), or InvalidOption naming the flag: N must be a positive integer (vLLM bench:
 * "--max-concurrency must be greater than 0"), the think time a finite number of ms >= 0 and only
 * with --max-concurrency (it delays the reuse of a slot).
 */
export const resolveClient = (f: WorkloadFlags, seed: number): Effect.Effect<ClientSpec | undefined, InvalidOption> =>
  Effect.gen(function*() {
    const n = f.maxConcurrency
    const think = f.clientThinkTimeMs
    if (n === undefined) {
      if (think !== undefined) return yield* bad("--client-think-time-ms", "applies to a closed-loop client; give --max-concurrency N too")
      return undefined
    }
    if (!(Number.isSafeInteger(n) && n > 0)) return yield* bad("--max-concurrency", `expected a positive integer (got ${n})`)
    if (think !== undefined && !(Number.isFinite(think) && think >= 0)) return yield* bad("--client-think-time-ms", `expected a number of ms >= 0 (got ${think})`)
    return { maxConcurrency: n, thinkTimeMeanNs: Math.round((think ?? 0) * 1e6), seed }
  })

/** The first flag of `pairs` that is given (its value is not undefined), or undefined. */
const firstGiven = (pairs: ReadonlyArray<readonly [string, unknown]>): string | undefined => pairs.find(([, v]) => v !== undefined)?.[0]

/**
 * The workload of the flags (see WorkloadFlags), seeded by `seed`. Fails with InvalidOption naming
 * the flag for a bad value or a combination that is refused (a generator flag with --trace; a vLLM
 * `random` dataset flag with the simulator's own flag for the same thing), or with the trace's
 * FileError / InputError.
 */
export const resolveWorkload = (
  f: WorkloadFlags,
  seed: number,
  /** The served LoRA adapters' names (null: LoRA off), so a trace's `lora` field is checked where it is read (file and line); absent: not checked here. */
  loraAdapters?: ReadonlyArray<string> | null
): Effect.Effect<Workload, InvalidOption | TraceError> =>
  Effect.gen(function*() {
    if (f.numRequests !== undefined && !(Number.isInteger(f.numRequests) && f.numRequests > 0)) {
      return yield* bad("--num-requests", `expected a positive integer (got ${f.numRequests})`)
    }
    const sessionFlag = firstGiven([
      ["--num-sessions", f.numSessions], ["--shared-prefix", f.sharedPrefix], ["--session-turns", f.sessionTurns], ["--session-think-time-ms", f.sessionThinkTimeMs],
      ["--session-system-prompt-len", f.sessionSystemPromptLen], ["--session-system-prompts", f.sessionSystemPrompts]
    ])
    if (sessionFlag !== undefined) return yield* resolveSessions(f, seed, sessionFlag)
    const client = yield* resolveClient(f, seed)
    const clientSpec = client === undefined ? {} : { client: { max_concurrency: client.maxConcurrency, client_think_time_ms: client.thinkTimeMeanNs / 1e6 } }
    const clientText = client === undefined ? "" : `; closed loop: at most ${client.maxConcurrency} in flight${client.thinkTimeMeanNs > 0 ? `, think time ${client.thinkTimeMeanNs / 1e6} ms (exponential mean)` : ""}`
    if (f.trace !== undefined) {
      const generatorOnly = ([
        ["--request-rate", f.requestRate], ["--burstiness", f.burstiness], ["--input-len", f.inputLen], ["--output-len", f.outputLen],
        ["--length-dist", f.lengthDist], ["--range-ratio", f.rangeRatio], ["--length-sigma", f.lengthSigma],
        ["--random-input-len", f.randomInputLen], ["--random-output-len", f.randomOutputLen], ["--random-range-ratio", f.randomRangeRatio],
        ["--random-prefix-len", f.randomPrefixLen]
      ] as const).filter(([, v]) => v !== undefined).map(([k]) => k)
      if (generatorOnly.length > 0) return yield* bad(generatorOnly[0]!, "applies to generated workloads, not to --trace (use --rate-scale to change a trace's rate)")
      const rateScale = f.rateScale ?? 1
      if (!(Number.isFinite(rateScale) && rateScale > 0)) return yield* bad("--rate-scale", `expected a number > 0 (got ${rateScale})`)
      const t = yield* openTrace(f.trace, { format: f.traceFormat, numRequests: f.numRequests, rateScale, loraAdapters })
      const agentic = t.format === "llmservingsim-jsonl" && (yield* hasAgenticSessions(f.trace))
      if (agentic && client !== undefined) return yield* bad("--max-concurrency", `${f.trace} holds agentic sessions (sub_requests), each sent turn by turn as its answers come back; a closed-loop client on top is not modelled`)
      return {
        ...(agentic ? { sessions: "trace" as const } : {}),
        description: `${f.trace} (${t.format}${agentic ? ", agentic sessions: sub-requests sent when the previous one finished plus its tool time" : ""}${f.numRequests === undefined ? "" : `, first ${f.numRequests}`}${rateScale === 1 ? "" : `, rate x${rateScale}`})${clientText}`,
        spec: { trace: f.trace, format: t.format, num_requests: f.numRequests ?? null, rate_scale: rateScale, ...clientSpec },
        arrivals: t.arrivals,
        client
      }
    }
    if (f.traceFormat !== undefined) return yield* bad("--trace-format", "needs --trace")
    if (f.rateScale !== undefined) return yield* bad("--rate-scale", "applies to --trace; use --request-rate for generated workloads")
    // vLLM bench's `random` dataset flags map onto the generator's; with the generator's own flag
    // for the same thing they are refused rather than one silently winning
    const clash = (flag: string, what: string, others: ReadonlyArray<readonly [string, unknown]>) => {
      const other = firstGiven(others)
      return other === undefined ? undefined : bad(flag, `${what}, as ${other} does; give one of ${flag} and ${other}`)
    }
    if (f.randomInputLen !== undefined) {
      const e = clash("--random-input-len", "sets the prompt length (vLLM bench's name for --input-len)", [["--input-len", f.inputLen]])
      if (e !== undefined) return yield* e
    }
    if (f.randomOutputLen !== undefined) {
      const e = clash("--random-output-len", "sets the output length (vLLM bench's name for --output-len)", [["--output-len", f.outputLen]])
      if (e !== undefined) return yield* e
    }
    if (f.randomRangeRatio !== undefined) {
      const e = clash("--random-range-ratio", "sets the length distribution (uniform, vLLM bench's random dataset)", [["--length-dist", f.lengthDist], ["--range-ratio", f.rangeRatio], ["--length-sigma", f.lengthSigma]])
      if (e !== undefined) return yield* e
      if (!(f.randomRangeRatio >= 0 && f.randomRangeRatio < 1)) return yield* bad("--random-range-ratio", `expected a number in [0, 1) (got ${f.randomRangeRatio})`)
    }
    const prefixLen = f.randomPrefixLen ?? 0
    if (!(Number.isSafeInteger(prefixLen) && prefixLen >= 0)) return yield* bad("--random-prefix-len", `expected an integer >= 0 (got ${prefixLen})`)
    const inputFlag = f.randomInputLen !== undefined ? "--random-input-len" : "--input-len"
    const outputFlag = f.randomOutputLen !== undefined ? "--random-output-len" : "--output-len"
    const randomDist: LengthDist | undefined = f.randomRangeRatio === undefined ? undefined : f.randomRangeRatio > 0 ? "uniform" : "fixed"
    const rateText = (f.requestRate ?? String(DEFAULT_GENERATOR.requestRate)).trim().toLowerCase()
    const requestRate = rateText === "inf" || rateText === "infinity" ? Infinity : parseDecimal(rateText) ?? NaN
    if (!(requestRate > 0) || Number.isNaN(requestRate)) return yield* bad("--request-rate", `expected a number > 0 or inf (got ${f.requestRate})`)
    const spec: GeneratorSpec = {
      numRequests: f.numRequests ?? DEFAULT_GENERATOR.numRequests,
      requestRate,
      burstiness: f.burstiness ?? DEFAULT_GENERATOR.burstiness,
      inputLen: f.inputLen ?? f.randomInputLen ?? DEFAULT_GENERATOR.inputLen,
      outputLen: f.outputLen ?? f.randomOutputLen ?? DEFAULT_GENERATOR.outputLen,
      lengthDist: f.lengthDist ?? randomDist ?? DEFAULT_GENERATOR.lengthDist,
      rangeRatio: f.rangeRatio ?? f.randomRangeRatio ?? DEFAULT_GENERATOR.rangeRatio,
      lengthSigma: f.lengthSigma ?? DEFAULT_GENERATOR.lengthSigma,
      ...(prefixLen > 0 ? { prefixLen } : {}),
      seed
    }
    if (!(Number.isFinite(spec.burstiness) && spec.burstiness > 0)) return yield* bad("--burstiness", `expected a number > 0 (got ${spec.burstiness})`)
    // the arrivals must stay within the simulated clock's range (domain/clockRange.ts); 2x the mean span for the gaps' spread
    if (Number.isFinite(requestRate) && 2 * spec.numRequests / requestRate * 1e9 > MAX_ARRIVAL_NS) {
      return yield* bad("--request-rate", `${spec.numRequests} requests at ${requestRate} req/s would span beyond the simulated clock's range (${MAX_ARRIVAL_DAYS.toFixed(0)} days of arrivals); expected at least ${(2 * spec.numRequests * 1e9 / MAX_ARRIVAL_NS).toPrecision(3)} req/s`)
    }
    if (!(Number.isInteger(spec.inputLen) && spec.inputLen > 0)) return yield* bad(inputFlag, `expected a positive integer (got ${spec.inputLen})`)
    if (!(Number.isInteger(spec.outputLen) && spec.outputLen > 0)) return yield* bad(outputFlag, `expected a positive integer (got ${spec.outputLen})`)
    if (f.rangeRatio !== undefined && spec.lengthDist !== "uniform") return yield* bad("--range-ratio", `applies to --length-dist uniform (got --length-dist ${spec.lengthDist})`)
    if (f.lengthSigma !== undefined && spec.lengthDist !== "lognormal") return yield* bad("--length-sigma", `applies to --length-dist lognormal (got --length-dist ${spec.lengthDist})`)
    if (!(spec.rangeRatio >= 0 && spec.rangeRatio < 1)) return yield* bad("--range-ratio", `expected a number in [0, 1) (got ${spec.rangeRatio})`)
    if (!(Number.isFinite(spec.lengthSigma) && spec.lengthSigma >= 0)) return yield* bad("--length-sigma", `expected a number >= 0 (got ${spec.lengthSigma})`)
    const rate = Number.isFinite(requestRate) ? `${requestRate} req/s` : "all at t=0"
    const arrivalsKind = spec.burstiness === 1 ? "Poisson" : `gamma(burstiness ${spec.burstiness})`
    return {
      description: `generated: ${spec.numRequests} requests, ${rate} ${Number.isFinite(requestRate) ? arrivalsKind : ""}, ` +
        `input ${prefixLen > 0 ? `${prefixLen} shared + ` : ""}${spec.inputLen} / output ${spec.outputLen} tokens (${spec.lengthDist}), seed ${seed}${clientText}`,
      spec: { generator: { ...spec, requestRate: Number.isFinite(requestRate) ? requestRate : "inf" }, ...clientSpec },
      arrivals: generatorStream(spec),
      client: client === undefined ? undefined : { ...client, allAtOnce: !Number.isFinite(requestRate) }
    }
  })

/** The shared_prefix keys inference-perf's config takes, in its order. */
const SHARED_PREFIX_KEYS = ["num_groups", "num_prompts_per_group", "system_prompt_len", "question_len", "output_len"] as const

/** Parse `--shared-prefix num_groups=G,num_prompts_per_group=P,system_prompt_len=S,question_len=Q,output_len=O` (every key, integers). */
export const parseSharedPrefix = (text: string): Effect.Effect<SharedPrefix, InvalidOption> =>
  Effect.gen(function*() {
    const got: Record<string, number> = {}
    const parts = text.split(",").map((x) => x.trim())
    if (parts.length > 1 && parts.includes("")) return yield* bad("--shared-prefix", `an empty entry in '${text}' (two commas, or one at an end)`)
    for (const part of parts.filter((x) => x !== "")) {
      const m = /^([a-z_]+)=(\d+)$/.exec(part)
      if (m === null) return yield* bad("--shared-prefix", `expected KEY=INTEGER pairs separated by commas (got '${part}')`)
      const key = m[1]!
      if (!(SHARED_PREFIX_KEYS as ReadonlyArray<string>).includes(key)) return yield* bad("--shared-prefix", `unknown key '${key}'; expected ${SHARED_PREFIX_KEYS.join(", ")} (inference-perf's shared_prefix names)`)
      if (got[key] !== undefined) return yield* bad("--shared-prefix", `'${key}' is given twice`)
      got[key] = Number(m[2])
    }
    const missing = SHARED_PREFIX_KEYS.filter((k) => got[k] === undefined)
    if (missing.length > 0) return yield* bad("--shared-prefix", `missing ${missing.join(", ")} (give all of ${SHARED_PREFIX_KEYS.join(", ")})`)
    for (const k of SHARED_PREFIX_KEYS) {
      const min = k === "system_prompt_len" ? 0 : 1
      if (!(Number.isSafeInteger(got[k]) && got[k]! >= min)) return yield* bad("--shared-prefix", `${k} must be an integer >= ${min} (got ${got[k]})`)
    }
    return got as unknown as SharedPrefix
  })

/**
 * A multi-turn session workload (--num-sessions with the --session-* flags, or --shared-prefix):
 * sessions start at --request-rate per second (--burstiness), each turn's new message is
 * --input-len tokens and its answer --output-len (--length-dist and its spread apply). Fails with
 * InvalidOption naming the flag for a bad value or a flag that does not apply (a trace, a request
 * count, a closed-loop client or vLLM bench's random-dataset flags; --shared-prefix fixes its own
 * lengths and groups).
 */
const resolveSessions = (f: WorkloadFlags, seed: number, first: string): Effect.Effect<Workload, InvalidOption> =>
  Effect.gen(function*() {
    const notWith = firstGiven([
      ["--trace", f.trace], ["--trace-format", f.traceFormat], ["--rate-scale", f.rateScale], ["--num-requests", f.numRequests],
      ["--max-concurrency", f.maxConcurrency], ["--client-think-time-ms", f.clientThinkTimeMs],
      ["--random-input-len", f.randomInputLen], ["--random-output-len", f.randomOutputLen], ["--random-range-ratio", f.randomRangeRatio], ["--random-prefix-len", f.randomPrefixLen]
    ])
    if (notWith !== undefined) {
      return yield* bad(notWith, `does not apply to a session workload (${first}): sessions are generated, each sent closed-loop turn by turn; ` +
        "the request count follows from --num-sessions and --session-turns, the shared prefix from --session-system-prompt-len")
    }
    const rateText = (f.requestRate ?? String(DEFAULT_GENERATOR.requestRate)).trim().toLowerCase()
    const sessionRate = rateText === "inf" || rateText === "infinity" ? Infinity : parseDecimal(rateText) ?? NaN
    if (!(sessionRate > 0) || Number.isNaN(sessionRate)) return yield* bad("--request-rate", `expected sessions per second, a number > 0 or inf (got ${f.requestRate})`)
    const burstiness = f.burstiness ?? DEFAULT_GENERATOR.burstiness
    if (!(Number.isFinite(burstiness) && burstiness > 0)) return yield* bad("--burstiness", `expected a number > 0 (got ${burstiness})`)
    let spec: SessionSpec
    if (f.sharedPrefix !== undefined) {
      const other = firstGiven([
        ["--num-sessions", f.numSessions], ["--session-turns", f.sessionTurns], ["--session-think-time-ms", f.sessionThinkTimeMs],
        ["--session-system-prompt-len", f.sessionSystemPromptLen], ["--session-system-prompts", f.sessionSystemPrompts],
        ["--input-len", f.inputLen], ["--output-len", f.outputLen], ["--length-dist", f.lengthDist], ["--range-ratio", f.rangeRatio], ["--length-sigma", f.lengthSigma]
      ])
      if (other !== undefined) return yield* bad(other, "does not apply with --shared-prefix, which sets the groups, prompt and output lengths itself (one turn per prompt)")
      spec = sharedPrefixSpec(yield* parseSharedPrefix(f.sharedPrefix), sessionRate, burstiness, seed)
    } else {
      const n = f.numSessions
      if (n === undefined) return yield* bad(first, "applies to a session workload: give --num-sessions N too")
      if (!(Number.isSafeInteger(n) && n > 0)) return yield* bad("--num-sessions", `expected a positive integer (got ${n})`)
      const turnsText = (f.sessionTurns ?? "5").trim()
      const m = /^(\d+)(?:-(\d+))?$/.exec(turnsText)
      const turnsMin = m === null ? NaN : Number(m[1])
      const turnsMax = m === null ? NaN : Number(m[2] ?? m[1])
      if (!(turnsMin >= 1 && turnsMax >= turnsMin && Number.isSafeInteger(turnsMax))) {
        return yield* bad("--session-turns", `expected N or MIN-MAX, integers with 1 <= MIN <= MAX (got '${turnsText}')`)
      }
      const think = f.sessionThinkTimeMs ?? 0
      if (!(Number.isFinite(think) && think >= 0)) return yield* bad("--session-think-time-ms", `expected a number of ms >= 0 (got ${think})`)
      const sys = f.sessionSystemPromptLen ?? 0
      if (!(Number.isSafeInteger(sys) && sys >= 0)) return yield* bad("--session-system-prompt-len", `expected an integer >= 0 (got ${sys})`)
      const prompts = f.sessionSystemPrompts ?? 1
      if (!(Number.isSafeInteger(prompts) && prompts >= 1)) return yield* bad("--session-system-prompts", `expected a positive integer (got ${prompts})`)
      if (f.sessionSystemPrompts !== undefined && sys === 0) return yield* bad("--session-system-prompts", "needs --session-system-prompt-len N (the shared system prompts' length)")
      const lengthDist = f.lengthDist ?? DEFAULT_GENERATOR.lengthDist
      if (f.rangeRatio !== undefined && lengthDist !== "uniform") return yield* bad("--range-ratio", `applies to --length-dist uniform (got --length-dist ${lengthDist})`)
      if (f.lengthSigma !== undefined && lengthDist !== "lognormal") return yield* bad("--length-sigma", `applies to --length-dist lognormal (got --length-dist ${lengthDist})`)
      spec = {
        numSessions: n,
        sessionRate,
        burstiness,
        turnsMin,
        turnsMax,
        messageLen: f.inputLen ?? DEFAULT_GENERATOR.inputLen,
        outputLen: f.outputLen ?? DEFAULT_GENERATOR.outputLen,
        lengthDist,
        rangeRatio: f.rangeRatio ?? DEFAULT_GENERATOR.rangeRatio,
        lengthSigma: f.lengthSigma ?? DEFAULT_GENERATOR.lengthSigma,
        systemPromptLen: sys,
        systemPrompts: prompts,
        thinkTimeMeanNs: Math.round(think * 1e6),
        seed
      }
      if (!(Number.isInteger(spec.messageLen) && spec.messageLen > 0)) return yield* bad("--input-len", `expected a positive integer (got ${spec.messageLen})`)
      if (!(Number.isInteger(spec.outputLen) && spec.outputLen > 0)) return yield* bad("--output-len", `expected a positive integer (got ${spec.outputLen})`)
      if (!(spec.rangeRatio >= 0 && spec.rangeRatio < 1)) return yield* bad("--range-ratio", `expected a number in [0, 1) (got ${spec.rangeRatio})`)
      if (!(Number.isFinite(spec.lengthSigma) && spec.lengthSigma >= 0)) return yield* bad("--length-sigma", `expected a number >= 0 (got ${spec.lengthSigma})`)
    }
    const rate = Number.isFinite(sessionRate) ? `${sessionRate} sessions/s` : "every session at t=0"
    const turns = spec.turnsMin === spec.turnsMax ? `${spec.turnsMin}` : `${spec.turnsMin}-${spec.turnsMax}`
    const description = f.sharedPrefix !== undefined
      ? `generated shared_prefix (inference-perf): ${spec.systemPrompts} groups x ${spec.numSessions / spec.systemPrompts} prompts, system prompt ${spec.systemPromptLen} + question ${spec.messageLen} / output ${spec.outputLen} tokens, ${rate}, seed ${seed}`
      : `generated sessions: ${spec.numSessions} sessions of ${turns} turns, ${rate}, ` +
        `${spec.systemPromptLen > 0 ? `system prompt ${spec.systemPromptLen} tokens (${spec.systemPrompts} distinct), ` : ""}` +
        `message ${spec.messageLen} / answer ${spec.outputLen} tokens (${spec.lengthDist}), think time ${spec.thinkTimeMeanNs / 1e6} ms (exponential mean), seed ${seed}`
    return {
      description,
      spec: { sessions: { ...spec, sessionRate: Number.isFinite(sessionRate) ? sessionRate : "inf" } },
      arrivals: sessionStream(spec),
      sessions: spec
    }
  })

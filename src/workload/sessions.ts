/**
 * Multi-turn (chat and agent) session workloads: sessions start as an open-loop arrival process
 * (gamma gaps with shape `burstiness` and mean 1 / `sessionRate`, as the generator's requests), and
 * each session is a conversation of `turns` requests. Turn k's prompt is the whole history (the
 * system prompt, every earlier message and answer) plus a new message; turn k + 1 is sent only when
 * turn k's answer has reached the client, plus a think / tool time (exponential, mean
 * `thinkTimeMeanNs`), by the SessionClient (engine/SessionClient.ts). Prompt content is
 * position-determined (memory/blockHash.ts, kind "session"), so the next turn's prompt hits the KV
 * blocks the previous turns computed, prompt and answer, and the system prompt is shared by every
 * session of its group, as in vLLM's automatic prefix caching.
 *
 * inference-perf's `shared_prefix` data generator (num_groups, num_prompts_per_group,
 * system_prompt_len, question_len, output_len) is the one-turn case: `numGroups x promptsPerGroup`
 * sessions of one turn each, group g's system prompt before a unique question, in a seeded random
 * order (sharedPrefixSpec).
 *
 * Every per-session draw (turn count, system prompt, message and answer lengths) comes from the
 * session's own seeded stream (sessionDraws), so a session's plan does not depend on the order in
 * which the engine finishes other sessions' turns.
 */
import { Stream } from "effect"
import type { Arrival } from "../engine/Engine.js"
import type { PromptContent } from "../memory/blockHash.js"
import { drawLength, type LengthDist } from "./generator.js"
import { Rng } from "./Rng.js"

export interface SessionSpec {
  readonly numSessions: number
  /** Sessions started per second; Infinity = every session starts at t = 0. */
  readonly sessionRate: number
  /** Gamma shape of the gaps between session starts (1 = Poisson). */
  readonly burstiness: number
  /** Turns per session: uniform in [turnsMin, turnsMax] (equal: fixed). */
  readonly turnsMin: number
  readonly turnsMax: number
  /** Mean tokens of each turn's new message (user message or tool result). */
  readonly messageLen: number
  /** Mean tokens of each answer. */
  readonly outputLen: number
  readonly lengthDist: LengthDist
  readonly rangeRatio: number
  readonly lengthSigma: number
  /** Tokens of the shared system prompt at the start of every session (0: none). */
  readonly systemPromptLen: number
  /** Distinct system prompts; each session takes one uniformly (1: all share one). */
  readonly systemPrompts: number
  /** Mean think / tool time between an answer's end and the next turn's send, ns (0: none). */
  readonly thinkTimeMeanNs: number
  /**
   * inference-perf shared_prefix: session i has system prompt `order[i] % systemPrompts` (each
   * exactly numSessions / systemPrompts times, shuffled); absent: drawn per session.
   */
  readonly fixedGroups?: boolean | undefined
  readonly seed: number
}

/** A later turn of a session read from a trace (LLMServingSim 2.0's agentic `sub_requests`). */
export interface TraceTurn {
  /** The whole prompt of this call (the agent's context), tokens. */
  readonly promptTokens: number
  readonly outputTokens: number
  /** Tool time after this turn's answer before the next turn is sent, ns. */
  readonly toolNs: number
  readonly content: PromptContent | undefined
}

/** A session read from a trace: its first turn is the arrival that carries it. */
export interface TraceSession {
  /** Unique per session in the run (the trace line). */
  readonly id: number
  /** Tool time after the first turn's answer, ns. */
  readonly toolNs: number
  /** The turns after the first, in order. */
  readonly turns: ReadonlyArray<TraceTurn>
}

/** What one session draws up front from its own stream; `rng` continues with its turns' lengths. */
export interface SessionDraws {
  readonly turns: number
  readonly group: number
  readonly rng: Rng
}

/** Session `s`'s turn count and system prompt, and its stream positioned for its turns' lengths. */
export const sessionDraws = (spec: SessionSpec, s: number, group?: number): SessionDraws => {
  const rng = new Rng((Math.imul(s + 1, 0x9e3779b1) ^ spec.seed ^ 0x3c6ef372) >>> 0)
  const turns = spec.turnsMin === spec.turnsMax ? spec.turnsMin : rng.int(spec.turnsMin, spec.turnsMax)
  const g = group ?? (spec.systemPrompts > 1 ? rng.int(0, spec.systemPrompts - 1) : 0)
  return { turns, group: g, rng }
}

/** The content of a turn of session `s` whose prompt is `promptTokens` and answer `outputTokens` tokens. */
export const sessionContent = (spec: SessionSpec, s: number, group: number, promptTokens: number, outputTokens: number): PromptContent => ({
  kind: "session",
  session: s,
  group,
  sharedTokens: spec.systemPromptLen,
  knownTokens: promptTokens + outputTokens
})

/** A turn's new message length and answer length (drawn from the session's stream). */
export const drawTurn = (spec: SessionSpec, rng: Rng): { readonly message: number; readonly output: number } => ({
  message: drawLength(rng, spec.messageLen, spec),
  output: drawLength(rng, spec.outputLen, spec)
})

/** Fisher-Yates permutation of 0..n-1 from a seeded stream. */
const permutation = (n: number, seed: number): Int32Array => {
  const rng = new Rng((seed ^ 0x7f4a7c15) >>> 0)
  const p = new Int32Array(n)
  for (let i = 0; i < n; i++) p[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i)
    const t = p[i]!
    p[i] = p[j]!
    p[j] = t
  }
  return p
}

/** The sessions' first turns (sessions in start order, session id = its index). */
export function* sessionStarts(spec: SessionSpec): Generator<Arrival> {
  const rng = new Rng(spec.seed)
  const meanGapNs = 1e9 / spec.sessionRate
  const order = spec.fixedGroups === true ? permutation(spec.numSessions, spec.seed) : undefined
  let t = 0
  for (let s = 0; s < spec.numSessions; s++) {
    if (s > 0 && Number.isFinite(spec.sessionRate)) {
      t += spec.burstiness === 1 ? rng.exponential(meanGapNs) : rng.gamma(spec.burstiness, meanGapNs / spec.burstiness)
    }
    const d = sessionDraws(spec, s, order === undefined ? undefined : order[s]! % spec.systemPrompts)
    const turn = drawTurn(spec, d.rng)
    const promptTokens = spec.systemPromptLen + turn.message
    yield { arrivalNs: Math.round(t), promptTokens, outputTokens: turn.output, content: sessionContent(spec, s, d.group, promptTokens, turn.output) }
  }
}

/** The first turns as a Stream (drawn afresh from the seed on every run). */
export const sessionStream = (spec: SessionSpec): Stream.Stream<Arrival> => Stream.suspend(() => Stream.fromIterable(sessionStarts(spec)))

/** inference-perf's shared_prefix generator's parameters (its config names). */
export interface SharedPrefix {
  readonly num_groups: number
  readonly num_prompts_per_group: number
  readonly system_prompt_len: number
  readonly question_len: number
  readonly output_len: number
}

/** The session spec of inference-perf's shared_prefix data: one-turn sessions, fixed lengths, groups exactly balanced. */
export const sharedPrefixSpec = (p: SharedPrefix, sessionRate: number, burstiness: number, seed: number): SessionSpec => ({
  numSessions: p.num_groups * p.num_prompts_per_group,
  sessionRate,
  burstiness,
  turnsMin: 1,
  turnsMax: 1,
  messageLen: p.question_len,
  outputLen: p.output_len,
  lengthDist: "fixed",
  rangeRatio: 0,
  lengthSigma: 0,
  systemPromptLen: p.system_prompt_len,
  systemPrompts: p.num_groups,
  thinkTimeMeanNs: 0,
  fixedGroups: true,
  seed
})

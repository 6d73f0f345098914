/**
 * The client of a multi-turn session workload (workload/sessions.ts): it sends each session's
 * first turn at the session's start, and every later turn when the previous answer has reached it
 * (the answer's last token plus the front end's egress) plus a think / tool time: a closed loop per
 * session, as a chat user or an agent harness runs one, so each turn's prompt (the history plus a
 * new message) can hit the KV the earlier turns left in the prefix cache.
 *
 * A session ends after its planned turns; early, when its next turn (prompt + answer) would not
 * fit max_model_len (vLLM would reject it: counted as `truncated`), or when a turn is rejected
 * (`failed`).
 *
 * How it runs on the engine, as the --max-concurrency client does (ClosedLoopClient.ts): the engine
 * moves its instances in time order (`ordered`), and a finish that creates a turn lowers the
 * engine's `horizonNs` to the turn's send time, so no step that starts later runs before the turn
 * joins. A pending turn is sent once no step starting before its send time is left. O(log pending)
 * per turn; nothing per step or token.
 */
import type { SimRequest } from "../domain/SimRequest.js"
import { TimedQueue } from "../cluster/TimedQueue.js"
import type { Rng } from "../workload/Rng.js"
import { drawTurn, sessionContent, sessionDraws, type SessionSpec, type TraceSession } from "../workload/sessions.js"
import type { Arrival, Engine } from "./Engine.js"
import type { EngineObserver } from "./EngineObserver.js"

interface Live {
  readonly session: number
  readonly group: number
  /** Generated sessions: the session's stream (its turns' lengths and think times). */
  readonly rng: Rng | undefined
  /** Trace sessions: the session as read (its later turns and tool times). */
  readonly trace: TraceSession | undefined
  readonly startNs: number
  /** Turns still to send after the one in flight. */
  turnsLeft: number
  /** Index of the turn in flight (0 = the first). */
  turn: number
}

interface Pending {
  readonly arrival: Arrival
  readonly live: Live
}

/** The `sessions` section of summary.json. */
export interface SessionStats {
  readonly num_sessions: number
  /** Sessions that sent every planned turn and got every answer. */
  readonly completed: number
  /** Sessions ended early because the next turn would exceed max_model_len. */
  readonly truncated: number
  /** Sessions ended by a rejected turn. */
  readonly failed: number
  /** Turns (requests) sent. */
  readonly turns: number
  readonly mean_turns_per_session: number
  /** Mean time from a session's first send to its last answer at the client, s. */
  readonly mean_session_duration_s: number
  /** Mean prompt tokens of a turn (history included). */
  readonly mean_prompt_tokens_per_turn: number
  /** Turns sent after the first, whose prompt repeats the history: their share of turns. */
  readonly follow_up_turn_share: number
  /** Mean wait between an answer and the next turn's send (think or tool time), ms. */
  readonly mean_think_time_ms: number
  /**
   * Mean TTFT of the finished turns by turn index (entry i: the sessions' turn i + 1; turns past
   * the 64th pooled in the last entry), ms: how prefix reuse shortens later turns' prefills.
   */
  readonly mean_ttft_ms_by_turn: ReadonlyArray<number>
}

/** Turn indexes kept apart in mean_ttft_ms_by_turn (later turns share the last entry). */
const TURN_BUCKETS = 64

export class SessionClient {
  private engine: Engine | undefined = undefined
  private maxModelLen = Infinity
  private readonly pending = new TimedQueue<Pending>()
  private readonly live = new Map<SimRequest, Live>()
  private started = 0
  private ended = 0
  private completed = 0
  private truncated = 0
  private failed = 0
  private turns = 0
  private followUps = 0
  private promptSum = 0
  private durationSumNs = 0
  private thinkSumNs = 0
  private readonly ttftSum = new Float64Array(TURN_BUCKETS)
  private readonly ttftCount = new Float64Array(TURN_BUCKETS)
  /** Listens for the ends of turns (finishes and rejections); add it to the engine's observers. */
  readonly observer: EngineObserver

  /** `spec`: generated sessions (workload/sessions.ts); undefined: sessions read from a trace (each first turn carries its TraceSession). */
  constructor(readonly spec: SessionSpec | undefined) {
    this.observer = { onFinish: (r) => this.onEnd(r, false), onReject: (r) => this.onEnd(r, true) }
  }

  /** Use `engine` (built with `ordered: true` and this client's observer); turns longer than `maxModelLen` end their session. */
  attach(engine: Engine, maxModelLen: number): void {
    this.engine = engine
    this.maxModelLen = maxModelLen
  }

  /** No turn is pending or in flight. */
  get idle(): boolean {
    return this.pending.length === 0 && this.live.size === 0
  }

  /** Send time of the earliest pending turn, ns (Infinity when none). */
  get nextPendingNs(): number {
    return this.pending.nextNs
  }

  private finishSession(l: Live, endNs: number): void {
    this.ended++
    this.durationSumNs += endNs - l.startNs
  }

  private onEnd(r: SimRequest, rejected: boolean): void {
    const l = this.live.get(r)
    if (l === undefined) return
    this.live.delete(r)
    const end = r.finishNs + r.egressNs
    if (!rejected && r.firstTokenNs >= 0) {
      const b = l.turn < TURN_BUCKETS ? l.turn : TURN_BUCKETS - 1
      this.ttftSum[b]! += r.firstTokenNs + r.egressNs - r.arrivalNs
      this.ttftCount[b]!++
    }
    if (rejected) {
      this.failed++
      return this.finishSession(l, end)
    }
    if (l.turnsLeft === 0) {
      this.completed++
      return this.finishSession(l, end)
    }
    let next: Arrival
    let think: number
    if (l.trace !== undefined) {
      // the trace's next sub-request, after the tool time of the one that finished
      const done = l.trace.turns.length - l.turnsLeft - 1
      const t = l.trace.turns[done + 1]!
      think = done < 0 ? l.trace.toolNs : l.trace.turns[done]!.toolNs
      next = { arrivalNs: end + think, promptTokens: t.promptTokens, outputTokens: t.outputTokens, content: t.content }
    } else {
      const spec = this.spec!
      const turn = drawTurn(spec, l.rng!)
      const promptTokens = r.promptTokens + r.numOutput + turn.message
      if (promptTokens + turn.output > this.maxModelLen) {
        this.truncated++
        return this.finishSession(l, end)
      }
      think = spec.thinkTimeMeanNs > 0 ? Math.round(l.rng!.exponential(spec.thinkTimeMeanNs)) : 0
      next = { arrivalNs: end + think, promptTokens, outputTokens: turn.output, content: sessionContent(spec, l.session, l.group, promptTokens, turn.output) }
    }
    this.thinkSumNs += think
    l.turnsLeft--
    l.turn++
    const send = next.arrivalNs
    this.pending.push(send, { live: l, arrival: next })
    const e = this.engine!
    if (send < e.horizonNs) e.horizonNs = send
  }

  private send(a: Arrival, l: Live): void {
    const r = this.engine!.submit(a)
    this.turns++
    this.promptSum += a.promptTokens
    this.live.set(r, l)
  }

  /**
   * Run the engine to `limitNs`, sending every pending turn whose time comes first (in time order,
   * each once no step starting before it is left). Returns with no step before `limitNs` left to
   * run and no pending turn due by then.
   */
  flushUntil(limitNs: number): void {
    const engine = this.engine!
    for (;;) {
      const p = this.pending.nextNs
      const t = p <= limitNs ? p : limitNs
      if (engine.nextEventNs() >= t) {
        if (p > limitNs) return
        const x = this.pending.pop()!
        this.followUps++
        this.send(x.arrival, x.live)
        continue
      }
      engine.horizonNs = t
      engine.advanceTo(t)
      engine.horizonNs = Infinity
    }
  }

  /**
   * A session's first turn, in start order: generated (session content, workload/sessions.ts) or
   * read from a trace (it carries its TraceSession). A trace's plain requests are sent as they are.
   */
  submitStart(a: Arrival): void {
    this.flushUntil(a.arrivalNs)
    const c = a.content
    if (a.session !== undefined) {
      this.started++
      this.send(a, { session: a.session.id, group: 0, rng: undefined, trace: a.session, startNs: a.arrivalNs, turnsLeft: a.session.turns.length, turn: 0 })
    } else if (this.spec !== undefined && c !== undefined && c.kind === "session") {
      const d = sessionDraws(this.spec, c.session, this.spec.fixedGroups === true ? c.group : undefined)
      // the generator drew the first turn's lengths from the same stream: skip them
      drawTurn(this.spec, d.rng)
      this.started++
      this.send(a, { session: c.session, group: c.group, rng: d.rng, trace: undefined, startNs: a.arrivalNs, turnsLeft: d.turns - 1, turn: 0 })
    } else {
      this.engine!.submit(a)
    }
  }

  private byTurn(): Array<number> {
    let n = TURN_BUCKETS
    while (n > 0 && this.ttftCount[n - 1] === 0) n--
    return Array.from({ length: n }, (_, i) => (this.ttftCount[i] === 0 ? 0 : this.ttftSum[i]! / this.ttftCount[i]! / 1e6))
  }

  stats(): SessionStats {
    const n = this.started
    return {
      num_sessions: n,
      completed: this.completed,
      truncated: this.truncated,
      failed: this.failed,
      turns: this.turns,
      mean_turns_per_session: n === 0 ? 0 : this.turns / n,
      mean_session_duration_s: this.ended === 0 ? 0 : this.durationSumNs / this.ended / 1e9,
      mean_prompt_tokens_per_turn: this.turns === 0 ? 0 : this.promptSum / this.turns,
      follow_up_turn_share: this.turns === 0 ? 0 : this.followUps / this.turns,
      mean_think_time_ms: this.followUps === 0 ? 0 : this.thinkSumNs / this.followUps / 1e6,
      mean_ttft_ms_by_turn: this.byTurn()
    }
  }
}

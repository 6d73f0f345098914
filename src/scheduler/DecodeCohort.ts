/**
 * A decode cohort: the running requests of one instance that are decoding in lockstep, held lazily
 * so that a step costs O(1) for all of them instead of O(batch).
 *
 * Invariant: every member got one token in each of the cohort's steps since it joined, so at any
 * time all members' last tokens came at `lastTokenNs`, and a member's computed tokens are
 * `decodeBase + steps` (its SimRequest fields `numComputed`, `numOutput`, `lastTokenNs` and its KV
 * block fields are stale until `materialise`/`leave` writes them). A step that schedules the cohort
 * schedules all of it, one decode token each; anything else (a decode skipped for want of budget,
 * a preemption) first dissolves the cohort into explicit requests (RunningSet.dissolve).
 *
 * Kept incrementally, so that what a step needs is O(1):
 * - the decode context sum (what the perf model prices): sum(decodeBase) + size x (steps + 1);
 * - how many members start a new KV block in a step (member i does when its computed tokens are a
 *   multiple of block_size): a count per residue of decodeBase modulo block_size;
 * - who finishes next: a heap keyed by the step of each member's last token (FinishQueue).
 * Joining and leaving cost O(log n).
 */
import type { SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import { FinishQueue } from "./FinishQueue.js"

export class DecodeCohort {
  /** Steps the cohort has taken (each gave every member one token). */
  steps = 0
  /** End of the cohort's latest step, ns: the time of every member's latest token. */
  lastTokenNs = -1
  /** At least the largest `runSeq` of a member (-1 when empty): members all run before a request with a larger one. */
  maxRunSeq = -1
  private readonly members = new FinishQueue()
  private baseSum = 0
  private readonly residues: Int32Array
  private readonly bs: number

  constructor(private readonly kv: KvCache) {
    this.bs = kv.blockSize
    this.residues = new Int32Array(this.bs)
  }

  /** Members. */
  get size(): number {
    return this.members.size
  }

  /** Member `i` (0 <= i < size), in no particular order; its fields may be stale. */
  at(i: number): SimRequest {
    return this.members.at(i)
  }

  /** Sum over members of their context including the new token in the step `ahead` steps from now, tokens. */
  contextSum(ahead = 0): number {
    return this.baseSum + this.members.size * (this.steps + ahead + 1)
  }

  /** Members whose token in the step `ahead` steps from now starts a new KV block (each needs one more block then). */
  crossers(ahead = 0): number {
    const bs = this.bs
    return this.residues[(bs - ((this.steps + ahead) % bs)) % bs]!
  }

  /** Whether member `r`'s token in the next step starts a new KV block. */
  crossesNext(r: SimRequest): boolean {
    return (r.decodeBase + this.steps) % this.bs === 0
  }

  /** Steps from now until the one that gives some member its last token (Infinity when empty). */
  stepsToFinish(): number {
    const top = this.members.top
    return top === undefined ? Infinity : top.finishStep - this.steps
  }

  /**
   * Add `r`, which got its latest token at `lastTokenNs` and is in the decode phase (`numComputed`
   * = `numTokens` - 1) with fewer output tokens than it wants, and whose KV cache says
   * `decodesLazily`. Its `runSeq` orders it among the members.
   */
  join(r: SimRequest): void {
    const base = r.numComputed - this.steps
    r.decodeBase = base
    // its last token comes in the step whose counter value gives numComputed = prompt + output - 2
    r.finishStep = r.promptTokens + r.outputTokens - 2 - base
    this.baseSum += base
    this.residues[((base % this.bs) + this.bs) % this.bs]!++
    if (r.runSeq > this.maxRunSeq) this.maxRunSeq = r.runSeq
    this.members.push(r)
  }

  /** Bring member `r`'s request and KV block fields up to date (it stays a member). */
  materialise(r: SimRequest): void {
    const c = r.decodeBase + this.steps
    r.numComputed = c
    r.numOutput = c + 1 - r.promptTokens
    r.lastTokenNs = this.lastTokenNs
    this.kv.settle(r, c)
  }

  /** Remove member `r`, its fields brought up to date. */
  leave(r: SimRequest): void {
    this.materialise(r)
    const base = r.decodeBase
    this.baseSum -= base
    this.residues[((base % this.bs) + this.bs) % this.bs]!--
    this.members.remove(r)
    if (this.members.size === 0) this.maxRunSeq = -1
  }

  /**
   * The cohort took `k` steps, the last ending at `endNs`: every member got `k` tokens (their KV
   * blocks were taken by the caller: `crossers` of each step).
   */
  advance(k: number, endNs: number): void {
    this.steps += k
    this.lastTokenNs = endNs
  }

  /** The member whose last token came in the latest step (earliest in running order first), or undefined. */
  finished(): SimRequest | undefined {
    const top = this.members.top
    return top !== undefined && top.finishStep < this.steps ? top : undefined
  }

  /** Remove every member into `out` (appended, in no particular order), their fields brought up to date. */
  drainInto(out: Array<SimRequest>): void {
    const m = this.members
    for (let i = 0; i < m.size; i++) {
      const r = m.at(i)
      this.materialise(r)
      out.push(r)
    }
    m.clear()
    this.maxRunSeq = -1
    this.baseSum = 0
    this.residues.fill(0)
  }
}

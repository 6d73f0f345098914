/**
 * The running requests of one instance, in vLLM's running-list order (the order they were admitted
 * or adopted; `runSeq` increases with each entry). Two parts:
 * - `explicit`: requests whose fields are current (prefilling, just admitted, or a decode that
 *   missed a step), as an array in running order;
 * - `cohort`: decoding requests held lazily (DecodeCohort), only when `lazy` is on.
 * A request in either part is running; the union sorted by `runSeq` is the running list.
 * With `lazy` off (exact stepping, per-token observers, prefill instances) the cohort stays empty
 * and this is vLLM's plain running list.
 */
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import { DecodeCohort } from "./DecodeCohort.js"

export class RunningSet {
  /** Running requests not in the cohort, in running order. */
  readonly explicit: Array<SimRequest> = []
  readonly cohort: DecodeCohort
  /** Whether decoders may join the cohort (set once, before the first step). */
  lazy = false
  private nextSeq = 0
  private readonly scratch: Array<SimRequest> = []

  constructor(private readonly kv: KvCache) {
    this.cohort = new DecodeCohort(kv)
  }

  /** Running requests. */
  get length(): number {
    return this.explicit.length + this.cohort.size
  }

  /** Append `r` at the end of the running order (admitted or adopted). */
  push(r: SimRequest): void {
    r.runSeq = this.nextSeq++
    this.explicit.push(r)
  }

  /**
   * After a step that gave `r` a token at `tNs` and left it decoding: let it join the cohort when
   * lazy and its KV cache allows (otherwise it stays explicit). True when it joined.
   */
  offer(r: SimRequest, tNs: number): boolean {
    if (!this.lazy || r.status !== RequestStatus.Running || r.numOutput >= r.outputTokens) return false
    if (r.numComputed + 1 !== r.numTokens || r.lastTokenNs !== tNs || tNs !== this.cohort.lastTokenNs) return false
    if (!this.kv.decodesLazily(r, r.numComputed)) return false
    this.cohort.join(r)
    return true
  }

  /** Drop from `explicit` the requests that finished (or were handed off) or joined the cohort. O(explicit). */
  compact(): void {
    const ex = this.explicit
    let w = 0
    for (let k = 0; k < ex.length; k++) {
      const r = ex[k]!
      if (r.status === RequestStatus.Running && r.cohortPos < 0) ex[w++] = r
    }
    ex.length = w
  }

  /** Move every cohort member back into `explicit`, fields up to date, keeping the running order. O(n log n). */
  dissolve(): void {
    const c = this.scratch
    c.length = 0
    this.cohort.drainInto(c)
    if (c.length === 0) return
    c.sort((a, b) => a.runSeq - b.runSeq)
    const ex = this.explicit
    const merged: Array<SimRequest> = new Array(ex.length + c.length)
    let i = 0, j = 0, w = 0
    while (i < ex.length && j < c.length) merged[w++] = ex[i]!.runSeq < c[j]!.runSeq ? ex[i++]! : c[j++]!
    while (i < ex.length) merged[w++] = ex[i++]!
    while (j < c.length) merged[w++] = c[j++]!
    ex.length = 0
    for (const r of merged) ex.push(r)
    c.length = 0
  }

  /** Remove `r` (client abort), its fields brought up to date; false when it is not running here. */
  remove(r: SimRequest): boolean {
    if (r.cohortPos >= 0) {
      this.cohort.leave(r)
      return true
    }
    const k = this.explicit.indexOf(r)
    if (k < 0) return false
    this.explicit.splice(k, 1)
    return true
  }
}

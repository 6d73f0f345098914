/**
 * The members of a decode cohort as a binary min-heap keyed by (`finishStep`, `runSeq`): the top is
 * the request that finishes first, and requests finishing in the same step come out in running
 * order (the order vLLM's step loop finishes them in). Each request keeps its heap index in
 * `cohortPos` (-1 when not in the heap), so removal is O(log n) too. The heap array doubles as the
 * member list (`at`, `size`).
 */
import type { SimRequest } from "../domain/SimRequest.js"

const before = (a: SimRequest, b: SimRequest): boolean =>
  a.finishStep < b.finishStep || (a.finishStep === b.finishStep && a.runSeq < b.runSeq)

export class FinishQueue {
  private readonly heap: Array<SimRequest> = []

  /** Members. */
  get size(): number {
    return this.heap.length
  }

  /** The member that finishes first (ties: earliest in running order); undefined when empty. */
  get top(): SimRequest | undefined {
    return this.heap[0]
  }

  /** Member `i` (0 <= i < size), in no particular order. */
  at(i: number): SimRequest {
    return this.heap[i]!
  }

  /** Add `r` (not a member; its `finishStep` and `runSeq` set). O(log n). */
  push(r: SimRequest): void {
    const h = this.heap
    h.push(r)
    this.up(h.length - 1, r)
  }

  /** Remove member `r`; its `cohortPos` becomes -1. O(log n). */
  remove(r: SimRequest): void {
    const h = this.heap
    const i = r.cohortPos
    r.cohortPos = -1
    const last = h.pop()!
    if (last === r) return
    h[i] = last
    last.cohortPos = i
    if (i > 0 && before(last, h[(i - 1) >> 1]!)) this.up(i, last)
    else this.down(i, last)
  }

  /** Remove every member (their `cohortPos` become -1). */
  clear(): void {
    for (const r of this.heap) r.cohortPos = -1
    this.heap.length = 0
  }

  private up(i: number, r: SimRequest): void {
    const h = this.heap
    while (i > 0) {
      const p = (i - 1) >> 1
      const q = h[p]!
      if (!before(r, q)) break
      h[i] = q
      q.cohortPos = i
      i = p
    }
    h[i] = r
    r.cohortPos = i
  }

  private down(i: number, r: SimRequest): void {
    const h = this.heap
    const n = h.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      let c = l
      if (l + 1 < n && before(h[l + 1]!, h[l]!)) c = l + 1
      const q = h[c]!
      if (!before(q, r)) break
      h[i] = q
      q.cohortPos = i
      i = c
    }
    h[i] = r
    r.cohortPos = i
  }
}

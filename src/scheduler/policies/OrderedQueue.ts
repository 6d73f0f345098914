/**
 * A waiting queue ordered by a comparator (smallest first): a binary min-heap, O(log n) per push
 * and pop, O(n) per remove (client aborts only). Used by the priority and shortest-job-first
 * policies; vLLM's priority policy keeps its waiting requests in a heap the same way
 * (vllm/v1/core/sched/request_queue.py, `PriorityRequestQueue`). A preempted request goes back by
 * its key (`pushFront` = `pushBack`), as vLLM's `prepend_request` does for that queue.
 */
import type { WaitingQueue } from "../WaitingQueue.js"

export class OrderedQueue<A> implements WaitingQueue<A> {
  private readonly heap: Array<A> = []

  /** @param before negative when `a` must be admitted before `b`; must be a strict total order (break ties by id). */
  constructor(private readonly before: (a: A, b: A) => number) {}

  get length(): number {
    return this.heap.length
  }

  pushBack(a: A): void {
    const h = this.heap
    h.push(a)
    this.up(h.length - 1)
  }

  pushFront(a: A): void {
    this.pushBack(a)
  }

  peek(): A | undefined {
    return this.heap[0]
  }

  popFront(): A | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      this.down(0)
    }
    return top
  }

  remove(a: A): boolean {
    const h = this.heap
    const i = h.indexOf(a)
    if (i < 0) return false
    const last = h.pop()!
    if (i < h.length) {
      h[i] = last
      this.down(i)
      this.up(i)
    }
    return true
  }

  private up(i: number): void {
    const h = this.heap
    const x = h[i]!
    while (i > 0) {
      const p = (i - 1) >> 1
      if (this.before(x, h[p]!) >= 0) break
      h[i] = h[p]!
      i = p
    }
    h[i] = x
  }

  private down(i: number): void {
    const h = this.heap
    const n = h.length
    const x = h[i]!
    for (;;) {
      let c = 2 * i + 1
      if (c >= n) break
      if (c + 1 < n && this.before(h[c + 1]!, h[c]!) < 0) c++
      if (this.before(h[c]!, x) >= 0) break
      h[i] = h[c]!
      i = c
    }
    h[i] = x
  }
}

/**
 * A min-heap of items keyed by a time (ns), ties in insertion order: the engine's pending
 * cross-instance events (requests handed to a decode instance, KV transfers completing, blocks a
 * prefill instance may free). O(log n) per push and pop.
 */
export class TimedQueue<A> {
  private readonly times: Array<number> = []
  private readonly seqs: Array<number> = []
  private readonly items: Array<A> = []
  private seq = 0

  get length(): number {
    return this.items.length
  }

  /** Time of the earliest item, or Infinity when empty. */
  get nextNs(): number {
    return this.items.length === 0 ? Infinity : this.times[0]!
  }

  /** The earliest item (undefined when empty). */
  peek(): A | undefined {
    return this.items[0]
  }

  push(tNs: number, a: A): void {
    const t = this.times
    const s = this.seqs
    const it = this.items
    let i = it.length
    t.push(tNs)
    s.push(this.seq++)
    it.push(a)
    while (i > 0) {
      const p = (i - 1) >> 1
      if (t[p]! < t[i]! || (t[p] === t[i] && s[p]! < s[i]!)) break
      this.swap(i, p)
      i = p
    }
  }

  /** Remove and return the earliest item (undefined when empty). */
  pop(): A | undefined {
    const it = this.items
    if (it.length === 0) return undefined
    const top = it[0]!
    const last = it.length - 1
    this.swap(0, last)
    this.times.pop()
    this.seqs.pop()
    it.pop()
    const t = this.times
    const s = this.seqs
    const n = it.length
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && (t[l]! < t[m]! || (t[l] === t[m] && s[l]! < s[m]!))) m = l
      if (r < n && (t[r]! < t[m]! || (t[r] === t[m] && s[r]! < s[m]!))) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
    return top
  }

  private swap(a: number, b: number): void {
    const t = this.times
    const s = this.seqs
    const it = this.items
    const t0 = t[a]!
    t[a] = t[b]!
    t[b] = t0
    const s0 = s[a]!
    s[a] = s[b]!
    s[b] = s0
    const i0 = it[a]!
    it[a] = it[b]!
    it[b] = i0
  }
}

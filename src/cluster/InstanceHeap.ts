/**
 * The disaggregated engine's agenda: every instance keyed by its next event time (ns), ties by
 * lower id, so the engine moves the earliest one in O(log n) instead of scanning all instances.
 * An instance's key must be refreshed (`update`) whenever its next event may have changed: after
 * it moves, and when another instance hands it a request, a transfer or a release.
 */
export interface Scheduled {
  readonly id: number
  nextEventNs(): number
}

export class InstanceHeap<A extends Scheduled> {
  private readonly items: Array<A> = []
  private readonly keys: Array<number> = []
  /** Position of each item in the heap, by id. */
  private readonly pos = new Map<number, number>()

  constructor(items: ReadonlyArray<A>) {
    for (const x of items) {
      this.pos.set(x.id, this.items.length)
      this.items.push(x)
      this.keys.push(x.nextEventNs())
    }
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.down(i)
  }

  /** The instance with the earliest next event (undefined when empty). */
  get top(): A | undefined {
    return this.items[0]
  }

  /** Its next event time, ns (Infinity when empty or idle). */
  get topKey(): number {
    return this.keys.length === 0 ? Infinity : this.keys[0]!
  }

  /** The earliest next event among the others, ns: the smaller child of the root. */
  get secondKey(): number {
    const k = this.keys
    const a = k.length > 1 ? k[1]! : Infinity
    const b = k.length > 2 ? k[2]! : Infinity
    return a < b ? a : b
  }

  /** Re-read `x`'s next event time and restore the heap order. */
  update(x: A): void {
    const i = this.pos.get(x.id)!
    const t = x.nextEventNs()
    const old = this.keys[i]!
    if (t === old) return
    this.keys[i] = t
    if (t < old) this.up(i)
    else this.down(i)
  }

  private less(i: number, j: number): boolean {
    const ki = this.keys[i]!
    const kj = this.keys[j]!
    return ki < kj || (ki === kj && this.items[i]!.id < this.items[j]!.id)
  }

  private swap(i: number, j: number): void {
    const it = this.items
    const k = this.keys
    const a = it[i]!
    it[i] = it[j]!
    it[j] = a
    const t = k[i]!
    k[i] = k[j]!
    k[j] = t
    this.pos.set(it[i]!.id, i)
    this.pos.set(it[j]!.id, j)
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(i, p)) return
      this.swap(i, p)
      i = p
    }
  }

  private down(i: number): void {
    const n = this.items.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && this.less(l, m)) m = l
      if (r < n && this.less(r, m)) m = r
      if (m === i) return
      this.swap(i, m)
      i = m
    }
  }
}

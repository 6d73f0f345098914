/**
 * FCFS queue of waiting requests: push at the back on arrival, push at the front on preemption
 * (vLLM `prepend_request`), pop from the front. A growable ring buffer: O(1) at both ends.
 */
export class RequestQueue<A> {
  private buf: Array<A | undefined>
  private head = 0
  private size = 0

  constructor(capacity = 64) {
    this.buf = new Array(capacity)
  }

  get length(): number {
    return this.size
  }

  private grow(): void {
    const old = this.buf
    const next = new Array<A | undefined>(old.length * 2)
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) % old.length]
    this.buf = next
    this.head = 0
  }

  pushBack(a: A): void {
    if (this.size === this.buf.length) this.grow()
    this.buf[(this.head + this.size) % this.buf.length] = a
    this.size++
  }

  pushFront(a: A): void {
    if (this.size === this.buf.length) this.grow()
    this.head = (this.head - 1 + this.buf.length) % this.buf.length
    this.buf[this.head] = a
    this.size++
  }

  /** The front element; undefined when empty. */
  peek(): A | undefined {
    return this.size === 0 ? undefined : this.buf[this.head]
  }

  popFront(): A | undefined {
    if (this.size === 0) return undefined
    const a = this.buf[this.head]
    this.buf[this.head] = undefined
    this.head = (this.head + 1) % this.buf.length
    this.size--
    return a
  }

  /** Element `i` from the front (0-based). */
  at(i: number): A | undefined {
    return i < 0 || i >= this.size ? undefined : this.buf[(this.head + i) % this.buf.length]
  }

  /** Remove the first element equal to `a`; true if found (used when a client aborts). */
  remove(a: A): boolean {
    for (let i = 0; i < this.size; i++) {
      if (this.buf[(this.head + i) % this.buf.length] === a) {
        for (let j = i; j < this.size - 1; j++) {
          this.buf[(this.head + j) % this.buf.length] = this.buf[(this.head + j + 1) % this.buf.length]
        }
        this.buf[(this.head + this.size - 1) % this.buf.length] = undefined
        this.size--
        return true
      }
    }
    return false
  }
}

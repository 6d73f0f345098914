/**
 * What a scheduler's waiting queue offers the engine and the policies: FCFS (RequestQueue, a ring
 * buffer) or ordered by a key (policies/OrderedQueue.ts, a binary heap).
 */
export interface WaitingQueue<A> {
  readonly length: number
  /** Queue a new arrival. */
  pushBack(a: A): void
  /** Return a preempted request (FCFS: to the front, vLLM `prepend_request`; ordered: by its key). */
  pushFront(a: A): void
  /** The next request to admit; undefined when empty. */
  peek(): A | undefined
  popFront(): A | undefined
  /** Remove `a` (client abort); true if found. */
  remove(a: A): boolean
}

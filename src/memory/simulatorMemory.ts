/**
 * The simulator's own memory for a cluster, estimated before any instance is built, so a count
 * that cannot fit (`--num-instances 100000`) is refused with a clear error instead of dying in
 * V8 with a heap-out-of-memory stack. Per-object costs, from the data structures themselves:
 *  - prefix-caching KV cache (PrefixCachingKvCache): per block 7 Int32 free-queue entries, 5 Int32
 *    and 1 Uint8 per-block arrays (off the V8 heap, 49 bytes) and one owner slot (on the heap, 8
 *    bytes); the counting cache (`--no-enable-prefix-caching`) holds only counters;
 *  - per instance (scheduler, step plan, batch shape, queues): 3 Int32 and 1 pointer per
 *    `max_num_seqs` slot plus a fixed 16 KiB.
 * Requests in flight are not counted (they grow with the workload, not the configuration).
 */
import * as os from "node:os"
import * as v8 from "node:v8"

export const PREFIX_CACHE_HEAP_BYTES_PER_BLOCK = 8
export const PREFIX_CACHE_OFF_HEAP_BYTES_PER_BLOCK = 49
export const INSTANCE_FIXED_BYTES = 16 * 1024
export const INSTANCE_BYTES_PER_SEQ_SLOT = 3 * 4 + 8

export interface InstanceCount {
  readonly instances: number
  readonly blocks: number
  readonly prefixCaching: boolean
  readonly maxNumSeqs: number
}

/** Estimated V8-heap and off-heap bytes of the instances of `pools`. */
export const simulatorMemory = (pools: ReadonlyArray<InstanceCount>): { readonly heap: number; readonly offHeap: number } => {
  let heap = 0
  let offHeap = 0
  for (const p of pools) {
    const cacheHeap = p.prefixCaching ? p.blocks * PREFIX_CACHE_HEAP_BYTES_PER_BLOCK : 0
    const cacheOff = p.prefixCaching ? p.blocks * PREFIX_CACHE_OFF_HEAP_BYTES_PER_BLOCK : 0
    heap += p.instances * (INSTANCE_FIXED_BYTES + p.maxNumSeqs * INSTANCE_BYTES_PER_SEQ_SLOT + cacheHeap)
    offHeap += p.instances * cacheOff
  }
  return { heap, offHeap }
}

/**
 * Why these pools cannot be simulated in this process's memory, or undefined when they fit: the
 * heap estimate against 70% of V8's heap limit (the rest is for requests in flight), the total
 * against half the machine's memory.
 */
export const memoryRefusal = (pools: ReadonlyArray<InstanceCount>): string | undefined => {
  const { heap, offHeap } = simulatorMemory(pools)
  const heapLimit = v8.getHeapStatistics().heap_size_limit * 0.7
  const total = os.totalmem() * 0.5
  const gb = (b: number) => (b / 2 ** 30).toFixed(1)
  const n = pools.reduce((a, p) => a + p.instances, 0)
  if (heap <= heapLimit && heap + offHeap <= total) return undefined
  return `${n} instances need about ${gb(heap)} GiB of the simulator's heap and ${gb(offHeap)} GiB besides (their KV block tables ` +
    `and batch state), more than this process can use (${gb(heapLimit)} GiB heap, ${gb(total)} GiB in all); use fewer instances, ` +
    `--no-enable-prefix-caching (block counts only), or a larger heap (node --max-old-space-size)`
}

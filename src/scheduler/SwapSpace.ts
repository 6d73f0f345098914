/**
 * vLLM V0's swap preemption (`--preemption-mode swap`, `--swap-space` GiB per GPU; vllm/core/
 * scheduler.py `_preempt_by_swap`, block_manager `swap_out` / `swap_in`): a request preempted for KV
 * blocks keeps its computed tokens; its blocks are copied to host memory, and copied back when the
 * scheduler resumes it, instead of being recomputed. When the swap space cannot take a victim's
 * blocks, it is preempted by recompute instead (V0 prefers recompute for single sequences and
 * raises when swap space runs out; here the run goes on).
 *
 * The copies use the host link at half its datasheet `hostLinkGBs` per direction (no efficiency
 * factor) and are charged to the step that schedules them (V0 runs the step's swap-outs and
 * swap-ins before its forward pass).
 */
export interface SwapSpec {
  /** Host blocks per GPU: --swap-space GiB in blocks of one GPU's share of a KV block. */
  readonly capacityBlocks: number
  /** One block's copy over the host link, either direction, ns. */
  readonly nsPerBlock: number
}

export class SwapSpace {
  /** Blocks held now (swapped-out requests' KV). */
  used = 0
  /** Most blocks held at once. */
  peak = 0
  swapOuts = 0
  swapIns = 0
  /** Blocks copied out and in. */
  blocksOut = 0
  blocksIn = 0
  /** Preemptions that fell back to recompute because the swap space was full. */
  recomputeFallbacks = 0
  /** Copy time charged to steps, ns. */
  totalNs = 0
  private pendingNs = 0

  constructor(readonly spec: SwapSpec) {}

  /** Take `blocks` for a victim's KV when they fit; false (nothing changed) when not. */
  swapOut(blocks: number): boolean {
    if (this.used + blocks > this.spec.capacityBlocks) {
      this.recomputeFallbacks++
      return false
    }
    this.used += blocks
    if (this.used > this.peak) this.peak = this.used
    this.swapOuts++
    this.blocksOut += blocks
    this.pendingNs += blocks * this.spec.nsPerBlock
    return true
  }

  /** A swapped request resumes: its `blocks` come back to the GPU. */
  swapIn(blocks: number): void {
    this.used -= blocks
    this.swapIns++
    this.blocksIn += blocks
    this.pendingNs += blocks * this.spec.nsPerBlock
  }

  /** Copy time of the swaps since the last call, ns, then reset (added to the step). */
  takeNs(): number {
    const t = this.pendingNs
    this.pendingNs = 0
    this.totalNs += t
    return t
  }
}

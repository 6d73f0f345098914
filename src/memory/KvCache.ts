/**
 * Paged KV cache of one instance, with vLLM's block semantics: a request holds
 * `ceil(tokens / block_size)` blocks for the tokens it has computed (or is computing this step),
 * allocated on demand as it grows and all freed when it finishes or is preempted. Counting only
 * (no block ids) until prefix caching needs them.
 */
export interface KvHolder {
  /** Blocks this request holds now. */
  blocks: number
}

export class KvCache {
  private freeBlocks: number

  /**
   * @param numBlocks capacity in blocks (vLLM's `num_gpu_blocks`)
   * @param blockSize tokens per block (vLLM's `block_size`)
   */
  constructor(readonly numBlocks: number, readonly blockSize: number) {
    this.freeBlocks = numBlocks
  }

  /** Blocks in use (0..numBlocks). */
  get usedBlocks(): number {
    return this.numBlocks - this.freeBlocks
  }

  get free(): number {
    return this.freeBlocks
  }

  /** Blocks needed to hold `tokens` tokens. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize)
  }

  /** True if `tokens` tokens of a request that holds nothing yet would fit in the free blocks. */
  fits(tokens: number): boolean {
    return this.blocksFor(tokens) <= this.freeBlocks
  }

  /**
   * Grow `holder` to cover `totalTokens` tokens (vLLM `allocate_slots`). Returns false, changing
   * nothing, when the free blocks do not suffice.
   */
  allocate(holder: KvHolder, totalTokens: number): boolean {
    const need = Math.ceil(totalTokens / this.blockSize) - holder.blocks
    if (need <= 0) return true
    if (need > this.freeBlocks) return false
    this.freeBlocks -= need
    holder.blocks += need
    return true
  }

  /** Return all of `holder`'s blocks to the pool. */
  release(holder: KvHolder): void {
    this.freeBlocks += holder.blocks
    holder.blocks = 0
  }
}

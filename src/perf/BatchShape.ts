/**
 * What one engine step computes, as the perf model needs it: the prefill chunks (new tokens and
 * the context already in the KV cache before them) and the decode sequences (one new token each,
 * reading their whole context). One mutable instance per engine is reused every step, so building
 * it allocates nothing.
 */
export interface BatchShape {
  /** Requests running a prefill chunk this step. */
  numPrefill: number
  /** Sum of the prefill chunks, tokens. */
  prefillTokens: number
  /** Per prefill request: chunk length in tokens (first `numPrefill` entries are valid). */
  readonly prefillChunk: Int32Array
  /** Per prefill request: tokens already computed before this chunk. */
  readonly prefillContext: Int32Array
  /** Requests decoding one token this step. */
  numDecode: number
  /** Sum over decode requests of their context length including the new token, tokens. */
  decodeContextSum: number
}

/** A shape able to hold `maxSeqs` prefill entries. */
export const makeBatchShape = (maxSeqs: number): BatchShape => ({
  numPrefill: 0,
  prefillTokens: 0,
  prefillChunk: new Int32Array(maxSeqs),
  prefillContext: new Int32Array(maxSeqs),
  numDecode: 0,
  decodeContextSum: 0
})

export const resetBatchShape = (b: BatchShape): void => {
  b.numPrefill = 0
  b.prefillTokens = 0
  b.numDecode = 0
  b.decodeContextSum = 0
}

/** Tokens processed by the step (prefill chunk tokens plus one per decode). */
export const totalTokens = (b: BatchShape): number => b.prefillTokens + b.numDecode

/** Build a shape from plain lists (tests, tools). */
export const batchShapeOf = (
  prefill: ReadonlyArray<readonly [chunk: number, context: number]>,
  decodeContexts: ReadonlyArray<number>
): BatchShape => {
  const b = makeBatchShape(Math.max(1, prefill.length))
  for (const [chunk, context] of prefill) {
    b.prefillChunk[b.numPrefill] = chunk
    b.prefillContext[b.numPrefill] = context
    b.numPrefill++
    b.prefillTokens += chunk
  }
  for (const c of decodeContexts) {
    b.numDecode++
    b.decodeContextSum += c
  }
  return b
}

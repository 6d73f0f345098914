/**
 * Content hashes of full KV blocks for prefix caching, as vLLM V1 chains them
 * (vllm/v1/core/kv_cache_utils.py `hash_block_tokens`): the hash of block i covers the hash of
 * block i-1 and the tokens of block i, so two requests share block i only if they share every
 * token up to its end.
 *
 * What the simulator knows of a prompt's content (`PromptContent`):
 * - its token ids (LLMServingSim 2.0 JSONL `input_tok_ids`), or
 * - Mooncake's `hash_ids`: one id per `blockTokens`-token block of the prompt (512 in the
 *   FAST'25 traces), so equal ids mean equal tokens.
 * - a session's position-determined tokens (workload/sessions.ts): an append-only conversation
 *   whose token at position p is the same in every turn that contains it (the first
 *   `sharedTokens` are system prompt `group`'s, shared across sessions; the rest the session's own),
 *   known through the turn's output, so the next turn, whose prompt is this turn's prompt + output +
 *   a new message, hits the blocks this turn computed, as a chat or agent loop does in vLLM.
 * Everything else (traces with lengths only, generated workloads, every other output token) is treated
 * as unique to its request, like the random prompts and sampled outputs of a real benchmark: such
 * a block can only be hit again by its own request (after a preemption).
 *
 * A hash is two independent 32-bit lanes (h1, h2); the cache keys on h1 and checks h2, so a false
 * hit needs a 64-bit collision.
 */

/** Known content of a prompt's tokens. */
export type PromptContent =
  | { readonly kind: "tokens"; readonly ids: Int32Array }
  | { readonly kind: "hash-blocks"; readonly ids: Float64Array; readonly blockTokens: number }
  | {
    readonly kind: "session"
    /** The conversation (session) id, >= 0. */
    readonly session: number
    /** Which shared system prompt its first `sharedTokens` tokens are, >= 0. */
    readonly group: number
    readonly sharedTokens: number
    /** Positions with known content: the turn's prompt plus its output tokens. */
    readonly knownTokens: number
  }

/** How many leading prompt positions have known content. */
export const knownLength = (c: PromptContent | undefined, promptTokens: number): number => {
  if (c === undefined) return 0
  if (c.kind === "session") return c.knownTokens
  const n = c.kind === "tokens" ? c.ids.length : c.ids.length * c.blockTokens
  return n < promptTokens ? n : promptTokens
}

const mix1 = (h: number, x: number): number => {
  h = Math.imul(h ^ x, 0x9e3779b1)
  return h ^ (h >>> 15)
}
const mix2 = (h: number, x: number): number => {
  h = Math.imul((h + x) | 0, 0x85ebca77)
  return h ^ (h >>> 13)
}
const fmix = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

/** Content key of token position `p` (< knownLength) as two lanes written to `out`. */
const tokenKey = (c: PromptContent, p: number, out: Int32Array): void => {
  if (c.kind === "session") {
    out[0] = p
    out[1] = p < c.sharedTokens ? ~c.group : c.session + 1
  } else if (c.kind === "tokens") {
    out[0] = c.ids[p]! | 0
    out[1] = 0
  } else {
    const id = c.ids[Math.floor(p / c.blockTokens)]!
    out[0] = (id % 4294967296) | 0
    out[1] = Math.floor(id / 4294967296) ^ Math.imul(p % c.blockTokens, 0x27d4eb2f)
  }
}

const scratch = new Int32Array(2)

/**
 * Hash of block `index` (tokens [index·bs, (index+1)·bs)) of request `uid` given its parent's
 * lanes (0, 0 for the first block); written to `out[0]`, `out[1]`. Blocks wholly inside the known
 * content are hashed token by token (hash-block ids: per block when bs divides their size);
 * any other block gets a key unique to (uid, index).
 */
export const blockHash = (
  parent1: number,
  parent2: number,
  c: PromptContent | undefined,
  known: number,
  uid: number,
  index: number,
  bs: number,
  out: Int32Array
): void => {
  const start = index * bs
  let h1 = mix1(parent1 ^ 0x5bd1e995, index)
  let h2 = mix2(parent2 + 0x1b873593, index)
  if (c !== undefined && start + bs <= known) {
    if ((c.kind === "hash-blocks" && c.blockTokens % bs === 0) || (c.kind === "session" && (start + bs <= c.sharedTokens || start >= c.sharedTokens))) {
      // one key per block: its tokens are all of one hash-block id, or all of one source at known positions
      tokenKey(c, start, scratch)
      h1 = mix1(mix1(h1, scratch[0]!), scratch[1]!)
      h2 = mix2(mix2(h2, scratch[0]!), scratch[1]!)
    } else {
      for (let p = start; p < start + bs; p++) {
        tokenKey(c, p, scratch)
        h1 = mix1(mix1(h1, scratch[0]!), scratch[1]!)
        h2 = mix2(mix2(h2, scratch[0]!), scratch[1]!)
      }
    }
  } else {
    // unique to this request: tag with uid in both lanes (and a marker no token key produces alone)
    h1 = mix1(mix1(h1, 0x7fffffff), uid | 0)
    h2 = mix2(mix2(h2, 0x6a09e667), Math.floor(uid / 4294967296) ^ uid)
  }
  out[0] = fmix(h1)
  out[1] = fmix(h2 ^ 0x3c6ef372)
}

const chainLanes = new Int32Array(2)

/**
 * The hash lanes (h1, h2 interleaved) of a request's first `n` blocks, extending the chain kept in
 * `r.hashes` (vLLM keeps `request.block_hashes` the same way). A request with a LoRA adapter
 * (`lora` > 0) starts its chain from a root of its adapter, so its blocks are never shared with
 * another adapter's or the base model's: vLLM puts the adapter in every block's extra keys
 * (kv_cache_utils.py `_gen_lora_extra_hash_keys`).
 */
export const blockHashesOf = (
  r: { hashes: Array<number> | undefined; readonly content: PromptContent | undefined; readonly promptTokens: number; readonly id: number; readonly lora?: number },
  n: number,
  blockSize: number
): Array<number> => {
  let hs = r.hashes
  if (hs === undefined) hs = r.hashes = []
  let have = hs.length >> 1
  if (have >= n) return hs
  const known = knownLength(r.content, r.promptTokens)
  if (have === 0) {
    const lora = r.lora ?? 0
    blockHash(lora > 0 ? fmix(lora ^ 0x4c6f5241) : 0, lora > 0 ? fmix(Math.imul(lora, 0x2545f491)) : 0, r.content, known, r.id, 0, blockSize, chainLanes)
    hs.push(chainLanes[0]!, chainLanes[1]!)
    have = 1
  }
  for (; have < n; have++) {
    blockHash(hs[2 * have - 2]!, hs[2 * have - 1]!, r.content, known, r.id, have, blockSize, chainLanes)
    hs.push(chainLanes[0]!, chainLanes[1]!)
  }
  return hs
}

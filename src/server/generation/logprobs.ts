/**
 * Log-probabilities of output tokens: deterministic (a hash of the seed, the position and the
 * token), plausible (the chosen token is the most likely one, p in [0.35, 0.95]; the alternatives
 * share the rest geometrically), sorted descending, the chosen token first. Alternatives are other
 * filler words, real tokens of every supported vocabulary. Not a model's distribution.
 */
import { FILLER } from "../Tokenizer.js"

export interface TokenLogprob {
  readonly token: string
  readonly logprob: number
  readonly bytes: ReadonlyArray<number>
}
export interface PositionLogprobs extends TokenLogprob {
  /** `n` candidates, chosen first, sorted by logprob descending. */
  readonly top: ReadonlyArray<TokenLogprob>
}

const enc = new TextEncoder()
const bytesOf = (s: string) => Array.from(enc.encode(s))

/** FNV-1a over a string, 32 bits. */
const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Logprobs of `token` at output position `pos`, with `n` top candidates. */
export const positionLogprobs = (token: string, pos: number, seed: number, n: number): PositionLogprobs => {
  const u = hash(`${seed}:${pos}:${token}`) / 2 ** 32
  const p0 = 0.35 + 0.6 * u
  const lp0 = Math.log(p0)
  const chosen = { token, logprob: lp0, bytes: bytesOf(token) }
  const top: Array<TokenLogprob> = n > 0 ? [chosen] : []
  let rest = 1 - p0
  let k = hash(`${seed}:${pos}`) % FILLER.length
  for (let i = 1; i < n; i++) {
    let alt = FILLER[k % FILLER.length]!
    k++
    if (alt === token) {
      alt = FILLER[k % FILLER.length]!
      k++
    }
    if (alt === token || top.some((t) => t.token === alt)) alt = `${alt.trim()}${i}`
    const p = rest / 2
    rest -= p
    top.push({ token: alt, logprob: Math.log(p), bytes: bytesOf(alt) })
  }
  return { ...chosen, top }
}

/** Chat shape of one position: `{token, logprob, bytes, top_logprobs: [...]}`. */
export const chatEntry = (p: PositionLogprobs) => ({ token: p.token, logprob: p.logprob, bytes: p.bytes, top_logprobs: p.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })) })

/** Completions shape of positions: `{text_offset, token_logprobs, tokens, top_logprobs}`; `offset0` = text offset of the first. */
export const completionLogprobs = (ps: ReadonlyArray<PositionLogprobs>, offset0: number) => {
  const text_offset: Array<number> = []
  let off = offset0
  for (const p of ps) {
    text_offset.push(off)
    off += p.token.length
  }
  return {
    text_offset,
    token_logprobs: ps.map((p) => p.logprob),
    tokens: ps.map((p) => p.token),
    top_logprobs: ps.map((p) => Object.fromEntries((p.top.length > 0 ? p.top : [p]).map((t) => [t.token, t.logprob])))
  }
}

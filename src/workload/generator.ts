/**
 * Built-in synthetic workload, shaped like vLLM's `bench serve` random dataset and arrival process:
 * inter-arrival gaps from a gamma distribution with shape `burstiness` and mean 1 / request rate
 * (burstiness 1 = Poisson; an infinite rate sends everything at t = 0), prompt and output lengths
 * fixed, uniform in [len x (1 - r), len x (1 + r)] (vLLM's --random-range-ratio), or lognormal with
 * median `len` and log-space sigma. A shared prefix of `prefixLen` tokens (vLLM's
 * --random-prefix-len) is put before every prompt: prompt = prefix + the drawn length, and the prefix
 * is the same tokens for every request (one shared PromptContent), so its full KV blocks hit the
 * prefix cache as they do in vLLM; the rest of each prompt is unique to its request.
 */
import { Stream } from "effect"
import type { Arrival } from "../engine/Engine.js"
import type { PromptContent } from "../memory/blockHash.js"
import { Rng } from "./Rng.js"

export type LengthDist = "fixed" | "uniform" | "lognormal"

export interface GeneratorSpec {
  readonly numRequests: number
  /** Requests per second; Infinity = all at t = 0. */
  readonly requestRate: number
  /** Gamma shape of inter-arrival gaps (1 = Poisson). */
  readonly burstiness: number
  readonly inputLen: number
  readonly outputLen: number
  readonly lengthDist: LengthDist
  /** Uniform spread: lengths in [len x (1 - r), len x (1 + r)]. */
  readonly rangeRatio: number
  /** Lognormal sigma of ln(length). */
  readonly lengthSigma: number
  /** Tokens of a prefix shared by every prompt, before the drawn prompt length (default 0). */
  readonly prefixLen?: number
  readonly seed: number
}

/**
 * The shared prefix's token ids: `n` ids in [0, 2^31) from their own seeded stream (so they do not
 * move the arrival and length draws), the same for every request of the workload.
 */
export const sharedPrefix = (n: number, seed: number): PromptContent => {
  const rng = new Rng((seed ^ 0x51ed2701) >>> 0)
  const ids = new Int32Array(n)
  for (let i = 0; i < n; i++) ids[i] = rng.nextU32() >>> 1
  return { kind: "tokens", ids }
}

/** One length drawn around `len` by the spec's distribution (fixed, uniform, lognormal), >= 1. */
export const drawLength = (rng: Rng, len: number, spec: Pick<GeneratorSpec, "lengthDist" | "rangeRatio" | "lengthSigma">): number => {
  switch (spec.lengthDist) {
    case "fixed":
      return len
    case "uniform": {
      const lo = Math.max(1, Math.floor(len * (1 - spec.rangeRatio)))
      const hi = Math.max(lo, Math.ceil(len * (1 + spec.rangeRatio)))
      return rng.int(lo, hi)
    }
    case "lognormal":
      return Math.max(1, Math.round(Math.exp(Math.log(len) + spec.lengthSigma * rng.normal())))
  }
}

/** The arrivals as a lazy iterable (deterministic for a given spec). */
export function* generateArrivals(spec: GeneratorSpec): Generator<Arrival> {
  const rng = new Rng(spec.seed)
  let t = 0
  const meanGapNs = 1e9 / spec.requestRate
  const prefixLen = spec.prefixLen ?? 0
  const content = prefixLen > 0 ? sharedPrefix(prefixLen, spec.seed) : undefined
  for (let i = 0; i < spec.numRequests; i++) {
    if (i > 0 && Number.isFinite(spec.requestRate)) {
      t += spec.burstiness === 1 ? rng.exponential(meanGapNs) : rng.gamma(spec.burstiness, meanGapNs / spec.burstiness)
    }
    const promptTokens = drawLength(rng, spec.inputLen, spec)
    const outputTokens = drawLength(rng, spec.outputLen, spec)
    yield content === undefined
      ? { arrivalNs: Math.round(t), promptTokens, outputTokens }
      : { arrivalNs: Math.round(t), promptTokens: prefixLen + promptTokens, outputTokens, content }
  }
}

/** The arrivals as a Stream; each run draws them afresh from the seed (the same arrivals every time). */
export const generatorStream = (spec: GeneratorSpec): Stream.Stream<Arrival> => Stream.suspend(() => Stream.fromIterable(generateArrivals(spec)))

/**
 * The serving front end: what lies between a client and the engine core, outside the GPU step.
 * vLLM's API server parses the HTTP request, renders and tokenizes the prompt and hands the request
 * to the engine core (ingress); each output token is detokenized and written to the client's stream
 * (egress). Both add to TTFT and E2E as a client measures them (`vllm bench serve` times from the
 * request's send); ITL and TPOT are unchanged (every token is delayed alike).
 *
 * Modelled as a delay per request, not as a queue: the API server's contention under high request
 * rates (vLLM tokenizes one request at a time on its event loop) is not modelled.
 *
 * Defaults, each from a published measurement:
 * - ingress 100 us per request: "the normal time for most tokenizer.encode calls is ~0.1ms"
 *   (vLLM PR #45759, which removed the micro-batching tokenizer for that reason). HTTP parsing and
 *   the hand-off to the engine core have no published figure and are not included: raise
 *   `--frontend-ingress-us` (or fit it) for your stack.
 * - tokenization 1 us per prompt token: "for concurrency=1, DGX H100's CPU can do about only about
 *   1k tokens/ms"; `tokenizer("hi " * 10000)` took 10.7 ms (vLLM issue #19012).
 * - egress 0 us per token: no published per-token figure; `--frontend-egress-us` sets one.
 */
import { Context, Effect, Layer, Option } from "effect"

/** The front end's parameters, us (as given on the command line). */
export interface FrontEndParams {
  /** Fixed time from a request's send to its arrival at the engine core, us. */
  readonly ingressUs: number
  /** Tokenization time per prompt token, us. */
  readonly tokenizeUsPerToken: number
  /** Time from the end of the step that produced a token to the client receiving it, us. */
  readonly egressUs: number
}

/** The defaults (sources in the module comment). */
export const DEFAULT_FRONT_END: FrontEndParams = { ingressUs: 100, tokenizeUsPerToken: 1, egressUs: 0 }

/** No front end: the engine sees a request when it is sent and the client a token when it is made. */
export const NO_FRONT_END: FrontEndParams = { ingressUs: 0, tokenizeUsPerToken: 0, egressUs: 0 }

/** The front end as the engine applies it, ns. */
export interface FrontEnd {
  readonly params: FrontEndParams
  /** Time from send to the engine core, ns (an integer), for a prompt of `promptTokens` tokens. */
  readonly ingressNs: (promptTokens: number) => number
  /** Time from a token's step end to the client, ns (an integer). */
  readonly egressNs: number
}

/** The front end of `p`, or undefined when it adds nothing (the engine then skips it entirely). */
export const makeFrontEnd = (p: FrontEndParams): FrontEnd | undefined => {
  if (p.ingressUs === 0 && p.tokenizeUsPerToken === 0 && p.egressUs === 0) return undefined
  const base = p.ingressUs * 1000
  const perToken = p.tokenizeUsPerToken * 1000
  return { params: p, ingressNs: (n) => Math.round(base + perToken * n), egressNs: Math.round(p.egressUs * 1000) }
}

/** FrontEndService: the front end in front of the engine (absent from a context = none). */
export class FrontEndService extends Context.Tag("FrontEndService")<FrontEndService, FrontEnd | undefined>() {
  /** The front end of `p`. */
  static readonly layer = (p: FrontEndParams) => Layer.succeed(FrontEndService, makeFrontEnd(p))
}

/** The front end in context, or none when no FrontEndService is provided (tests, the server). */
export const currentFrontEnd: Effect.Effect<FrontEnd | undefined> = Effect.map(
  Effect.serviceOption(FrontEndService),
  (o) => Option.getOrUndefined(o)
)

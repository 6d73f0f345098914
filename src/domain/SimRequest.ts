/**
 * One request inside the engine: mutable, one object per request for its whole life, updated in
 * place by the scheduler and the engine (no per-token allocation). Times are integer ns of
 * simulated time; -1 means "not yet".
 */
import type { PromptContent } from "../memory/blockHash.js"

export const enum RequestStatus {
  Waiting = 0,
  Running = 1,
  Finished = 2,
  Rejected = 3,
  /** Prefill done on a prefill instance; its KV is handed to a decode instance (disaggregation). */
  HandedOff = 4
}

export class SimRequest {
  /** Tokens whose KV is computed (vLLM `num_computed_tokens`). */
  numComputed = 0
  /** Output tokens generated so far. */
  numOutput = 0
  /** KV blocks held. */
  blocks = 0
  /** Prefix caching: ids of the known-content KV blocks held, in token order (see KvCache). */
  blockTable: Int32Array | undefined = undefined
  /** Prefix caching: free-queue entry of its own blocks after a preemption, or -1. */
  ownRun = -1
  /** Prefix caching: hash lanes of its full blocks computed so far. */
  hashes: Array<number> | undefined = undefined
  /** Prefix caching: leading blocks already offered to the cache. */
  cachedBlocks = 0
  /** Prompt tokens whose KV came from the prefix cache, summed over its admissions. */
  cachedPromptTokens = 0
  status: RequestStatus = RequestStatus.Waiting
  /**
   * When the engine core receives it: the arrival (client send) plus the front end's ingress
   * (HTTP, tokenization; frontend/FrontEnd.ts). Routing, queueing and rejection happen here.
   */
  queuedNs: number
  /** The front end's delay from a token's step end to the client, ns (0 without a front end). */
  egressNs = 0
  /** Start of the first step that scheduled it. */
  firstScheduledNs = -1
  /** End of the step that produced its first output token. */
  firstTokenNs = -1
  /** End of the step that produced its latest output token. */
  lastTokenNs = -1
  /** Time it finished (= last token) or was rejected. */
  finishNs = -1
  /** Times it was preempted (recompute, or swap with --preemption-mode swap). */
  preemptions = 0
  /** --preemption-mode swap: KV blocks of it held in host swap space while it waits (0 = none). */
  swappedBlocks = 0
  /** Instance it was routed to (with disaggregation: the decode instance). */
  instance = 0
  /** Name of the pool of `instance`. */
  pool = "default"
  /** Disaggregation: the prefill instance that computed its prompt, or -1. */
  prefillInstance = -1
  /** Disaggregation: the same request on the other side (prefill <-> decode), or undefined. */
  peer: SimRequest | undefined = undefined
  /** Disaggregation: end of the step that completed its prefill on the prefill instance, or -1. */
  prefillDoneNs = -1
  /** Disaggregation: when the decode instance reserved KV blocks for it, or -1. */
  kvReservedNs = -1
  /** Disaggregation: start and end of its KV transfer, or -1. */
  kvTransferStartNs = -1
  kvTransferEndNs = -1
  /**
   * Closed-loop client (--max-concurrency): time it waited at the client for a free slot, from its
   * scheduled arrival to its send (= `arrivalNs`), ns; -1 when no client limit was modelled.
   */
  clientQueueNs = -1
  /**
   * Its place in the running order (scheduler/RunningSet.ts): increasing with each entry into an
   * instance's running set, so running requests sorted by it are in vLLM's running-list order.
   */
  runSeq = 0
  /**
   * While in a decode cohort (scheduler/DecodeCohort.ts): `numComputed` minus the cohort's step
   * counter (its computed tokens are this plus the counter, which the fields above lag behind).
   */
  decodeBase = 0
  /** While in a decode cohort: the value of the cohort's step counter in the step that gives its last token. */
  finishStep = 0
  /**
   * Scheduling priority (vLLM's request `priority`: lower is served first under
   * --scheduling-policy priority; default 0). From the trace's `priority` field, the API body, or
   * drawn under --priority-levels (scheduler/policies/priority.ts).
   */
  priority = 0
  /**
   * LoRA adapter it runs with (--enable-lora): 1..n, an index into the served adapters
   * (domain/LoraConfig.ts) plus one; 0 = the base model. Part of its prefix-cache key, as in vLLM.
   */
  lora = 0
  /** Index in its decode cohort's finish queue, or -1 when not in a cohort (its fields are then current). */
  cohortPos = -1

  constructor(
    /** Position in the arrival stream, from 0. */
    readonly id: number,
    /** When the client sent it, ns (TTFT and E2E count from here). */
    readonly arrivalNs: number,
    readonly promptTokens: number,
    /** Output tokens it will generate (max_tokens with ignore_eos, or the trace's length). */
    readonly outputTokens: number,
    /** What is known of the prompt's tokens, for prefix-cache hits; undefined = unique. */
    readonly content: PromptContent | undefined = undefined
  ) {
    this.queuedNs = arrivalNs
  }

  /** Tokens known so far: prompt plus generated (vLLM `num_tokens`). */
  get numTokens(): number {
    return this.promptTokens + this.numOutput
  }
}

/** TTFT as the client sees it: first token's step end + egress - send, ns. */
export const ttftNs = (r: SimRequest): number => r.firstTokenNs + r.egressNs - r.arrivalNs

/** E2E latency as the client sees it: last token's step end + egress - send, ns. */
export const e2eNs = (r: SimRequest): number => r.finishNs + r.egressNs - r.arrivalNs

/**
 * SchedulerService: the batching policy. It hands out one Scheduler per instance (each with its
 * own waiting queue, running list and KV cache), so instances stay independent values.
 */
import { Context, Effect, Layer } from "effect"
import { ConfigService } from "../config/ConfigService.js"
import type { EngineConfig } from "../domain/EngineConfig.js"
import type { SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"
import type { RunningSet } from "./RunningSet.js"
import type { StepPlan } from "./StepPlan.js"
import type { SwapSpace, SwapSpec } from "./SwapSpace.js"
import { kvBytesPerTokenPerGpu } from "../memory/capacity.js"
import type { SimConfig } from "../domain/SimConfig.js"
import type { WaitingQueue } from "./WaitingQueue.js"
import { policyFor } from "./policies/index.js"

/** One instance's batching state and policy: its waiting queue, running set and KV cache. */
export interface Scheduler {
  readonly name: string
  /**
   * Whether decoders may be held lazily in the running set's decode cohort (scheduler/
   * DecodeCohort.ts), which the engine's fast-forward needs. Only vLLM FCFS (vllmV1.ts) schedules
   * the cohort; the other policies step every request explicitly.
   */
  readonly decodeCohort: boolean
  readonly waiting: WaitingQueue<SimRequest>
  /** The running requests (decoders possibly held lazily in its cohort: see RunningSet). */
  readonly running: RunningSet
  readonly kv: KvCache
  /** Queue an arrived request. */
  readonly enqueue: (r: SimRequest) => void
  /**
   * Put a request whose KV blocks are already held (a decode instance's request whose KV arrived
   * from a prefill instance) straight into the running list, as vLLM does once a remote KV load
   * finishes.
   */
  readonly adoptRunning: (r: SimRequest) => void
  /**
   * Decide the step starting at `now` (ns): fills `plan`, allocates KV blocks, advances
   * `numComputed` of the scheduled requests, preempts when blocks run out (calling `onPreempt`).
   * The decode cohort is scheduled whole (`plan.cohort`; its KV blocks taken, its counter not yet
   * advanced: the engine does that when it applies the step) or first dissolved.
   */
  readonly schedule: (now: number, plan: StepPlan, onPreempt?: (r: SimRequest, now: number) => void) => void
  /** Drop from the explicit running list the requests that finished or joined the cohort (after the engine applied a step). */
  readonly removeFinished: () => void
  /** Remove a waiting or running request and free its blocks (client abort); false if not found. */
  readonly abort: (r: SimRequest) => boolean
  readonly hasWork: () => boolean
  /** --enable-lora: waiting requests set aside because their adapter would exceed --max-loras, so far (vLLM FCFS only). */
  readonly loraSkips?: number
  /** --preemption-mode swap: the host swap space (its copies are added to the step's time). */
  readonly swap?: SwapSpace | undefined
}

/** A named batching policy: makes one Scheduler per instance over that instance's KV cache. */
export interface SchedulerPolicy {
  readonly name: string
  readonly make: (kv: KvCache) => Scheduler
}

export class SchedulerService extends Context.Tag("llmservingsim/SchedulerService")<SchedulerService, SchedulerPolicy>() {
  /**
   * The configured `--scheduling-policy` (scheduler/policies/; default fcfs = vLLM V1) with the
   * configured engine flags.
   */
  static readonly vllmV1: Layer.Layer<SchedulerService, never, ConfigService> = Layer.effect(
    SchedulerService,
    Effect.map(ConfigService, (cfg) => policyFor(cfg.engine, cfg.seed, swapSpec(cfg)))
  )

  /** The policy of explicit engine settings (tests; `seed` for --priority-levels draws). */
  static readonly vllmV1With = (e: EngineConfig, swap?: SwapSpec, seed = 0): Layer.Layer<SchedulerService> => Layer.succeed(SchedulerService, policyFor(e, seed, swap))
}

/**
 * The swap space of `cfg` (--preemption-mode swap), or undefined: --swap-space GiB per GPU (vLLM V0's
 * `swap_space`, per GPU) in blocks of one GPU's KV share, copied at half the host link's datasheet
 * `hostLinkGBs` (one direction).
 */
export const swapSpec = (cfg: SimConfig): SwapSpec | undefined => {
  const e = cfg.engine
  const link = cfg.hardware.hostLinkGBs
  if (e.preemptionMode !== "swap" || link === undefined) return undefined
  const blockBytes = kvBytesPerTokenPerGpu(cfg.model, e) * e.blockSize
  return { capacityBlocks: Math.floor(((e.swapSpace ?? 4) * 2 ** 30) / blockBytes), nsPerBlock: (blockBytes / ((link / 2) * 1e9)) * 1e9 }
}

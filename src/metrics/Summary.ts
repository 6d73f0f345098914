import type { LoraStats } from "../lora/LoraStats.js"
import type { EnergySummary } from "../energy/EnergyMeter.js"

/**
 * The result of a run, with the key names of vLLM's `bench serve --save-result` JSON
 * (vllm/benchmarks/serve.py) plus simulator fields. Times in ms, durations in s,
 * throughputs per second of simulated time.
 */
import type { SessionStats } from "../engine/SessionClient.js"
import type { GoodputSummary } from "./goodput.js"
import type { specDecodeJson } from "../engine/SpecDecoder.js"
export interface Summary {
  readonly completed: number
  readonly rejected: number
  readonly total_input_tokens: number
  readonly total_output_tokens: number
  /** First arrival to last finish, s. */
  readonly duration: number
  readonly request_throughput: number
  readonly output_throughput: number
  readonly total_token_throughput: number
  readonly mean_ttft_ms: number
  readonly median_ttft_ms: number
  readonly std_ttft_ms: number
  readonly p90_ttft_ms: number
  readonly p95_ttft_ms: number
  readonly p99_ttft_ms: number
  readonly mean_tpot_ms: number
  readonly median_tpot_ms: number
  readonly std_tpot_ms: number
  readonly p90_tpot_ms: number
  readonly p95_tpot_ms: number
  readonly p99_tpot_ms: number
  readonly mean_itl_ms: number
  readonly median_itl_ms: number
  readonly std_itl_ms: number
  readonly p90_itl_ms: number
  readonly p95_itl_ms: number
  readonly p99_itl_ms: number
  readonly mean_e2el_ms: number
  readonly median_e2el_ms: number
  readonly std_e2el_ms: number
  readonly p90_e2el_ms: number
  readonly p95_e2el_ms: number
  readonly p99_e2el_ms: number
  /** Closed loop (--max-concurrency) only: the limit. */
  readonly max_concurrency?: number
  /**
   * Closed loop only: time each finished request waited at the client for a slot (send - scheduled
   * arrival), ms: mean, median, std, p90, p95, p99 (vLLM bench `*_client_queue_time_ms`).
   */
  readonly mean_client_queue_time_ms?: number
  readonly median_client_queue_time_ms?: number
  readonly std_client_queue_time_ms?: number
  readonly p90_client_queue_time_ms?: number
  readonly p95_client_queue_time_ms?: number
  readonly p99_client_queue_time_ms?: number
  /**
   * Closed loop with arrivals spread in time (not --request-rate inf) only: E2E plus client queue
   * time, ms (vLLM bench `*_e2el_including_client_queue_ms`).
   */
  readonly mean_e2el_including_client_queue_ms?: number
  readonly median_e2el_including_client_queue_ms?: number
  readonly std_e2el_including_client_queue_ms?: number
  readonly p90_e2el_including_client_queue_ms?: number
  readonly p95_e2el_including_client_queue_ms?: number
  readonly p99_e2el_including_client_queue_ms?: number
  readonly num_preemptions: number
  readonly kv_cache_blocks: number
  /** Prompt tokens looked up in the prefix cache at first admission (vLLM prefix_cache_queries). */
  readonly prefix_cache_queries: number
  /** Of those, tokens found cached (vLLM prefix_cache_hits). */
  readonly prefix_cache_hits: number
  /** hits / queries (0 without lookups), as vLLM's prefix-cache hit rate. */
  readonly prefix_cache_hit_rate: number
  /** Tokens looked up when requests were admitted again after a preemption (vLLM preempted_queries). */
  readonly prefix_cache_preempted_queries: number
  /** Of those, tokens found cached: mostly the request's own blocks (vLLM preempted_hits). */
  readonly prefix_cache_preempted_hits: number
  readonly seed: number
  /** Engine steps executed (all instances). */
  readonly num_steps: number
  /** Most requests in flight (arrived, not finished) at once. */
  readonly max_concurrent_requests: number
  /** Rejected requests with their reasons (first 100). */
  readonly rejections: ReadonlyArray<{ readonly id: number; readonly reason: string }>
  /**
   * CPU KV offloading only (--kv-offloading-size; memory/CpuKvTier.ts), summed over instances:
   * blocks stored to / loaded from / evicted from host memory, tokens found there (`hit_tokens`, not
   * in prefix_cache_hits, which counts the GPU cache as vLLM's does), their share of the prefix-cache
   * queries, and the load time added to steps.
   */
  readonly kv_offload?: {
    readonly backend: "native"
    readonly size_gib: number
    readonly host_blocks_per_instance: number
    readonly stored_blocks: number
    readonly loaded_blocks: number
    readonly evicted_blocks: number
    readonly hit_tokens: number
    readonly hit_rate: number
    readonly load_time_s: number
  }
  /**
   * --preemption-mode swap only (scheduler/SwapSpace.ts), summed over instances: swap-outs and
   * swap-ins, blocks copied each way, the most blocks held at once by one instance's swap space
   * (never above `capacity_blocks`), preemptions that fell back to recompute for lack of swap space,
   * and the copy time added to steps.
   */
  readonly swap?: {
    readonly swap_space_gib: number
    readonly capacity_blocks: number
    readonly swap_outs: number
    readonly swap_ins: number
    readonly blocks_out: number
    readonly blocks_in: number
    readonly peak_blocks: number
    readonly recompute_fallbacks: number
    readonly copy_time_s: number
  }
  /** --goodput only (metrics/goodput.ts): good requests per second, vLLM bench's key. */
  readonly request_goodput?: number
  readonly goodput?: GoodputSummary["goodput"]
  /** Multi-turn session workloads only (engine/SessionClient.ts). */
  readonly sessions?: SessionStats
  /** With --energy only: GPU energy and power (energy/EnergyMeter.ts). */
  readonly energy?: EnergySummary
  /** Speculative decoding only (--speculative-config): vLLM's spec-decode metrics (engine/SpecDecoder.ts). */
  readonly spec_decode?: ReturnType<typeof specDecodeJson>
  /** --enable-lora: adapters, loads and their stalls, LoRA kernel time (lora/LoraStats.ts). */
  readonly lora?: ReturnType<LoraStats["json"]>
  /** What was simulated. */
  readonly config: Record<string, unknown>
}

/**
 * LoRA serving settings, as vLLM takes them (vllm/config/lora.py `LoRAConfig`, engine args
 * `--enable-lora`, `--max-loras`, `--max-lora-rank`, `--max-cpu-loras`, `--lora-modules`), plus the
 * simulator's `storageGBs`: how fast an adapter not cached in host memory is read from storage.
 * Absent from EngineConfig = LoRA off (the default run is unchanged).
 */

/** One served adapter: `--lora-modules NAME` (rank = --max-lora-rank) or `NAME=PATH` (rank from PATH/adapter_config.json). */
export interface LoraAdapter {
  readonly name: string
  /** Its rank r (PEFT `r`), <= maxLoraRank. */
  readonly rank: number
  /** The adapter directory, when given (its adapter_config.json gave `rank`). */
  readonly path?: string
}

export interface LoraConfig {
  /** Adapters one batch may use at once, and GPU slots holding them (vLLM `max_loras`, default 1). */
  readonly maxLoras: number
  /** Rank every GPU slot is sized and computed at (vLLM `max_lora_rank`, default 16). */
  readonly maxLoraRank: number
  /** Adapters kept in host memory, LRU (vLLM `max_cpu_loras`, default `max_loras`). */
  readonly maxCpuLoras: number
  /** The served adapters; a request names one of them (ids 1..n in this order) or the base model. */
  readonly adapters: ReadonlyArray<LoraAdapter>
  /** Storage read bandwidth for an adapter not in the host cache, GB/s (`--lora-storage-gbps`). */
  readonly storageGBs: number
}

/** vLLM's accepted `max_lora_rank` values (vllm/config/lora.py `MaxLoRARanks`). */
export const MAX_LORA_RANKS = [1, 8, 16, 32, 64, 128, 256, 320, 512] as const

/**
 * Default `--lora-storage-gbps`: the PCIe 4.0 x4 interface ceiling of an NVMe drive, 16 GT/s x 4
 * lanes x 128b/130b / 8 = 7.88 GB/s (PCI Express Base Specification 4.0). An upper bound for a local
 * Gen4 SSD: a file already in the page cache loads faster, network storage slower.
 */
export const DEFAULT_LORA_STORAGE_GBS = 7.88

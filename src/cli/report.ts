/** The console report of a run, laid out like vLLM's `bench serve` result block. */
import type { ClusterConfig } from "../domain/Cluster.js"
import type { SimulationResult } from "../engine/simulate.js"

const line = (label: string, value: string) => `${label.padEnd(40)}${value}`
const f2 = (x: number) => x.toFixed(2)
/** Python's "{s:{c}^{n}}" (vLLM's section headers). */
const center = (s: string, n: number, c: string) => {
  const pad = Math.max(0, n - s.length)
  const left = Math.floor(pad / 2)
  return c.repeat(left) + s + c.repeat(pad - left)
}

/** One row per pool: role, instances, hardware, parallelism, KV blocks, requests, utilisation and latencies. */
const poolTable = (cluster: ClusterConfig, res: SimulationResult): Array<string> => {
  const rows = (res.summary as unknown as { pools: ReadonlyArray<Record<string, unknown>> }).pools
  const header = ["pool", "role", "inst", "hardware", "TP", "KV blocks", "done", "util %", "TTFT ms", "TPOT ms", "p99 E2E ms"]
  const cells = rows.map((p, i) => {
    const c = cluster.pools[i]!.config
    // one pool: summary.json leaves its latencies out (they are the run's), the table shows the run's
    const run = res.summary as unknown as Record<string, unknown>
    const n = (k: string) => {
      const v = p[k] ?? (rows.length === 1 && p.role !== "prefill" ? run[k] : undefined)
      return typeof v === "number" ? f2(v) : "-"
    }
    return [String(p.pool), String(p.role), String(p.instances), c.hardware.name, String(c.engine.tensorParallelSize), String(p.kv_cache_blocks),
      String(p.role === "prefill" ? p.prefilled : p.completed), f2(100 * (p.utilization as number)), n("mean_ttft_ms"), n("mean_tpot_ms"), n("p99_e2el_ms")]
  })
  const width = header.map((h, j) => Math.max(h.length, ...cells.map((r) => r[j]!.length)))
  const fmt = (r: ReadonlyArray<string>) => r.map((x, j) => j < 4 ? x.padEnd(width[j]!) : x.padStart(width[j]!)).join("  ")
  return [center(" Pools ", 51, "-"), fmt(header), ...cells.map(fmt)]
}

export const formatReport = (cluster: ClusterConfig, res: SimulationResult, workload: string): string => {
  const s = res.summary
  const cap = res.capacity
  const cfg = cluster.pools[0]!.config
  const single = cluster.pools.length === 1
  const out: Array<string> = []
  out.push(center(" Simulation Result ", 51, "="))
  out.push(line("Model:", cfg.model.id))
  if (single) {
    out.push(line("Hardware:", `${cfg.hardware.name} (${cfg.hardware.fullName})` + (cfg.numInstances > 1 ? ` x ${cfg.numInstances} instances` : "")))
  } else {
    out.push(line("Cluster:", cluster.pools.map((p) => `${p.instances} x ${p.role} ${p.config.hardware.name}`).join(" + ")))
  }
  out.push(line("Workload:", workload))
  out.push(line("Perf model:", res.perfModel))
  if (single) out.push(line("KV cache:", `${cap.numBlocks} blocks x ${cap.blockSize} tokens` + (cap.overridden ? " (override)" : ` (${(cap.numBlocks * cap.blockBytes / 1e9).toFixed(2)} GB)`)))
  out.push(line("Successful requests:", String(s.completed)))
  out.push(line("Rejected requests:", String(s.rejected)))
  if (s.max_concurrency !== undefined) out.push(line("Maximum request concurrency:", String(s.max_concurrency)))
  if (s.request_goodput !== undefined && s.goodput !== undefined) {
    out.push(line("Request goodput (req/s):", f2(s.request_goodput)))
    out.push(line("SLO attainment (%):", f2(s.goodput.attainment.all * 100)))
  }
  if (s.kv_offload !== undefined) {
    const x = s.kv_offload
    out.push(line("KV offload hit rate (%):", f2(x.hit_rate * 100)))
    out.push(line("KV offload blocks loaded / stored:", `${x.loaded_blocks} / ${x.stored_blocks} (load time ${f2(x.load_time_s)} s)`))
  }
  if (s.swap !== undefined) {
    const x = s.swap
    out.push(line("Swap-outs / swap-ins:", `${x.swap_outs} / ${x.swap_ins} (${x.recompute_fallbacks} recomputed for lack of swap space; copies ${f2(x.copy_time_s)} s)`))
  }
  if (s.sessions !== undefined) {
    const x = s.sessions
    out.push(line("Sessions (completed/truncated/failed):", `${x.num_sessions} (${x.completed}/${x.truncated}/${x.failed})`))
    out.push(line("Turns per session (mean):", f2(x.mean_turns_per_session)))
    out.push(line("Session duration (mean, s):", f2(x.mean_session_duration_s)))
  }
  out.push(line("Benchmark duration (s):", f2(s.duration)))
  out.push(line("Total input tokens:", String(s.total_input_tokens)))
  out.push(line("Total generated tokens:", String(s.total_output_tokens)))
  out.push(line("Request throughput (req/s):", f2(s.request_throughput)))
  out.push(line("Output token throughput (tok/s):", f2(s.output_throughput)))
  out.push(line("Total token throughput (tok/s):", f2(s.total_token_throughput)))
  out.push(line("Preemptions:", String(s.num_preemptions)))
  if (cfg.engine.enablePrefixCaching) out.push(line("Prefix cache hit rate (%):", f2(100 * s.prefix_cache_hit_rate)))
  out.push(line("Engine steps:", String(s.num_steps)))
  const block = (title: string, key: "ttft" | "tpot" | "itl" | "e2el" | "client_queue_time" | "e2el_including_client_queue", name: string) => {
    const g = (p: string) => (s as unknown as Record<string, number>)[`${p}_${key}_ms`]!
    out.push(center(title, 51, "-"))
    out.push(line(`Mean ${name} (ms):`, f2(g("mean"))))
    out.push(line(`Median ${name} (ms):`, f2(g("median"))))
    out.push(line(`P90 ${name} (ms):`, f2(g("p90"))))
    out.push(line(`P99 ${name} (ms):`, f2(g("p99"))))
  }
  block("Time to First Token", "ttft", "TTFT")
  block("Time per Output Token (excl. 1st token)", "tpot", "TPOT")
  block("Inter-token Latency", "itl", "ITL")
  block("End-to-end Latency", "e2el", "E2EL")
  // vLLM bench's sections of a --max-concurrency run
  if (s.mean_client_queue_time_ms !== undefined) block("Client-side Queueing", "client_queue_time", "Client Queue Time")
  if (s.mean_e2el_including_client_queue_ms !== undefined) block("Queue-inclusive End-to-end Latency", "e2el_including_client_queue", "E2EL incl. Client Queue")
  if (s.spec_decode !== undefined) {
    // vLLM bench serve's "Speculative Decoding" section
    const x = s.spec_decode
    out.push(center("Speculative Decoding", 51, "-"))
    out.push(line("Method (k):", `${x.method} (${x.num_speculative_tokens})`))
    out.push(line("Acceptance rate (%):", f2(100 * x.draft_acceptance_rate)))
    out.push(line("Acceptance length:", f2(x.mean_acceptance_length)))
    out.push(line("Drafts:", String(x.num_drafts)))
    out.push(line("Draft tokens:", String(x.num_draft_tokens)))
    out.push(line("Accepted tokens:", String(x.num_accepted_tokens)))
    out.push(line("Per-position acceptance (%):", x.per_position_acceptance_rate.map((r) => f2(100 * r)).join(", ")))
  }
  if (s.lora !== undefined) {
    const x = s.lora
    out.push(center(" LoRA (--enable-lora) ", 51, "-"))
    out.push(line("Adapters (max_loras, max_cpu_loras):", `${x.adapters.length} (${x.max_loras}, ${x.max_cpu_loras})`))
    out.push(line("Adapter loads (from storage):", `${x.gpu_loads} (${x.storage_loads})`))
    out.push(line("Load stalls: steps, total (s):", `${x.stalled_steps}, ${x.load_stall_s.toFixed(3)}`))
    out.push(line("LoRA kernel time (s):", x.lora_kernel_s.toFixed(3)))
    out.push(line("Set aside by max_loras (req x steps):", String(x.max_loras_skips)))
    const ttfts = x.adapters.filter((a) => a.mean_ttft_ms !== null).map((a) => a.mean_ttft_ms!)
    if (ttfts.length > 0) out.push(line("Mean TTFT per adapter, min..max (ms):", `${f2(Math.min(...ttfts))}..${f2(Math.max(...ttfts))}`))
  }
  if (!single || cfg.numInstances > 1) out.push(...poolTable(cluster, res))
  if (s.energy !== undefined) {
    out.push(center(" Energy (--energy) ", 51, "-"))
    out.push(line("GPUs:", String(s.energy.gpus)))
    out.push(line("Total energy (J):", f2(s.energy.total_j)))
    out.push(line("  of which idle (J):", f2(s.energy.idle_j)))
    out.push(line("Average power, all GPUs (W):", f2(s.energy.avg_power_w)))
    out.push(line("Energy per request (J):", f2(s.energy.per_request_j)))
    out.push(line("Energy per output token (J):", s.energy.per_output_token_j.toFixed(4)))
  }
  out.push("=".repeat(51))
  if (s.rejections.length > 0) out.push(`first rejection: request ${s.rejections[0]!.id}: ${s.rejections[0]!.reason}`)
  return out.join("\n")
}

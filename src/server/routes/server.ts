/** The server routes: `/health`, `/version`, `/metrics` (Prometheus text) and `/status`. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import type { SimConfig } from "../../config/ConfigService.js"
import { ServeApi } from "../Api.js"
import { SERVER_VERSION, ServeContext, type ServeState } from "../ServeContext.js"

export const ServerLive = HttpApiBuilder.group(ServeApi, "server", (handlers) =>
  handlers
    .handleRaw("health", () => Effect.succeed(HttpServerResponse.empty({ status: 200 })))
    .handle("version", () => Effect.succeed({ version: SERVER_VERSION }))
    .handleRaw("metrics", () =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        const text = yield* Effect.promise(() => st.metrics.text())
        return HttpServerResponse.text(text, { contentType: st.metrics.registry.contentType })
      }))
    .handle("status", () =>
      Effect.gen(function*() {
        const st = yield* ServeContext
        const l = st.engine.load()
        const blockBytes = kvBlockBytes(st.config)
        return {
          pending: l.pending,
          waiting: l.waiting,
          running: l.running,
          completed: l.completed,
          kv_blocks_used: l.kvUsed,
          kv_blocks_total: l.kvTotal,
          kv_memory_used_bytes: l.kvUsed * blockBytes,
          kv_memory_total_bytes: l.kvTotal * blockBytes,
          sim_time_s: (yield* st.engine.simNow) / 1e9,
          time_scale: st.engine.timeScale,
          delivery_lag_mean_ms: l.deliveryLagMeanMs,
          delivery_lag_max_ms: l.deliveryLagMaxMs,
          delivery_lag_ms: l.deliveryLagMs,
          ...(st.loraCounters === undefined ? {} : { lora: loraStatus(st) })
        }
      }))
)

/** Bytes of one KV block: 2 x layers x kv heads x head dim x dtype bytes x block size, per TP shard. */
const kvBlockBytes = (cfg: SimConfig): number => {
  const m = cfg.model
  return (2 * m.layers * m.kvHeads * m.headDim * cfg.engine.kvCacheDtypeBytes * cfg.engine.blockSize) / Math.min(cfg.engine.tensorParallelSize, m.kvHeads)
}


/** /status's `lora` section: the adapters open requests run and wait with, and the loads so far. */
const loraStatus = (st: ServeState) => {
  const names = st.config.engine.lora?.adapters.map((a) => a.name) ?? []
  const a = st.engine.loraActivity()
  const c = st.loraCounters!
  const of = (ids: ReadonlySet<number>) => [...ids].sort((x, y) => x - y).map((i) => names[i - 1]!)
  return {
    running_adapters: of(a.running), waiting_adapters: of(a.waiting),
    gpu_loads: c.gpuLoads, storage_loads: c.storageLoads, load_stall_s: c.loadNs / 1e9, lora_kernel_s: c.kernelNs / 1e9
  }
}

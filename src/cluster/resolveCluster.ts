/**
 * From a cluster file and the command line's engine flags to a ClusterConfig: each pool's flags
 * resolved like `simulate`'s (`resolveConfig`), with every error pointed at the file and field that
 * caused it. Prefill and decode pools must serve the same model (their KV must match).
 */
import { Effect } from "effect"
import { type ConfigError, type EngineFlags, resolveConfig } from "../config/resolve.js"
import type { ClusterConfig, PoolConfig } from "../domain/Cluster.js"
import { type FileError, InputError, InvalidOption } from "../domain/errors.js"
import { ROUTER_POLICIES, type RouterPolicy, type RouterSpec } from "./RouterSpec.js"
import { poolDrafts, readClusterFile } from "./ClusterFile.js"

/** Point a pool's configuration error at the file: the field that set the flag, else the pool. */
const retarget = (file: string, i: number, fieldOf: ReadonlyMap<string, string>) => (e: ConfigError): ConfigError => {
  if (e._tag === "InvalidOption") {
    const field = fieldOf.get(e.option)
    if (field !== undefined) return new InputError({ path: file, field, expected: e.reason.replace(/^expected /, "") })
    return new InvalidOption({ option: `${e.option} (in ${file}: pools.${i})`, reason: e.reason })
  }
  if (e._tag === "UnknownName") {
    const field = fieldOf.get(`--${e.kind}`)
    return new InvalidOption({ option: `${file}: ${field ?? `pools.${i}`}`, reason: e.message })
  }
  if (e._tag === "NoKvMemory") return new InvalidOption({ option: `${file}: pools.${i}`, reason: e.reason })
  return e
}

const checkRouter = (file: string, field: string, v: string | undefined): Effect.Effect<void, InputError> =>
  v === undefined || (ROUTER_POLICIES as ReadonlyArray<string>).includes(v)
    ? Effect.void
    : Effect.fail(new InputError({ path: file, field, expected: `one of ${ROUTER_POLICIES.join(", ")}`, got: JSON.stringify(v) }))

/**
 * Read `file` and resolve its pools over `base`; `router` is the command line's router (the file's
 * `router` wins). Fails with FileError, InputError (naming the field) or the pool's ConfigError.
 */
export const resolveCluster = (file: string, base: EngineFlags, router: RouterPolicy | RouterSpec): Effect.Effect<ClusterConfig, ConfigError | FileError | InputError> =>
  Effect.gen(function*() {
    if (base.numInstances !== undefined || base.dataParallelSize !== undefined) {
      const flag = base.numInstances !== undefined ? "--num-instances" : "--data-parallel-size"
      return yield* new InvalidOption({ option: flag, reason: `not with --cluster-config (${file} sets each pool's instances)` })
    }
    const f = yield* readClusterFile(file)
    yield* checkRouter(file, "router", f.router)
    yield* checkRouter(file, "decode_router", f.decode_router)
    const drafts = yield* poolDrafts(file, f, base)
    const pools: Array<PoolConfig> = []
    for (const [i, d] of drafts.entries()) {
      const config = yield* resolveConfig({ ...d.flags, numInstances: d.instances }).pipe(Effect.mapError(retarget(file, i, d.fieldOf)))
      pools.push({ name: d.name, role: d.role, instances: d.instances, config })
    }
    const disagg = pools.filter((p) => p.role !== "colocated")
    const models = new Set(disagg.map((p) => p.config.model.id))
    if (models.size > 1) {
      return yield* new InputError({ path: file, field: "pools", expected: `prefill and decode pools serving one model (their KV cache moves between them; got ${[...models].join(", ")})` })
    }
    const entry = (f.router as RouterPolicy | undefined) ?? router
    return {
      pools,
      router: entry,
      decodeRouter: (f.decode_router as RouterPolicy | undefined) ?? entry,
      kvTransfer: { crossNode: f.kv_transfer?.cross_node ?? true, layerwise: (f.kv_transfer?.mode ?? "whole") === "layerwise" },
      source: file
    } satisfies ClusterConfig
  })

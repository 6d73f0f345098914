/**
 * From a cluster file and the command line's engine flags to a ClusterConfig: each pool's flags
 * resolved like `simulate`'s (`resolveConfig`), with every error pointed at the file and field that
 * caused it. Prefill and decode pools must serve the same model (their KV must match).
 */
import { Effect } from "effect"
import { type ConfigError, type EngineFlags, resolveConfig } from "../config/resolve.js"
import type { ClusterConfig, PoolConfig } from "../domain/Cluster.js"
import { type FileError, InputError, InvalidOption } from "../domain/errors.js"
import { checkRouterSpec, DEFAULT_CACHE_AWARE, DEFAULT_ROUTER_WEIGHTS, ROUTER_POLICIES, type RouterFlags, routerFlagsGiven, routerOf, type RouterSpec } from "./RouterSpec.js"
import { poolDrafts, readClusterFile, type RouterFile } from "./ClusterFile.js"

/** Point a pool's configuration error at the file: the field that set the flag, else the pool. */
const retarget = (file: string, i: number, fieldOf: ReadonlyMap<string, string>) => (e: ConfigError): ConfigError => {
  if (e._tag === "InvalidOption") {
    const field = fieldOf.get(e.option)
    if (field !== undefined) {
      return new InputError({ path: file, field, expected: e.reason.startsWith("expected ") ? e.reason.slice(9) : `a valid value (${e.reason})` })
    }
    return new InvalidOption({ option: `${e.option} (in ${file}: pools.${i})`, reason: e.reason })
  }
  if (e._tag === "UnknownName") {
    const field = fieldOf.get(`--${e.kind}`)
    return new InvalidOption({ option: `${file}: ${field ?? `pools.${i}`}`, reason: e.message })
  }
  if (e._tag === "NoKvMemory") return new InvalidOption({ option: `${file}: pools.${i}`, reason: e.reason })
  if (e._tag === "FileError" && e.path !== file) {
    const field = [...fieldOf.entries()].find(([flag]) => flag === "--hardware" || flag === "--model" || flag === "--perf-model" || flag === "--network")
    return new InvalidOption({ option: `${file}: ${field?.[1] ?? `pools.${i}`}`, reason: e.message })
  }
  return e
}

/** A router of the file as a checked spec; fails with InputError naming the field. */
const routerOfFile = (file: string, field: string, r: RouterFile): Effect.Effect<RouterSpec, InputError> => {
  const o = typeof r === "string" ? { policy: r } : r
  if (!(ROUTER_POLICIES as ReadonlyArray<string>).includes(o.policy)) {
    return Effect.fail(new InputError({ path: file, field: typeof r === "string" ? field : `${field}.policy`, expected: `one of ${ROUTER_POLICIES.join(", ")}`, got: JSON.stringify(o.policy) }))
  }
  const given = typeof r !== "string" && r.weights !== undefined
  const weights = typeof r === "string" || r.weights === undefined ? DEFAULT_ROUTER_WEIGHTS
    : { queue: r.weights.queue ?? 0, kv: r.weights.kv ?? 0, prefix: r.weights.prefix ?? 0 }
  const ca: { readonly cache_threshold?: number | undefined; readonly balance_abs_threshold?: number | undefined; readonly balance_rel_threshold?: number | undefined } =
    typeof r === "string" ? {} : r
  const caGiven = [ca.cache_threshold, ca.balance_abs_threshold, ca.balance_rel_threshold].some((v) => v !== undefined)
  const cacheAware = {
    cacheThreshold: ca.cache_threshold ?? DEFAULT_CACHE_AWARE.cacheThreshold,
    balanceAbs: ca.balance_abs_threshold ?? DEFAULT_CACHE_AWARE.balanceAbs,
    balanceRel: ca.balance_rel_threshold ?? DEFAULT_CACHE_AWARE.balanceRel
  }
  const s = checkRouterSpec({ policy: o.policy, weights, cacheAware, stalenessMs: typeof r === "string" ? 0 : r.staleness_ms ?? 0 }, given, caGiven)
  if (!(s instanceof InvalidOption)) return Effect.succeed(s)
  // name the sub-field and say it in the file's words
  const caField = s.reason.match(/^(cache_threshold|balance_abs_threshold|balance_rel_threshold):/)?.[1]
    ?? (ca.cache_threshold !== undefined ? "cache_threshold" : ca.balance_abs_threshold !== undefined ? "balance_abs_threshold" : "balance_rel_threshold")
  const sub = s.option === "--router-weights" ? `${field}.weights` : s.option === "--router-staleness-ms" ? `${field}.staleness_ms`
    : s.option === "--router-cache-aware" ? `${field}.${caField}` : field
  const why = s.option === "--router-weights" && given && o.policy !== "weighted"
    ? `no weights with policy ${o.policy} (they apply to policy weighted)`
    : s.option === "--router-cache-aware" && caGiven && o.policy !== "cache-aware"
    ? `no ${caField} with policy ${o.policy} (it applies to policy cache-aware)`
    : s.option === "--router-cache-aware"
    ? s.reason.replace(/^[a-z_]+: /, "").replace(/^expected /, "")
    : s.option === "--router-staleness-ms" && (o.policy === "round-robin" || o.policy === "random")
    ? `no staleness_ms with policy ${o.policy} (it reads no load signal)`
    : s.reason.startsWith("expected ") ? s.reason.slice(9) : s.reason
  return Effect.fail(new InputError({ path: file, field: sub, expected: why }))
}

/**
 * Read `file` and resolve its pools over `base`; `router` is the command line's router (the file's
 * `router` wins). Fails with FileError, InputError (naming the field) or the pool's ConfigError.
 */
export const resolveCluster = (file: string, base: EngineFlags, routerFlags: RouterFlags): Effect.Effect<ClusterConfig, ConfigError | FileError | InputError> =>
  Effect.gen(function*() {
    if (base.numInstances !== undefined || base.dataParallelSize !== undefined) {
      const flag = base.numInstances !== undefined ? "--num-instances" : "--data-parallel-size"
      return yield* new InvalidOption({ option: flag, reason: `not with --cluster-config (${file} sets each pool's instances)` })
    }
    const f = yield* readClusterFile(file)
    if (f.router !== undefined && routerFlagsGiven(routerFlags)) {
      const given = routerFlags.policy !== undefined ? "--router" : routerFlags.weights !== undefined ? "--router-weights"
        : routerFlags.cacheAware !== undefined ? "--router-cache-aware" : "--router-staleness-ms"
      return yield* new InvalidOption({ option: given, reason: `${file} sets the router (its 'router' field); give it in one place` })
    }
    const entry = f.router === undefined ? yield* routerOf(routerFlags) : yield* routerOfFile(file, "router", f.router)
    const decodeRouter = f.decode_router === undefined ? entry : yield* routerOfFile(file, "decode_router", f.decode_router)
    const drafts = yield* poolDrafts(file, f, base)
    const pools: Array<PoolConfig> = []
    for (const [i, d] of drafts.entries()) {
      const config = yield* resolveConfig({ ...d.flags, numInstances: d.instances }).pipe(Effect.mapError(retarget(file, i, d.fieldOf)))
      pools.push({ name: d.name, role: d.role, instances: d.instances, config, ...(d.kvConnector === undefined ? {} : { kvConnector: d.kvConnector }) })
    }
    const disagg = pools.filter((p) => p.role !== "colocated")
    for (const [i, p] of pools.entries()) {
      if (p.role !== "colocated" && p.config.engine.numSchedulerSteps > 1) {
        return yield* new InputError({ path: file, field: drafts[i]!.fieldOf.get("--num-scheduler-steps") ?? `pools.${i}`, expected: "num-scheduler-steps 1 in a prefill or decode pool (multi-step scheduling is simulated for colocated pools only)" })
      }
      if (p.role !== "colocated" && p.config.engine.schedulingPolicy !== undefined) {
        return yield* new InputError({ path: file, field: drafts[i]!.fieldOf.get("--scheduling-policy") ?? `pools.${i}`, expected: `scheduling-policy fcfs in a prefill or decode pool (${p.config.engine.schedulingPolicy} is simulated for colocated pools only)` })
      }
      if (p.role !== "colocated" && p.config.engine.pipelineParallelSize > 1) {
        return yield* new InputError({ path: file, field: drafts[i]!.fieldOf.get("--pipeline-parallel-size") ?? `pools.${i}`, expected: "pipeline-parallel-size 1 in a prefill or decode pool (pipeline parallelism is simulated for colocated pools only)" })
      }
    }
    const models = new Set(disagg.map((p) => p.config.model.id))
    if (models.size > 1) {
      return yield* new InputError({ path: file, field: "pools", expected: `prefill and decode pools serving one model (their KV cache moves between them; got ${[...models].join(", ")})` })
    }
    const kvDtypes = new Set(disagg.map((p) => p.config.engine.kvCacheDtypeBytes))
    if (kvDtypes.size > 1) {
      return yield* new InputError({ path: file, field: "pools", expected: "prefill and decode pools with one --kv-cache-dtype (the decode side reads the KV the prefill side wrote)" })
    }
    if (disagg.length === 0) {
      const stray = f.decode_router !== undefined ? "decode_router" : f.kv_transfer !== undefined ? "kv_transfer" : undefined
      if (stray !== undefined) return yield* new InputError({ path: file, field: stray, expected: "no such field in a cluster without prefill and decode pools (it would be ignored)" })
    }
    return {
      pools,
      router: entry,
      decodeRouter,
      kvTransfer: { crossNode: f.kv_transfer?.cross_node ?? true, layerwise: (f.kv_transfer?.mode ?? "whole") === "layerwise" },
      source: file
    } satisfies ClusterConfig
  })

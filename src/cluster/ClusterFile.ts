/**
 * `--cluster-config FILE`: a cluster as JSON or YAML, checked with Effect Schema. Every error names
 * the file and the path of the bad field (`pools.1.engine.max-num-seqs`). Shape:
 *
 *   router: least-outstanding        # router of arrivals (colocated or prefill instances)
 *   decode_router: least-kv          # disaggregation: router of handed-off requests
 *   kv_transfer: { mode: whole, cross_node: true }
 *   pools:
 *     - name: prefill
 *       instances: 2
 *       kv_transfer_config: { kv_role: kv_producer }   # vLLM's --kv-transfer-config (or role: prefill)
 *       model: meta-llama/Llama-3.1-8B-Instruct        # default: --model
 *       hardware: H100                                 # default: --hardware
 *       engine: { tensor-parallel-size: 2 }            # any engine flag of simulate, vLLM names
 *
 * Engine flags given on the command line are every pool's defaults; the file overrides them per pool.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { parse as parseYaml } from "yaml"
import { configTextProblem } from "../domain/configText.js"
import { ENGINE_FLAG_TABLE } from "../config/engineFlagTable.js"
import type { EngineFlags } from "../config/resolve.js"
import { FileError, InputError } from "../domain/errors.js"
import { schemaIssue } from "../domain/schemaIssue.js"
import { jsonSyntaxError } from "../domain/jsonSyntax.js"

const Int = Schema.Number.pipe(Schema.int(), Schema.positive())
const FlagValue = Schema.Union(Schema.Number, Schema.Boolean, Schema.String)

/**
 * vLLM's KV connectors that move a prefill's KV straight to the decode instance's GPU memory, as
 * the simulator models it (one pull over the modelled link per request): NIXL, P2P NCCL, Mooncake
 * transfer engine. Connectors that stage KV in a shared store (LMCache, shared storage) are refused
 * rather than priced as a direct move.
 */
export const KV_CONNECTORS = ["NixlConnector", "P2pNcclConnector", "MooncakeConnector"] as const

/** vLLM's `--kv-transfer-config`: kv_role sets the pool's role; kv_connector is checked and recorded. */
const KvTransferConfig = Schema.Struct({
  kv_role: Schema.Literal("kv_producer", "kv_consumer", "kv_both"),
  kv_connector: Schema.optional(Schema.Literal(...KV_CONNECTORS))
})

const PoolFile = Schema.Struct({
  description: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.-]+$/, { message: () => "a name of letters, digits, '_', '.', '-'" }))),
  role: Schema.optional(Schema.Literal("colocated", "prefill", "decode")),
  kv_transfer_config: Schema.optional(KvTransferConfig),
  instances: Schema.optional(Int),
  model: Schema.optional(Schema.String),
  hardware: Schema.optional(Schema.String),
  engine: Schema.optional(Schema.Record({ key: Schema.String, value: FlagValue }))
})

/**
 * A router: a policy name, or a policy with the `weighted` scorer weights, the `cache-aware`
 * thresholds (SGLang's names) and a load-signal staleness.
 */
const RouterObject = Schema.Struct({
  policy: Schema.String,
  weights: Schema.optional(Schema.Struct({
    queue: Schema.optional(Schema.Number),
    kv: Schema.optional(Schema.Number),
    prefix: Schema.optional(Schema.Number)
  })),
  cache_threshold: Schema.optional(Schema.Number),
  balance_abs_threshold: Schema.optional(Schema.Number.pipe(Schema.int())),
  balance_rel_threshold: Schema.optional(Schema.Number),
  staleness_ms: Schema.optional(Schema.Number)
})
const RouterFile = Schema.Union(Schema.String, RouterObject)
export type RouterFile = typeof RouterFile.Type

export const ClusterFileSchema = Schema.Struct({
  /** Free text (JSON has no comments). */
  description: Schema.optional(Schema.String),
  router: Schema.optional(RouterFile),
  decode_router: Schema.optional(RouterFile),
  kv_transfer: Schema.optional(Schema.Struct({
    mode: Schema.optional(Schema.Literal("whole", "layerwise")),
    cross_node: Schema.optional(Schema.Boolean)
  })),
  pools: Schema.NonEmptyArray(PoolFile)
})
export type ClusterFile = typeof ClusterFileSchema.Type

/** One pool as the file describes it, its engine section turned into flags. */
export interface PoolDraft {
  readonly name: string
  readonly role: "colocated" | "prefill" | "decode"
  readonly instances: number
  readonly flags: EngineFlags
  /** File path of each engine key given (for errors), by flag name ("--max-num-seqs"). */
  readonly fieldOf: ReadonlyMap<string, string>
  readonly kvConnector: string | undefined
}

const fail = (path: string, field: string, expected: string, got?: string) =>
  new InputError({ path, field, expected, ...(got === undefined ? {} : { got }) })

/** Parse and check `file`; fails with FileError (unreadable) or InputError (naming the field). */
export const readClusterFile = (file: string): Effect.Effect<ClusterFile, FileError | InputError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8").replace(/^\uFEFF/, ""),
      catch: (e) => {
        const code = (e as NodeJS.ErrnoException).code
        return new FileError({
          path: file,
          reason: code === "ENOENT" ? "no such file (--cluster-config)" : code === "EISDIR" ? "is a folder; --cluster-config expects a JSON or YAML file" : (e as Error).message
        })
      }
    })
    const problem = configTextProblem(text)
    if (problem !== undefined) return yield* fail(file, problem.path === "" ? "(top level)" : problem.path, problem.expected)
    const raw = yield* Effect.try({
      try: () => (/\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text, { logLevel: "error" })) as unknown,
      catch: (e) => new InputError({ path: file, expected: /\.json$/i.test(file) ? `valid JSON (${jsonSyntaxError(text, e)})` : `valid YAML (${(e as Error).message.split("\n")[0]})` })
    })
    const decoded = Schema.decodeUnknownEither(ClusterFileSchema, { onExcessProperty: "error", errors: "first" })(raw)
    if (decoded._tag === "Left") {
      let issue = schemaIssue(decoded.left)
      const key = issue.path.split(".")[0]
      const value = typeof raw === "object" && raw !== null && key !== undefined ? (raw as Record<string, unknown>)[key] : undefined
      if (issue.path === key && (key === "router" || key === "decode_router") && typeof value === "object" && value !== null) {
        // a router object: report its own field rather than "expected a string"
        const inner = Schema.decodeUnknownEither(RouterObject, { onExcessProperty: "error", errors: "first" })(value)
        if (inner._tag === "Left") {
          const i = schemaIssue(inner.left)
          issue = { path: i.path === "" ? key : `${key}.${i.path}`, expected: i.expected }
        }
      }
      const where = issue.path
      if (where === "") return yield* fail(file, "(top level)", "a mapping with a 'pools' list (see resources/clusters/)")
      const why = issue.expected.startsWith("a value of another shape") ? "a value of another shape (see resources/clusters/)" : issue.expected
      return yield* fail(file, where, why)
    }
    return decoded.right
  })

/** Role from `role` or `kv_transfer_config.kv_role` (they must agree). */
const roleOf = (file: string, i: number, p: ClusterFile["pools"][number]) =>
  Effect.gen(function*() {
    const fromKv = p.kv_transfer_config === undefined ? undefined
      : ({ kv_producer: "prefill", kv_consumer: "decode", kv_both: "colocated" } as const)[p.kv_transfer_config.kv_role]
    if (p.role !== undefined && fromKv !== undefined && p.role !== fromKv) {
      return yield* fail(file, `pools.${i}.role`, `the role its kv_transfer_config.kv_role ${p.kv_transfer_config!.kv_role} implies (${fromKv})`, p.role)
    }
    return p.role ?? fromKv ?? "colocated"
  })

/**
 * The file's pools as engine flags over `base` (the command line's). Fails with InputError naming
 * an unknown or mistyped engine key, a repeated pool name, or roles that do not form a cluster
 * (all colocated, or prefill and decode pools only).
 */
export const poolDrafts = (file: string, f: ClusterFile, base: EngineFlags): Effect.Effect<Array<PoolDraft>, InputError> =>
  Effect.gen(function*() {
    const out: Array<PoolDraft> = []
    for (const [i, p] of f.pools.entries()) {
      const role = yield* roleOf(file, i, p)
      const name = p.name ?? (f.pools.length === 1 ? "default" : `${role}${i}`)
      if (out.some((o) => o.name === name)) return yield* fail(file, `pools.${i}.name`, "a name no other pool has", JSON.stringify(name))
      const flags: Record<string, unknown> = { ...base, dataParallelSize: undefined, ...(p.model === undefined ? {} : { model: p.model }), ...(p.hardware === undefined ? {} : { hardware: p.hardware }) }
      const fieldOf = new Map<string, string>()
      if (p.model !== undefined) fieldOf.set("--model", `pools.${i}.model`)
      if (p.hardware !== undefined) fieldOf.set("--hardware", `pools.${i}.hardware`)
      for (const [key0, value] of Object.entries(p.engine ?? {})) {
        const key = key0.replace(/^--/, "").replace(/_/g, "-")
        const field = `pools.${i}.engine.${key0}`
        const spec = ENGINE_FLAG_TABLE[key]
        if (spec === undefined || key === "num-instances" || key === "data-parallel-size" || key === "seed" || key === "model" || key === "hardware") {
          const known = Object.keys(ENGINE_FLAG_TABLE).filter((k) => !["num-instances", "data-parallel-size", "seed", "model", "hardware"].includes(k))
          const hint = key === "num-instances" || key === "data-parallel-size" ? "pools.N.instances sets the replicas (data-parallel ranks)" : key === "model" || key === "hardware" ? `pools.N.${key} sets it` : key === "seed" ? "--seed is one per run" : `one of ${known.join(", ")}`
          return yield* fail(file, field, `an engine flag (${hint})`, JSON.stringify(key0))
        }
        if (fieldOf.has(`--${key}`)) return yield* fail(file, field, `each engine flag once (${fieldOf.get(`--${key}`)} sets it too)`)
        const [prop, kind] = spec
        const ok = kind === "bool" ? typeof value === "boolean" : kind === "string" ? typeof value === "string" : typeof value === "number" && (kind === "float" || Number.isInteger(value))
        if (!ok) return yield* fail(file, field, kind === "bool" ? "true or false" : kind === "string" ? "a string" : kind === "int" ? "an integer" : "a number", JSON.stringify(value))
        flags[prop] = value
        fieldOf.set(`--${key}`, field)
      }
      out.push({ name, role, instances: p.instances ?? 1, flags: flags as unknown as EngineFlags, fieldOf, kvConnector: p.kv_transfer_config?.kv_connector })
    }
    const roles = new Set(out.map((o) => o.role))
    if (roles.has("colocated") && roles.size > 1) {
      return yield* fail(file, "pools", "either colocated pools only, or prefill and decode pools only (not both kinds)")
    }
    if (roles.has("prefill") !== roles.has("decode")) {
      return yield* fail(file, "pools", `a decode pool for every prefill pool and the other way round (found only ${roles.has("prefill") ? "prefill" : "decode"})`)
    }
    return out
  })

/**
 * `--network` selection:
 *   alpha-beta   (alias `analytic`; the default) the analytic model of network/analytic.ts from the
 *                hardware JSON's fabric and NIC: NCCL ring / tree / NVLS and vLLM's custom all-reduce
 *   table:DIR    measured collectives (Vidur's all_reduce.csv and/or send_recv.csv in DIR, or one
 *                such CSV file), interpolated (network/tableNetwork.ts `tableNetwork`)
 *   fit:DIR      alpha-beta fitted to those tables (`fittedNetwork`): for a num_workers the table
 *                measured, the fit of that num_workers' rows (the rows table:DIR uses); for any
 *                other, one fit over the whole table
 * A collective a table lacks (all-gather, reduce-scatter, all-to-all, KV transfer; send/recv or
 * all-reduce without their CSV; send/recv across nodes) is priced by the analytic model.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { ConfigService } from "../config/ConfigService.js"
import type { Network } from "../domain/Network.js"
import type { LoadedNetwork, SimConfig } from "../domain/SimConfig.js"
import { FileError, type InputError, InvalidOption } from "../domain/errors.js"
import type { Hardware } from "../domain/Hardware.js"
import { analyticNetwork } from "./analytic.js"
import { alphaBeta, NetworkService } from "./NetworkService.js"
import { type AlphaBetaFit, fitCurves, fittedNetwork, fitTable, tableNetwork } from "./tableNetwork.js"
import { type CollectiveTable, readCollectiveCsv } from "./vidurCsv.js"

export type NetworkSpec =
  | { readonly kind: "alpha-beta" }
  | { readonly kind: "table" | "fit"; readonly path: string }

export const NETWORK_HELP = "alpha-beta (= analytic, the default) | table:DIR | fit:DIR (DIR holds Vidur's all_reduce.csv and/or send_recv.csv)"

export const parseNetworkSpec = (s: string): Effect.Effect<NetworkSpec, InvalidOption> => {
  const t = s.trim()
  if (t === "alpha-beta" || t === "analytic") return Effect.succeed({ kind: "alpha-beta" })
  const i = t.indexOf(":")
  const kind = i < 0 ? t : t.slice(0, i)
  const p = i < 0 ? "" : t.slice(i + 1).trim()
  if ((kind === "table" || kind === "fit") && p !== "") return Effect.succeed({ kind, path: p })
  const why = (kind === "table" || kind === "fit") ? `${kind}: needs a folder, e.g. ${kind}:profiling/network/h100_dgx` : `expected ${NETWORK_HELP}`
  return Effect.fail(new InvalidOption({ option: "--network", reason: `${why} (got ${JSON.stringify(s)})` }))
}

export type { LoadedNetwork } from "../domain/SimConfig.js"

/**
 * Read the tables a spec names: DIR/all_reduce.csv and DIR/send_recv.csv (at least one), or one CSV
 * file. `source` names where the path came from in error messages (the `--network` flag, or a
 * command's argument such as `network-fit DIR`).
 */
export const loadNetwork = (spec: NetworkSpec, source = "--network"): Effect.Effect<LoadedNetwork, FileError | InputError> =>
  Effect.gen(function*() {
    if (spec.kind === "alpha-beta") return spec
    const st = yield* Effect.try({
      try: () => fs.statSync(spec.path),
      catch: (e) => new FileError({ path: spec.path, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? `no such file or folder (${source})` : (e as Error).message })
    })
    if (!st.isDirectory()) {
      const t = yield* readCollectiveCsv(spec.path)
      return { ...spec, allReduce: t.collective === "all_reduce" ? t : undefined, sendRecv: t.collective === "send_recv" ? t : undefined }
    }
    const ar = path.join(spec.path, "all_reduce.csv")
    const sr = path.join(spec.path, "send_recv.csv")
    if (!fs.existsSync(ar) && !fs.existsSync(sr)) return yield* new FileError({ path: spec.path, reason: `holds neither all_reduce.csv nor send_recv.csv (${source})` })
    const allReduce = fs.existsSync(ar) ? yield* readCollectiveCsv(ar, "all_reduce") : undefined
    const sendRecv = fs.existsSync(sr) ? yield* readCollectiveCsv(sr, "send_recv") : undefined
    return { ...spec, allReduce, sendRecv }
  })

/**
 * The Network of a loaded spec on hardware `hw`: the analytic model of `hw` (network/analytic.ts),
 * or the tables with that model for what they lack. A bare number is a link of that many GB/s
 * (bidirectional) priced by the single-ring `alphaBeta` instead (tests, bare links).
 */
export const makeNetwork = (spec: LoadedNetwork, hw: Hardware | number): Network => {
  const base = typeof hw === "number" ? alphaBeta(hw) : analyticNetwork(hw)
  switch (spec.kind) {
    case "alpha-beta":
      return base
    case "table":
      return tableNetwork(spec.allReduce, spec.sendRecv, base)
    case "fit":
      return fittedNetwork(spec.allReduce, spec.sendRecv, base)
  }
}

/** NetworkService for the configured `--network` (alpha-beta when none was given). */
export const networkLayer = (spec: LoadedNetwork | undefined): Layer.Layer<NetworkService, never, ConfigService> =>
  spec === undefined || spec.kind === "alpha-beta"
    ? NetworkService.alphaBeta
    : Layer.effect(NetworkService, Effect.map(ConfigService, (cfg) => makeNetwork(spec, cfg.hardware)))

const r3 = (x: number) => Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null

/** A fit as plain JSON: alpha in us per hop, bus bandwidth in GB/s, errors in %. */
export const fitJson = (f: AlphaBetaFit) => ({
  alpha_us: r3(f.alphaNs / 1000),
  bus_GBs: r3(f.busBytesPerNs),
  mape_pct: r3(f.mape * 100),
  max_err_pct: r3(f.maxRelErr * 100),
  points: f.points
})

/**
 * A table as summary.json records it: `fit` is the whole-table fit (what fit:DIR uses for a
 * num_workers the table lacks), `fits_by_num_workers` the per-num_workers fits (what fit:DIR uses
 * for a measured num_workers; send/recv is priced at 2).
 */
const tableJson = (t: CollectiveTable | undefined) =>
  t === undefined ? null : {
    file: t.path,
    num_workers: t.curves.map((c) => c.numWorkers),
    devices_per_node: t.curves.map((c) => c.devicesPerNode ?? null),
    fit: fitJson(fitTable(t)),
    fits_by_num_workers: Object.fromEntries([...fitCurves(t)].map(([n, f]) => [String(n), fitJson(f)]))
  }

/** What summary.json's config records about the network model. */
export const networkConfig = (cfg: SimConfig): Record<string, unknown> => {
  const spec = cfg.network ?? { kind: "alpha-beta" as const }
  const analytic = analyticNetwork(cfg.hardware).describe()
  if (spec.kind === "alpha-beta") return analytic
  return {
    model: `${spec.kind}:${spec.path}`,
    all_reduce: tableJson(spec.allReduce) ?? analytic,
    send_recv: tableJson(spec.sendRecv) ?? analytic,
    fallback: analytic
  }
}

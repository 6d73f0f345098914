/**
 * `llmservingsim network-fit DIR [--hardware H] [--json]`: read Vidur network tables
 * (DIR/all_reduce.csv, DIR/send_recv.csv, or one such CSV) and print the least-squares alpha-beta
 * link fitted to each num_workers and to the whole table, with the fit error and which of them
 * `--network fit:DIR` uses (a measured num_workers: its own fit; all-reduce over any other
 * num_workers: the whole-table fit; send/recv: the num_workers 2 fit); with --hardware, also the
 * single-ring datasheet alpha-beta (the model before the analytic default).
 *
 * `--compare HARDWARE`: the measured all-reduce medians against the default analytic model of that
 * hardware (network/compare.ts: NCCL's all-reduce + Vidur's eager-call overhead), per num_workers
 * and size (16 KiB..256 MiB): measured, smoothed measured, modelled, the errors, the algorithm,
 * and a summary of max |err| and mean |err| per num_workers.
 */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { InvalidOption } from "../domain/errors.js"
import { loadHardware } from "../config/catalog.js"
import { analyticNetwork } from "../network/analytic.js"
import { compareAllReduce, summarize, VIDUR_EAGER_OVERHEAD_NS } from "../network/compare.js"
import { ALPHA_NS, LINK_EFFICIENCY } from "../network/NetworkService.js"
import { fitJson, loadNetwork } from "../network/spec.js"
import { fitCurves, fitTable } from "../network/tableNetwork.js"
import type { CollectiveTable } from "../network/vidurCsv.js"

const kib = (b: number) => b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(b % (1 << 20) === 0 ? 0 : 1)} MiB` : `${(b / 1024).toFixed(0)} KiB`
const row = (label: string, f: ReturnType<typeof fitJson>) =>
  `  ${label.padEnd(34)} alpha ${String(f.alpha_us).padStart(7)} us/hop  bus ${String(f.bus_GBs).padStart(8)} GB/s  MAPE ${String(f.mape_pct).padStart(6)}%  max ${String(f.max_err_pct).padStart(7)}%`

/** Which fit `--network fit:DIR` prices what with (see tableNetwork.ts `fittedNetwork`). */
const tableDoc = (t: CollectiveTable) => {
  const byN = fitCurves(t)
  const sendRecvHas2 = byN.has(2)
  return {
    file: t.path,
    collective: t.collective,
    rows: t.rows,
    curves: t.curves.map((c) => ({
      num_workers: c.numWorkers,
      devices_per_node: c.devicesPerNode ?? null,
      sizes: c.sizes.length,
      min_bytes: c.sizes[0],
      max_bytes: c.sizes[c.sizes.length - 1],
      fit: fitJson(byN.get(c.numWorkers)!),
      used_by_fit: t.collective === "all_reduce" ? `all-reduce over ${c.numWorkers} GPUs` : c.numWorkers === 2 ? "send/recv" : null
    })),
    fit: fitJson(fitTable(t)),
    fit_used_by_fit: t.collective === "all_reduce" ? "all-reduce over a num_workers not in the table" : sendRecvHas2 ? null : "send/recv (the table has no num_workers 2 rows)"
  }
}

export const networkFitCommand = Command.make(
  "network-fit",
  {
    dir: Args.text({ name: "DIR" }).pipe(Args.withDescription("Folder holding Vidur's all_reduce.csv and/or send_recv.csv (or one such CSV file)")),
    hardware: Options.text("hardware").pipe(Options.optional, Options.withDescription("Also show this GPU's single-ring datasheet alpha-beta (for comparison with the fits; default: none)")),
    compare: Options.text("compare").pipe(Options.optional, Options.withDescription("Compare the measured all-reduce with the default analytic model of this hardware (per num_workers and size, with the error)")),
    json: Options.boolean("json").pipe(Options.withDescription("Print the fits as JSON"))
  },
  (o) =>
    Effect.gen(function*() {
      const loaded = yield* loadNetwork({ kind: "fit", path: o.dir }, "network-fit DIR")
      const tables = loaded.kind === "alpha-beta" ? [] : [loaded.allReduce, loaded.sendRecv].filter((t): t is CollectiveTable => t !== undefined)
      if (Option.isSome(o.compare)) {
        const ar = loaded.kind === "alpha-beta" ? undefined : loaded.allReduce
        if (ar === undefined) return yield* new InvalidOption({ option: "--compare", reason: `needs an all_reduce table in ${o.dir}` })
        const hwc = yield* loadHardware(o.compare.value)
        const pts = compareAllReduce(ar, analyticNetwork(hwc))
        const sum = summarize(pts)
        const pct = (x: number) => Math.round(x * 1000) / 10
        if (o.json) {
          return yield* Console.log(JSON.stringify({
            file: ar.path, hardware: hwc.name, eager_overhead_us: VIDUR_EAGER_OVERHEAD_NS / 1000,
            points: pts.map((p) => ({ num_workers: p.n, bytes: p.bytes, measured_us: p.measuredNs / 1000, smoothed_us: p.smoothNs / 1000, model_us: Math.round(p.modelNs) / 1000, err_pct: pct(p.err), smoothed_err_pct: pct(p.smoothErr), algorithm: p.algorithm })),
            summary: sum.map((x) => ({ num_workers: x.n === 0 ? "all" : x.n, points: x.points, max_abs_err_pct: pct(x.maxAbsErr), mape_pct: pct(x.mape), max_abs_smoothed_err_pct: pct(x.maxAbsSmoothErr), smoothed_mape_pct: pct(x.smoothMape) }))
          }, null, 2))
        }
        yield* Console.log(`${ar.path} vs analytic ${hwc.name} (NCCL all-reduce + ${VIDUR_EAGER_OVERHEAD_NS / 1000} us eager-call overhead); err = (model - measured) / measured`)
        yield* Console.log(`  ${"n".padStart(3)} ${"size".padStart(10)} ${"measured_us".padStart(12)} ${"smoothed_us".padStart(12)} ${"model_us".padStart(10)} ${"err%".padStart(7)} ${"sm_err%".padStart(8)}  algorithm`)
        for (const p of pts) {
          yield* Console.log(`  ${String(p.n).padStart(3)} ${kib(p.bytes).padStart(10)} ${(p.measuredNs / 1000).toFixed(1).padStart(12)} ${(p.smoothNs / 1000).toFixed(1).padStart(12)} ${(p.modelNs / 1000).toFixed(1).padStart(10)} ${pct(p.err).toFixed(1).padStart(7)} ${pct(p.smoothErr).toFixed(1).padStart(8)}  ${p.algorithm}`)
        }
        for (const x of sum) {
          yield* Console.log(`summary ${x.n === 0 ? "all" : `n=${x.n}`}: ${x.points} sizes, max |err| ${pct(x.maxAbsErr)}%, mean |err| ${pct(x.mape)}%; vs smoothed: max ${pct(x.maxAbsSmoothErr)}%, mean ${pct(x.smoothMape)}%`)
        }
        return
      }
      const hw = Option.isSome(o.hardware) ? yield* loadHardware(o.hardware.value) : undefined
      const datasheet = hw === undefined ? undefined : { hardware: hw.name, alpha_us: ALPHA_NS / 1000, bus_GBs: (hw.interconnectGBs / 2) * LINK_EFFICIENCY }
      const docs = tables.map(tableDoc)
      if (o.json) return yield* Console.log(JSON.stringify({ tables: docs, ...(datasheet === undefined ? {} : { datasheet }) }, null, 2))
      for (const d of docs) {
        yield* Console.log(`${d.file}: ${d.collective}, ${d.rows} rows (times: median, ms -> ns; size: bytes)`)
        for (const c of d.curves) {
          yield* Console.log(row(`num_workers ${c.num_workers} (dpn ${c.devices_per_node ?? "-"}, ${c.sizes} sizes ${kib(c.min_bytes!)}..${kib(c.max_bytes!)})`, c.fit) +
            (c.used_by_fit === null ? "" : `  <- fit:DIR, ${c.used_by_fit}`))
        }
        yield* Console.log(row("whole table", d.fit) + (d.fit_used_by_fit === null ? "" : `  <- fit:DIR, ${d.fit_used_by_fit}`))
      }
      if (datasheet !== undefined) {
        yield* Console.log(`single-ring datasheet alpha-beta for ${datasheet.hardware} (the model before the analytic default; see --compare for the default): alpha ${datasheet.alpha_us} us/hop, bus ${datasheet.bus_GBs} GB/s`)
      }
    })
).pipe(Command.withDescription("Fit alpha-beta links (latency per hop, bus bandwidth) to measured collective tables (Vidur's network CSVs) and print the fit error"))

import { zeroNetwork } from "../../src/network/NetworkService.js"
/**
 * `--network fit:DIR` prices a measured num_workers with the alpha-beta fitted to that
 * num_workers' rows, and only an unmeasured one with the whole-table fit. Fixture
 * test/fixtures/network/per-n: all-reduce rows of two different links, num_workers 2 = 2 us/hop +
 * 300 GB/s bus, num_workers 4 = 8 us/hop + 60 GB/s bus (so no single alpha-beta fits both);
 * send/recv num_workers 2 = 5 us + bytes / 400 GB/s, num_workers 4 = 30 us + bytes / 20 GB/s.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadNetwork, makeNetwork, networkConfig } from "../../src/network/spec.js"
import { alphaBetaNs, fitCurves, fittedNetwork, fitTable } from "../../src/network/tableNetwork.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { runCapture } from "../cli/capture.js"

const DIR = "test/fixtures/network/per-n"
const SIZES = [2048, 65536, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
const ar2 = (b: number) => 2 * 1 * 2000 + (2 * 1 / 2) * b / 300
const ar4 = (b: number) => 2 * 3 * 8000 + (2 * 3 / 4) * b / 60
const sr2 = (b: number) => 5000 + b / 400

const load = () =>
  Effect.gen(function*() {
    const l = yield* loadNetwork({ kind: "fit", path: DIR })
    if (l.kind === "alpha-beta") throw new Error("unreachable")
    return l
  })

describe("fit:DIR uses the fit of the matching num_workers", () => {
  it.effect("per-num_workers fits recover each link; the whole-table fit fits neither", () =>
    Effect.gen(function*() {
      const l = yield* load()
      const by = fitCurves(l.allReduce!)
      expect(by.get(2)!.alphaNs).toBeCloseTo(2000, 0)
      expect(by.get(2)!.busBytesPerNs).toBeCloseTo(300, 2)
      expect(by.get(4)!.alphaNs).toBeCloseTo(8000, 0)
      expect(by.get(4)!.busBytesPerNs).toBeCloseTo(60, 2)
      expect(by.get(4)!.mape).toBeLessThan(1e-6)
      // the old behaviour: one fit for both, far off on this table
      expect(fitTable(l.allReduce!).mape).toBeGreaterThan(0.2)
    }))

  it.effect("all-reduce at a measured num_workers is that num_workers' alpha-beta (within rounding)", () =>
    Effect.gen(function*() {
      const l = yield* load()
      const net = makeNetwork(l, 64)
      const whole = fitTable(l.allReduce!)
      for (const b of [...SIZES, 3_000_000, 256 << 20]) {
        expect(Math.abs(net.allReduceNs(b, 2) - ar2(b)), `n=2 ${b}`).toBeLessThanOrEqual(1)
        expect(Math.abs(net.allReduceNs(b, 4) - ar4(b)), `n=4 ${b}`).toBeLessThanOrEqual(1)
      }
      // and differs from what the whole-table fit would charge (the bug: > 2x off at 64 MiB, TP 4)
      const old = alphaBetaNs("all_reduce", whole, 64 << 20, 4)
      expect(ar4(64 << 20) / old).toBeGreaterThan(2)
      expect(net.allReduceNs(100, 1)).toBe(0)
    }))

  it.effect("an unmeasured num_workers falls back to the whole-table fit", () =>
    Effect.gen(function*() {
      const l = yield* load()
      const net = makeNetwork(l, 64)
      const whole = fitTable(l.allReduce!)
      for (const n of [3, 8]) for (const b of SIZES) expect(net.allReduceNs(b, n)).toBe(Math.round(alphaBetaNs("all_reduce", whole, b, n)))
    }))

  it.effect("send/recv uses the num_workers 2 rows' fit, not the whole table's", () =>
    Effect.gen(function*() {
      const l = yield* load()
      const net = makeNetwork(l, 64)
      for (const b of SIZES) expect(Math.abs(net.sendRecvNs(b) - sr2(b)), `${b}`).toBeLessThanOrEqual(1)
      expect(Math.abs(fitTable(l.sendRecv!).alphaNs - 5000)).toBeGreaterThan(300)
      // a send/recv table without num_workers 2 rows: the whole-table fit
      const only4 = { ...l.sendRecv!, curves: l.sendRecv!.curves.filter((c) => c.numWorkers === 4) }
      const f4 = fitTable(only4)
      const n4 = fittedNetwork(undefined, only4, { ...zeroNetwork, allReduceNs: () => -1, sendRecvNs: () => -1 })
      expect(n4.sendRecvNs(1 << 20)).toBe(Math.round(alphaBetaNs("send_recv", f4, 1 << 20, 2)))
      expect(n4.allReduceNs(1 << 20, 4)).toBe(-1)
    }))

  it.effect("summary.json records the per-num_workers fits next to the whole-table fit", () =>
    Effect.gen(function*() {
      const cfg = yield* resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", tensorParallelSize: 4, numGpuBlocksOverride: 10_000, network: `fit:${DIR}` })
      const j = networkConfig(cfg) as { all_reduce: { fits_by_num_workers: Record<string, { alpha_us: number; bus_GBs: number }> } }
      expect(j.all_reduce.fits_by_num_workers["4"]!.alpha_us).toBeCloseTo(8, 3)
      expect(j.all_reduce.fits_by_num_workers["4"]!.bus_GBs).toBeCloseTo(60, 2)
      expect(j.all_reduce.fits_by_num_workers["2"]!.bus_GBs).toBeCloseTo(300, 2)
    }))

  it.effect("network-fit says which fit fit:DIR uses, and names its own argument in errors", () =>
    Effect.gen(function*() {
      const txt = yield* runCapture("network-fit", DIR)
      expect(txt.code, txt.stderr).toBe(0)
      expect(txt.stdout).toContain("<- fit:DIR, all-reduce over 4 GPUs")
      expect(txt.stdout).toContain("<- fit:DIR, all-reduce over a num_workers not in the table")
      expect(txt.stdout).toContain("<- fit:DIR, send/recv")
      const js = JSON.parse((yield* runCapture("network-fit", DIR, "--json")).stdout)
      expect(js.tables[0].curves.map((c: { used_by_fit: string }) => c.used_by_fit)).toEqual(["all-reduce over 2 GPUs", "all-reduce over 4 GPUs"])
      expect(js.tables[1].curves.map((c: { used_by_fit: string | null }) => c.used_by_fit)).toEqual(["send/recv", null])
      const missing = yield* runCapture("network-fit", "test/fixtures/network/nope")
      expect(missing.code).toBe(1)
      expect(missing.stderr).toContain("network-fit DIR")
      expect(missing.stderr).not.toContain("--network")
      const empty = yield* runCapture("network-fit", "test/fixtures/perf")
      expect(empty.stderr).toContain("holds neither all_reduce.csv nor send_recv.csv (network-fit DIR)")
      // the simulate flag still names --network
      const sim = yield* runCapture("simulate", "--num-requests", "5", "--network", "fit:test/fixtures/network/nope")
      expect(sim.code).toBe(1)
      expect(sim.stderr).toContain("(--network)")
    }))
})

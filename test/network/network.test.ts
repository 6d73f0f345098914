import { zeroNetwork } from "../../src/network/NetworkService.js"
/**
 * Table-driven and fitted networks from Vidur-format collective tables (synthetic fixtures in
 * test/fixtures/network: all-reduce = alpha-beta with alpha 4 us/hop and bus 200 GB/s; send/recv
 * = 6 us + bytes / 250 GB/s on the single-node rows).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Layer } from "effect"
import { ConfigService } from "../../src/config/ConfigService.js"
import { resolveConfig } from "../../src/config/resolve.js"
import { simulationLayer } from "../../src/layers.js"
import { analyticNetwork } from "../../src/network/analytic.js"
import { alphaBeta, NetworkService } from "../../src/network/NetworkService.js"
import { loadNetwork, makeNetwork, networkConfig, networkLayer, parseNetworkSpec } from "../../src/network/spec.js"
import { alphaBetaNs, fitAlphaBeta, fitTable, tableNetwork } from "../../src/network/tableNetwork.js"
import { isotonic, readCollectiveCsv } from "../../src/network/vidurCsv.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { PerfModelService } from "../../src/perf/PerfModelService.js"
import { makePerfModel } from "../../src/perf/spec.js"
import { TraceWriter } from "../../src/trace/TraceWriter.js"
import { runCapture } from "../cli/capture.js"

const FIX = "test/fixtures/network"
const SYN = `${FIX}/synthetic`
const SIZES = [2048, 65536, 1048576, 4194304, 16777216]
/** The synthetic all-reduce: 2(n-1) x 4000 ns + 2(n-1)/n x bytes / 200 bytes/ns. */
const arNs = (bytes: number, n: number) => 2 * (n - 1) * 4000 + ((2 * (n - 1)) / n) * bytes / 200
const srNs = (bytes: number) => 6000 + bytes / 250

const loadSyn = (kind: "table" | "fit" = "table") => loadNetwork({ kind, path: SYN })

describe("Vidur network CSV reader", () => {
  it.effect("reads all_reduce.csv: ms -> ns, one curve per num_workers, single-node rows only", () =>
    Effect.gen(function*() {
      const t = yield* readCollectiveCsv(`${SYN}/all_reduce.csv`, "all_reduce")
      expect(t.collective).toBe("all_reduce")
      expect(t.rows).toBe(12)
      expect(t.curves.map((c) => [c.numWorkers, c.devicesPerNode])).toEqual([[2, 2], [4, 4]])
      // the two dpn=2 rows of num_workers 4 (10x slower) are not used
      const c4 = t.curves[1]!
      expect(c4.sizes).toEqual(SIZES)
      for (const [i, s] of SIZES.entries()) expect(c4.ns[i]).toBeCloseTo(arNs(s, 4), 6)
    }))

  it.effect("send_recv.csv keeps the devices_per_node = 2 rows (one node), as Vidur does", () =>
    Effect.gen(function*() {
      const t = yield* readCollectiveCsv(`${SYN}/send_recv.csv`, "send_recv")
      expect(t.curves).toHaveLength(1)
      expect(t.curves[0]!.devicesPerNode).toBe(2)
      for (const [i, s] of SIZES.entries()) expect(t.curves[0]!.ns[i]).toBeCloseTo(srNs(s), 6)
    }))

  it.effect("a non-numeric size is an InputError naming the file, line and field", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(readCollectiveCsv(`${FIX}/bad-size/all_reduce.csv`))
      expect(e._tag).toBe("InputError")
      expect(e.message).toContain(`${FIX}/bad-size/all_reduce.csv:4:`)
      expect(e.message).toContain("field 'size'")
    }))

  it.effect("a negative time, a short row and a foreign header are InputErrors with their line", () =>
    Effect.gen(function*() {
      const neg = yield* Effect.flip(readCollectiveCsv(`${FIX}/negative-time.csv`))
      expect(neg.message).toContain("negative-time.csv:3:")
      expect(neg.message).toContain("time_stats.all_reduce.median")
      const short = yield* Effect.flip(readCollectiveCsv(`${FIX}/short-row.csv`))
      expect(short._tag).toBe("InputError")
      expect(short.message).toContain("short-row.csv:3")
      const hdr = yield* Effect.flip(readCollectiveCsv(`${FIX}/wrong-header.csv`))
      expect(hdr.message).toContain("wrong-header.csv:1:")
      const wrongKind = yield* Effect.flip(readCollectiveCsv(`${SYN}/send_recv.csv`, "all_reduce"))
      expect(wrongKind.message).toContain("time_stats.all_reduce.median")
    }))

  it.effect("a missing file or a folder without tables is a FileError", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(readCollectiveCsv(`${FIX}/nope.csv`)))._tag).toBe("FileError")
      const e = yield* Effect.flip(loadNetwork({ kind: "table", path: `${FIX}/..` }))
      expect(e._tag).toBe("FileError")
      expect(e.message).toContain("neither all_reduce.csv nor send_recv.csv")
    }))

  it("isotonic fit: a monotone sequence is unchanged; dips are pooled", () => {
    expect(isotonic([1, 2, 2, 5])).toEqual([1, 2, 2, 5])
    expect(isotonic([3, 1, 2, 4])).toEqual([2, 2, 2, 4])
  })
})

describe("table network", () => {
  it.effect("hits every measured point exactly", () =>
    Effect.gen(function*() {
      const net = makeNetwork(yield* loadSyn(), 64)
      for (const n of [2, 4]) for (const s of SIZES) expect(net.allReduceNs(s, n)).toBe(Math.round(arNs(s, n)))
      for (const s of SIZES) expect(net.sendRecvNs(s)).toBe(Math.round(srNs(s)))
    }))

  it.effect("interpolates linearly between points and is monotone in size, also on noisy tables", () =>
    Effect.gen(function*() {
      const net = makeNetwork(yield* loadSyn(), 64)
      // alpha-beta data is linear in size, so linear interpolation reproduces it between points
      expect(net.allReduceNs(3_000_000, 2)).toBe(Math.round(arNs(3_000_000, 2)))
      const noisy = makeNetwork(yield* loadNetwork({ kind: "table", path: `${FIX}/noisy` }), 64)
      fc.assert(fc.property(fc.integer({ min: 0, max: 1 << 26 }), fc.integer({ min: 0, max: 1 << 26 }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        for (const w of [net, noisy]) {
          expect(w.allReduceNs(lo, 2)).toBeLessThanOrEqual(w.allReduceNs(hi, 2))
          expect(w.sendRecvNs(lo)).toBeLessThanOrEqual(w.sendRecvNs(hi))
        }
        expect(net.allReduceNs(lo, 4)).toBeLessThanOrEqual(net.allReduceNs(hi, 4))
      }))
      // noisy: the 8 KiB dip (12 us after 20 us at 2 KiB) is pooled to their mean, 16 us
      expect(noisy.allReduceNs(2048, 2)).toBe(16_000)
      expect(noisy.allReduceNs(8192, 2)).toBe(16_000)
    }))

  it.effect("clamps below the smallest size and extrapolates above the largest with the upper points' bandwidth", () =>
    Effect.gen(function*() {
      const net = makeNetwork(yield* loadSyn(), 64)
      expect(net.allReduceNs(1, 2)).toBe(Math.round(arNs(2048, 2)))
      expect(net.allReduceNs(0, 4)).toBe(Math.round(arNs(2048, 4)))
      // the table is alpha-beta, so the tail slope is its bandwidth: 256 MiB is priced as alpha-beta
      for (const n of [2, 4]) expect(net.allReduceNs(256 << 20, n)).toBe(Math.round(arNs(256 << 20, n)))
      expect(net.sendRecvNs(64 << 20)).toBe(Math.round(srNs(64 << 20)))
    }))

  it.effect("an unmeasured num_workers uses the fitted alpha-beta; 1 GPU costs nothing; nothing throws", () =>
    Effect.gen(function*() {
      const net = makeNetwork(yield* loadSyn(), 64)
      expect(net.allReduceNs(1 << 20, 1)).toBe(0)
      for (const n of [3, 8, 16]) {
        expect(Math.abs(net.allReduceNs(1 << 20, n) - arNs(1 << 20, n))).toBeLessThanOrEqual(1) // ns, rounding
      }
      expect(Number.isFinite(net.allReduceNs(Number.MAX_SAFE_INTEGER, 5))).toBe(true)
    }))

  it.effect("a collective without a table keeps the hardware alpha-beta", () =>
    Effect.gen(function*() {
      const onlyAr = yield* loadNetwork({ kind: "table", path: `${SYN}/all_reduce.csv` })
      const net = makeNetwork(onlyAr, 64)
      expect(net.sendRecvNs(1 << 20)).toBe(alphaBeta(64).sendRecvNs(1 << 20))
      expect(net.allReduceNs(1 << 20, 2)).toBe(Math.round(arNs(1 << 20, 2)))
    }))
})

describe("alpha-beta fit", () => {
  it("recovers alpha and bus bandwidth from synthetic all-reduce and send/recv points", () => {
    const pts = [2, 4, 8].flatMap((n) => [1e3, 1e4, 1e5, 1e6, 1e7, 1e8].map((bytes) => ({ n, bytes, ns: 2 * (n - 1) * 3500 + ((2 * (n - 1)) / n) * bytes / 310 })))
    const f = fitAlphaBeta("all_reduce", pts)
    expect(f.alphaNs).toBeCloseTo(3500, 3)
    expect(f.busBytesPerNs).toBeCloseTo(310, 6)
    expect(f.mape).toBeLessThan(1e-9)
    expect(f.points).toBe(18)
    const s = fitAlphaBeta("send_recv", [1e3, 1e5, 1e7].map((bytes) => ({ n: 2, bytes, ns: 9000 + bytes / 120 })))
    expect(s.alphaNs).toBeCloseTo(9000, 3)
    expect(s.busBytesPerNs).toBeCloseTo(120, 6)
  })

  it("reports the fit error of noisy points and never fits a negative latency", () => {
    const pts = [1e4, 1e5, 1e6, 1e7].map((bytes, i) => ({ n: 2, bytes, ns: (2 * 4000 + bytes / 200) * (i % 2 === 0 ? 1.1 : 0.9) }))
    const f = fitAlphaBeta("all_reduce", pts)
    expect(f.mape).toBeGreaterThan(0.05)
    expect(f.mape).toBeLessThan(0.15)
    expect(f.maxRelErr).toBeGreaterThanOrEqual(f.mape)
    // pure bandwidth data with a downward bias at small sizes would want alpha < 0
    const g = fitAlphaBeta("all_reduce", [1e5, 1e6, 1e7].map((bytes) => ({ n: 2, bytes, ns: bytes / 100 - 50 })))
    expect(g.alphaNs).toBeGreaterThanOrEqual(0)
  })

  it.effect("fits the synthetic tables (single-node curves) and prices fit:DIR with the fit", () =>
    Effect.gen(function*() {
      const l = yield* loadSyn("fit")
      if (l.kind === "alpha-beta") throw new Error("unreachable")
      const ar = fitTable(l.allReduce!)
      expect(ar.alphaNs).toBeCloseTo(4000, 2)
      expect(ar.busBytesPerNs).toBeCloseTo(200, 4)
      expect(ar.points).toBe(10) // the dpn=2 rows of num_workers 4 are not fitted
      const sr = fitTable(l.sendRecv!)
      expect(sr.alphaNs).toBeCloseTo(6000, 2)
      expect(sr.busBytesPerNs).toBeCloseTo(250, 4)
      const net = makeNetwork(l, 64)
      expect(net.allReduceNs(12345678, 8)).toBe(Math.round(alphaBetaNs("all_reduce", ar, 12345678, 8)))
      expect(Math.abs(net.allReduceNs(12345678, 8) - arNs(12345678, 8))).toBeLessThan(2)
      expect(net.allReduceNs(100, 1)).toBe(0)
    }))
})

describe("--network in the step-time model", () => {
  const cfgFor = (tp: number, network?: string) =>
    resolveConfig({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100", tensorParallelSize: tp, numGpuBlocksOverride: 10_000, ...(network === undefined ? {} : { network }) })
  // 512 prefill tokens: each all-reduce moves 512 x 4096 x 2 bytes = 4 MiB, a measured size
  const shape = batchShapeOf([[512, 0]], [])
  const stepWith = (tp: number, network?: string) =>
    Effect.gen(function*() {
      const cfg = yield* cfgFor(tp, network)
      return yield* Effect.map(PerfModelService, (p) => p.stepTimeNs(shape)).pipe(Effect.provide(simulationLayer(cfg, TraceWriter.none)))
    })

  it.effect("a TP=2 step pays 2 all-reduces per layer at the table's time; TP=1 pays none", () =>
    Effect.gen(function*() {
      const cfg2 = yield* cfgFor(2, `table:${SYN}`)
      const free = makePerfModel({ kind: "roofline" }, cfg2, zeroNetwork).stepTimeNs(shape)
      const withTable = yield* stepWith(2, `table:${SYN}`)
      expect(withTable - free).toBe(2 * 32 * Math.round(arNs(4 << 20, 2)))
      // the synthetic link (200 GB/s bus, 4 us/hop) is slower than H100's analytic default at 4 MiB
      expect(withTable).toBeGreaterThan(yield* stepWith(2))
      // TP=1: no collective, so the table changes nothing
      expect(yield* stepWith(1, `table:${SYN}`)).toBe(yield* stepWith(1))
    }))

  it.effect("the default is the analytic model of the hardware's fabric (analytic is an alias)", () =>
    Effect.gen(function*() {
      const cfg = yield* cfgFor(2)
      expect(cfg.network).toBeUndefined()
      const viaLayer = yield* Effect.map(NetworkService, (n) => n.allReduceNs(4 << 20, 2)).pipe(Effect.provide(networkLayer(cfg.network).pipe(Layer.provide(ConfigService.make(cfg)))))
      expect(viaLayer).toBe(analyticNetwork(cfg.hardware).allReduceNs(4 << 20, 2))
      expect(networkConfig(cfg)).toMatchObject({ model: "analytic", fabric: { kind: "nvlink", perDirectionGBs: 450 } })
      expect((yield* parseNetworkSpec("alpha-beta")).kind).toBe("alpha-beta")
      expect((yield* parseNetworkSpec("analytic")).kind).toBe("alpha-beta")
    }))

  it.effect("bad --network values are InvalidOption with the reason", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(parseNetworkSpec("tables:/x"))
      expect(e._tag).toBe("InvalidOption")
      expect(e.message).toContain("--network: expected alpha-beta (= analytic, the default) | table:DIR | fit:DIR")
      expect((yield* Effect.flip(parseNetworkSpec("table:"))).message).toContain("needs a folder")
    }))

  it.effect("CLI: summary.json's config records the network; bad flags and files fail with one line", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--num-requests", "20", "--tensor-parallel-size", "2", "--network", `fit:${SYN}`, "--json")
      expect(r.code, r.stderr).toBe(0)
      const net = JSON.parse(r.stdout).config.network
      expect(net.model).toBe(`fit:${SYN}`)
      expect(net.all_reduce.fit.alpha_us).toBeCloseTo(4, 3)
      expect(net.all_reduce.fit.bus_GBs).toBeCloseTo(200, 2)
      const d = yield* runCapture("simulate", "--num-requests", "5", "--json")
      expect(JSON.parse(d.stdout).config.network.model).toBe("analytic")
      const bad = yield* runCapture("simulate", "--num-requests", "5", "--network", "nccl")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("--network")
      const badFile = yield* runCapture("simulate", "--num-requests", "5", "--network", `table:${FIX}/bad-size`)
      expect(badFile.code).toBe(1)
      expect(badFile.stderr).toContain("all_reduce.csv:4:")
    }))

  it.effect("network-fit prints the fitted link", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("network-fit", SYN, "--json")
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(doc.tables.map((t: { collective: string }) => t.collective)).toEqual(["all_reduce", "send_recv"])
      expect(doc.tables[0].fit.alpha_us).toBeCloseTo(4, 3)
      const txt = yield* runCapture("network-fit", SYN, "--hardware", "H100")
      expect(txt.stdout).toContain("whole table")
      expect(txt.stdout).toContain("datasheet alpha-beta for H100")
    }))

  it("tableNetwork without tables is the base network", () => {
    const base = alphaBeta(600)
    const net = tableNetwork(undefined, undefined, base)
    expect(net.allReduceNs(1 << 20, 4)).toBe(base.allReduceNs(1 << 20, 4))
  })
})

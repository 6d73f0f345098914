/** Vidur's measured network tables from ../shared/reference (skipped when it is absent, e.g. outside CI). */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { loadNetwork, makeNetwork } from "../../src/network/spec.js"
import { fitTable } from "../../src/network/tableNetwork.js"
import { runCapture } from "../cli/capture.js"

const ref = "../shared/reference/vidur-profiling/profiling/network"

describe.skipIf(!fs.existsSync(`${ref}/h100_dgx/all_reduce.csv`))("Vidur network tables (h100_dgx)", () => {
  it.effect("reads both tables, fits a plausible NVLink link and prices monotonically", () =>
    Effect.gen(function*() {
      const l = yield* loadNetwork({ kind: "table", path: `${ref}/h100_dgx` })
      if (l.kind === "alpha-beta") throw new Error("unreachable")
      expect(l.allReduce!.curves.map((c) => [c.numWorkers, c.devicesPerNode])).toEqual([[2, 2], [4, 4], [8, 8]])
      expect(l.sendRecv!.curves.map((c) => c.devicesPerNode)).toEqual([2])
      const f = fitTable(l.allReduce!)
      expect(f.alphaNs).toBeGreaterThan(500)
      expect(f.alphaNs).toBeLessThan(20_000)
      expect(f.busBytesPerNs).toBeGreaterThan(100)
      expect(f.busBytesPerNs).toBeLessThan(900)
      const net = makeNetwork(l, 900)
      for (const n of [2, 4, 8]) {
        let prev = 0
        for (let b = 1024; b <= 1 << 28; b *= 2) {
          const t = net.allReduceNs(b, n)
          expect(t).toBeGreaterThanOrEqual(prev)
          prev = t
        }
      }
    }))

  it.effect("simulate at TP 2 with table: and fit: finishes every request", () =>
    Effect.gen(function*() {
      for (const spec of [`table:${ref}/h100_dgx`, `fit:${ref}/a100_dgx`]) {
        const r = yield* runCapture("simulate", "--num-requests", "50", "--tensor-parallel-size", "2", "--network", spec, "--json")
        expect(r.code, r.stderr).toBe(0)
        const s = JSON.parse(r.stdout)
        expect(s.completed).toBe(50)
        expect(s.config.network.model).toBe(spec)
      }
    }))
})

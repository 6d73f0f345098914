import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { expandGrid, parseAxis } from "../../src/sweep/grid.js"
import { runSweep } from "../../src/sweep/pool.js"
import { sweepCsv } from "../../src/sweep/report.js"

const axis = (s: string) => {
  const a = parseAxis(s)
  if ("_tag" in a) throw new Error(a.message)
  return a
}
const base = { engine: { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }, workload: { numRequests: 40 }, router: "round-robin" as const }

describe("sweep", () => {
  it("expands the cartesian product, first axis slowest, typed values", () => {
    const jobs = expandGrid([axis("request-rate=2,inf"), axis("max-num-seqs=8,64"), axis("hardware=A100")], base)
    if ("_tag" in jobs) throw new Error(jobs.message)
    expect(jobs.map((j) => j.point)).toEqual([
      { "request-rate": "2", "max-num-seqs": "8", hardware: "A100" },
      { "request-rate": "2", "max-num-seqs": "64", hardware: "A100" },
      { "request-rate": "inf", "max-num-seqs": "8", hardware: "A100" },
      { "request-rate": "inf", "max-num-seqs": "64", hardware: "A100" }
    ])
    expect(jobs[1]!.engine).toMatchObject({ maxNumSeqs: 64, hardware: "A100", model: base.engine.model })
    expect(jobs[2]!.workload).toMatchObject({ requestRate: "inf", numRequests: 40 })
  })

  it("bad axes name --grid and what was expected", () => {
    expect((parseAxis("warp-speed=9") as { message: string }).message).toContain("'warp-speed' is not a sweepable flag")
    expect((parseAxis("max-num-seqs") as { message: string }).message).toContain("expected max-num-seqs=v1,v2")
    expect((expandGrid([axis("max-num-seqs=1.5")], base) as { message: string }).message).toContain("expected an integer")
    const message = (t: string) => (parseAxis(t) as { message?: string }).message
    expect(message("max-num-seqs=16,,32")).toBe("--grid: max-num-seqs: an empty value in 'max-num-seqs=16,,32' (two commas, or one at an end)")
    expect(message("max-num-seqs=16,")).toContain("an empty value")
    expect(message("max-num-seqs=16,16")).toBe("--grid: max-num-seqs: '16' given twice")
    expect(message("cache-threshold=.5,5e-1")).toBe("--grid: cache-threshold: '.5' and '5e-1' (the same value) given twice")
    expect(message("hardware=A100,H100")).toBeUndefined()
    expect(message("request-rate=.5,5e-1")).toContain("given twice")
    expect(message("request-rate=inf,Infinity")).toContain("given twice")
    expect(message("hardware=A100,a100")).toBe("--grid: hardware: 'A100' and 'a100' (the same value) given twice")
    expect((expandGrid([axis("request-rate=2,0x10")], base) as { message: string }).message).toBe("--grid: request-rate: expected a number > 0 or inf (got '0x10')")
  })

  it.effect("runs every configuration; a failing one gives a row with its error", () =>
    Effect.gen(function*() {
      const jobs = expandGrid([axis("hardware=H100,L40,Z80"), axis("max-num-seqs=4,64")], base)
      if ("_tag" in jobs) throw new Error(jobs.message)
      const rows = yield* runSweep(jobs, 1)
      expect(rows.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5])
      expect(rows.slice(0, 4).every((r) => r.error === null && r.completed === 40)).toBe(true)
      expect(rows[4]!.error).toContain("unknown hardware 'Z80'")
      // more running slots, lower TTFT at the same load
      expect(rows[1]!.mean_ttft_ms).toBeLessThanOrEqual(rows[0]!.mean_ttft_ms)
      const csv = sweepCsv(["hardware", "max-num-seqs"], rows).trim().split("\n")
      expect(csv).toHaveLength(7)
      expect(csv[0]).toContain("index,hardware,max-num-seqs,completed")
    }))
})

/** Ranking SLA results (src/sla/rank.ts): per GPU, cost per million output tokens, Pareto marks. */
import { describe, expect, it } from "@effect/vitest"
import { costPerMillionOutputTokens, gpusOf, rankResults } from "../../src/sla/rank.js"
import type { Outcome, SearchResult } from "../../src/sla/search.js"
import type { SweepJob } from "../../src/sweep/grid.js"
import { errorRow, type SweepRow } from "../../src/sweep/job.js"

const job = (index: number, tp: number, dp = 1): SweepJob => ({
  index, engine: { model: "m", hardware: "H100", tensorParallelSize: tp, dataParallelSize: dp }, workload: {}, router: "round-robin", point: { "tensor-parallel-size": String(tp) }
})

/** A finished search: found `rate` with `tok` output tokens/s in total and `user` tokens/s per user. */
const result = (config: SweepJob, outcome: Outcome, rate: number | undefined, tok = 0, user = 0): SearchResult<SweepJob, SweepRow> => {
  const gpus = gpusOf(config)
  const row: SweepRow = { ...errorRow(config, ""), error: null, output_throughput: tok, num_gpus: gpus, output_tokens_per_s_per_gpu: tok / gpus, output_tokens_per_s_per_user: user }
  const best = rate === undefined ? undefined : { config: config.index, value: rate, result: row, pass: true, why: "" }
  return { config, outcome, found: rate, failedAt: undefined, best, probes: best === undefined ? [] : [best], error: outcome === "error" ? "boom" : undefined }
}

describe("SLA ranking", () => {
  it("GPUs are TP x PP x DP (num-instances is DP's alias)", () => {
    expect(gpusOf(job(0, 2, 3))).toBe(6)
    expect(gpusOf({ ...job(0, 2), engine: { model: "m", hardware: "H100", tensorParallelSize: 2, pipelineParallelSize: 2, numInstances: 2 } })).toBe(8)
    expect(gpusOf({ ...job(0, 1), engine: { model: "m", hardware: "H100" } })).toBe(1)
  })

  it("cost per million output tokens: price x GPUs / (tokens/s x 3600) x 1e6", () => {
    // 2 GPUs at $3/h = $6/h for 1000 tok/s = 3.6e6 tokens/h: $1.667 per million
    expect(costPerMillionOutputTokens(3, 2, 1000)).toBeCloseTo(6 / 3.6, 12)
    expect(costPerMillionOutputTokens(3, 2, 0)).toBeUndefined()
  })

  it("ranks by the limit per GPU, then the configurations without one; marks the Pareto front", () => {
    const rows = rankResults([
      result(job(0, 1), "found", 10, 1000, 30), // 10 per GPU, 1000 tok/s/GPU, 30 tok/s/user
      result(job(1, 2), "found", 24, 2400, 20), // 12 per GPU, 1200 tok/s/GPU, 20 tok/s/user
      result(job(2, 4), "found", 32, 3200, 15), // 8 per GPU, 800 tok/s/GPU: dominated by job 0 and job 1
      result(job(3, 1), "infeasible", undefined),
      result(job(4, 8), "error", undefined)
    ], 2)
    expect(rows.map((r) => [r.index, r.rank, r.found_per_gpu, r.pareto])).toEqual([
      [1, 1, 12, true], [0, 2, 10, true], [2, 3, 8, false], [3, undefined, undefined, false], [4, undefined, undefined, false]
    ])
    expect(rows[0]!.cost_per_million_output_tokens).toBeCloseTo(2 * 2 / (2400 * 3600) * 1e6, 12)
    expect(rows[3]!.cost_per_million_output_tokens).toBeUndefined()
    expect(rows[4]!.error).toBe("boom")
    expect(rankResults([result(job(0, 1), "found", 10, 1000, 30)])[0]!.cost_per_million_output_tokens).toBeUndefined()
  })
})

/** sla's verdict on a probe (sla/run.ts judgeRow): rejections or no finished request fail it, whatever the metrics say. */
import { describe, expect, it } from "@effect/vitest"
import { parseConstraint } from "../../src/sla/constraint.js"
import { judgeRow } from "../../src/sla/run.js"
import type { SweepRow } from "../../src/sweep/job.js"

describe("judgeRow", () => {
  it("a probe that rejected requests or finished none fails, even with latencies of 0", () => {
      const c = parseConstraint("p99_ttft_ms<=500")
      if ("_tag" in c) throw new Error(c.message)
      const judge = judgeRow([c])
      const row = (completed: number, rejected: number, p99: number) => ({ completed, rejected, metrics: { p99_ttft_ms: p99 } }) as unknown as SweepRow
      expect(judge(row(100, 0, 200))).toEqual({ pass: true, why: "" })
      expect(judge(row(100, 0, 600)).pass).toBe(false)
      expect(judge(row(0, 100, 0))).toEqual({ pass: false, why: "no request finished" })
      expect(judge(row(90, 10, 0))).toEqual({ pass: false, why: "10 requests rejected" })
  })
})

/** Sweep CSV cells (sweep/report.ts): a failed row's results are empty, not 0; a non-finite value is empty, not "Infinity". */
import { describe, expect, it } from "@effect/vitest"
import { RESULT_COLUMNS, type SweepRow } from "../../src/sweep/job.js"
import { sweepCsvLine } from "../../src/sweep/report.js"

const row = (error: string | null, v: number): SweepRow =>
  ({ index: 3, point: { hardware: "T4" }, error, ...Object.fromEntries(RESULT_COLUMNS.map((c) => [c, v])) }) as unknown as SweepRow

describe("sweep CSV cells", () => {
  it("failed rows and non-finite values leave their cells empty", () => {
    expect(sweepCsvLine(["hardware"], row("no memory", 0))).toBe(`3,T4,${",".repeat(RESULT_COLUMNS.length - 1)},no memory`)
    expect(sweepCsvLine(["hardware"], row(null, Infinity))).toBe(`3,T4,${",".repeat(RESULT_COLUMNS.length - 1)},`)
    expect(sweepCsvLine(["hardware"], row(null, 2))).toBe(`3,T4,${RESULT_COLUMNS.map(() => "2").join(",")},`)
  })
})

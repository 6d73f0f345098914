/** SLA constraint parsing and evaluation (src/sla/constraint.ts). */
import { describe, expect, it } from "@effect/vitest"
import { InvalidOption } from "../../src/domain/errors.js"
import { CONSTRAINT_METRICS, parseConstraint, satisfies, violated } from "../../src/sla/constraint.js"

const message = (x: unknown) => (x instanceof InvalidOption ? x.message : `not an error: ${JSON.stringify(x)}`)

describe("SLA constraints", () => {
  it("parses METRIC<=VALUE and the other comparisons, spaces allowed", () => {
    expect(parseConstraint("p99_ttft_ms<=500")).toEqual({ metric: "p99_ttft_ms", op: "<=", value: 500 })
    expect(parseConstraint(" mean_tpot_ms < 12.5 ")).toEqual({ metric: "mean_tpot_ms", op: "<", value: 12.5 })
    expect(parseConstraint("output_throughput>=1e3")).toEqual({ metric: "output_throughput", op: ">=", value: 1000 })
    expect(parseConstraint("p99_e2el_ms>0")).toEqual({ metric: "p99_e2el_ms", op: ">", value: 0 })
  })

  it("knows vLLM bench's summary metric names", () => {
    for (const m of ["p99_ttft_ms", "median_itl_ms", "p95_tpot_ms", "std_e2el_ms", "request_throughput", "num_preemptions"]) expect(CONSTRAINT_METRICS).toContain(m)
  })

  it("refuses an unknown metric, a bad operator and a bad value, naming --constraint", () => {
    const unknown = parseConstraint("p99_latency<=500")
    expect(unknown).toBeInstanceOf(InvalidOption)
    expect(message(unknown)).toContain("--constraint")
    expect(message(unknown)).toContain("unknown metric 'p99_latency'")
    expect(message(parseConstraint("p99_ttft_ms=500"))).toContain("bad operator '='")
    expect(message(parseConstraint("p99_ttft_ms=<500"))).toContain("bad operator '=<'")
    expect(message(parseConstraint("p99_ttft_ms500"))).toContain("unknown metric 'p99_ttft_ms500'")
    expect(message(parseConstraint("p99_ttft_ms"))).toContain("no operator")
    expect(message(parseConstraint("p99_ttft_ms<=fast"))).toContain("'fast' is not a finite number")
    expect(message(parseConstraint("p99_ttft_ms<="))).toContain("is not a finite number")
    expect(message(parseConstraint("<=5"))).toContain("not a constraint")
  })

  it("evaluates comparisons; NaN, null and missing metrics never pass", () => {
    const le = { metric: "p99_ttft_ms", op: "<=", value: 500 } as const
    expect(satisfies(le, 500)).toBe(true)
    expect(satisfies(le, 500.1)).toBe(false)
    expect(satisfies({ ...le, op: "<" }, 500)).toBe(false)
    expect(satisfies({ ...le, op: ">=" }, 500)).toBe(true)
    expect(satisfies({ ...le, op: ">" }, 500)).toBe(false)
    expect(satisfies(le, NaN)).toBe(false)
    // the worker pool's JSON IPC turns NaN into null, and null <= 500 is true in JS
    expect(satisfies(le, null)).toBe(false)
    expect(satisfies(le, undefined)).toBe(false)
    const tpot = { metric: "p99_tpot_ms", op: "<=", value: 50 } as const
    expect(violated([le, tpot], { p99_ttft_ms: 100, p99_tpot_ms: 60 })).toEqual([tpot])
    expect(violated([le, tpot], { p99_ttft_ms: 100, p99_tpot_ms: 40 })).toEqual([])
  })
})

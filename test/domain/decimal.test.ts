import { describe, expect, it } from "@effect/vitest"
import { parseDecimal, parseInteger } from "../../src/domain/decimal.js"
import { configTextProblem } from "../../src/domain/configText.js"

describe("typed numbers", () => {
  it("parseDecimal takes decimal text only, as Python's float() for a finite value", () => {
    expect(["1", "-2.5", "+.5", "3.", "1e3", "2E-2", " 7 "].map(parseDecimal)).toEqual([1, -2.5, 0.5, 3, 1000, 0.02, 7])
    for (const t of ["0x10", "0b1", "0o7", "", " ", "inf", "Infinity", "NaN", "1,5", "1_000", "1e999", "5ms", "."]) expect(parseDecimal(t), t).toBeUndefined()
  })

  it("parseInteger takes decimal digits only", () => {
    expect(["0", "-3", "+12", " 64 "].map(parseInteger)).toEqual([0, -3, 12, 64])
    for (const t of ["1.5", "1e2", "0x10", "", "9007199254740993", "2."]) expect(parseInteger(t), t).toBeUndefined()
  })
})

describe("config text checks", () => {
  it("names the first key given twice with both lines, in JSON and YAML, at any depth", () => {
    expect(configTextProblem('{"a": 1, "b": {"c": [{"d": 1}, {"d": 2,\n"d": 3}]}}')).toEqual({ path: "b.c.1.d", line: 2, expected: "each key once (given on line 1 and again on line 2; remove one)" })
    expect(configTextProblem("a: 1\nb:\n  c: 1\n  c: 2\n")?.path).toBe("b.c")
    expect(configTextProblem('{"a": 1, "b": {"a": 2}}')).toBeUndefined()
    expect(configTextProblem("pools: [\n")).toBeUndefined()
  })

  it("refuses YAML numbers not written in decimal (0x10, 0o17, .inf, .nan), takes decimal ones and quoted text", () => {
    expect(configTextProblem("pools:\n  - instances: 0x2\n")).toEqual({ path: "pools.0.instances", line: 2, expected: "a decimal number (got 0x2 on line 2; write it in decimal digits, or quote it for text)" })
    for (const t of ["a: 0o17", "a: .inf", "a: -.inf", "a: .nan", "a: [1, 0x10]"]) expect(configTextProblem(t), t).toBeDefined()
    for (const t of ["a: 16", "a: 16.0", "a: 1e2", "a: -0.5", "a: '0x10'", "a: \"0x10\"", '{"a": 12.5}']) expect(configTextProblem(t), t).toBeUndefined()
  })
})

import { describe, expect, it } from "@effect/vitest"
import { parseDecimal, parseInteger } from "../../src/domain/decimal.js"
import { findDuplicateKey } from "../../src/domain/duplicateKeys.js"

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

describe("duplicate keys", () => {
  it("names the first key given twice with both lines, in JSON and YAML, at any depth", () => {
    expect(findDuplicateKey('{"a": 1, "b": {"c": [{"d": 1}, {"d": 2,\n"d": 3}]}}')).toEqual({ path: "b.c.1.d", firstLine: 1, line: 2 })
    expect(findDuplicateKey("a: 1\nb:\n  c: 1\n  c: 2\n")).toEqual({ path: "b.c", firstLine: 3, line: 4 })
    expect(findDuplicateKey('{"a": 1, "b": {"a": 2}}')).toBeUndefined()
    expect(findDuplicateKey("pools: [\n")).toBeUndefined()
  })
})

/** Every numeric flag of the CLI is checked as a decimal before @effect/cli reads it (so `0x10` is refused naming the flag). */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { checkFlagValues, kindOf } from "../../src/cli/flagValues.js"

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []))

describe("numeric flag kinds", () => {
  it("each Options.integer / Options.float in src has its kind in the flag check", () => {
    const found = new Map<string, string>()
    for (const f of sources("src")) {
      const text = fs.readFileSync(f, "utf8")
      for (const m of text.matchAll(/Options\.(integer|float)\(\s*"([a-z0-9-]+)"\s*\)/g)) found.set(m[2]!, m[1] === "integer" ? "int" : "float")
      // options.ts's optInt / optFloat helpers
      for (const m of text.matchAll(/\bopt(Int|Float)\(\s*"([a-z0-9-]+)"/g)) found.set(m[2]!, m[1] === "Int" ? "int" : "float")
    }
    expect(found.size).toBeGreaterThan(20)
    const wrong = [...found].filter(([name, kind]) => kindOf(name) !== kind).map(([name, kind]) => `--${name}: ${kind}, checked as ${String(kindOf(name))}`)
    expect(wrong).toEqual([])
  })

  it("hexadecimal, exponent integers and Infinity are refused naming the flag", () => {
    const reason = (...args: Array<string>) => checkFlagValues(args)?.message
    expect(reason("--max-evals", "0x2")).toBe("--max-evals: expected an integer (got \"0x2\")")
    expect(reason("--trace-events-max-requests", "1e1")).toBe("--trace-events-max-requests: expected an integer (got \"1e1\")")
    expect(reason("--gpu-hour-price", "0x2")).toBe("--gpu-hour-price: expected a number (got \"0x2\")")
    expect(reason("--sla-tolerance", "Infinity")).toBe("--sla-tolerance: expected a number (got \"Infinity\")")
    expect(reason("--holdout", ".5", "--equivalence-margin", "1e1")).toBeUndefined()
  })
})

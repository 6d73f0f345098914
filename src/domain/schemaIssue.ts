/**
 * One readable "what was expected" from an Effect Schema parse error, for the one-line errors that
 * name a file and field: the first failing field's path, and its expectation in words (a literal
 * union lists every allowed value; a missing or unknown field says so).
 */
import { ParseResult } from "effect"

export interface SchemaIssue {
  /** Dotted path of the field ("" at the top level). */
  readonly path: string
  /** What was expected there, e.g. `one of "switch", "pcie" (got "torus")`. */
  readonly expected: string
}

const TYPE = /^Expected (.*), actual (.*)$/s

export const schemaIssue = (e: ParseResult.ParseError): SchemaIssue => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(e)
  const first = issues[0]
  if (first === undefined) return { path: "", expected: "a valid document" }
  const path = first.path.map(String).join(".")
  if (first._tag === "Missing") return { path, expected: "a value here (it is missing)" }
  if (first._tag === "Unexpected") return { path, expected: "no such field (check its spelling)" }
  // type and refinement failures alike read "Expected X, actual Y"; an optional field's "undefined"
  // alternative says nothing once the value's own expectation is known
  const same = issues.filter((i) => i.path.map(String).join(".") === path)
  const parts = same.map((i) => TYPE.exec(i.message)).filter((m): m is RegExpExecArray => m !== null)
  if (parts.length === 0) return { path, expected: first.message }
  const all = [...new Set(parts.map((m) => m[1]!))]
  const wanted = all.length > 1 ? all.filter((w) => w !== "undefined") : all
  const got = parts[0]![2]!
  const what = wanted.length > 1 ? `one of ${wanted.join(", ")}` : wanted[0]!
  return { path, expected: what.length > 200 ? `a value of another shape (got ${got.slice(0, 60)})` : `${what} (got ${got})` }
}

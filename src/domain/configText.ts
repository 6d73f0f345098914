/**
 * Checks of a user-written JSON or YAML config text that its parsed value no longer shows, each
 * naming the field (its path, `pools.0.instances`) and its line:
 * - a mapping key given twice: `JSON.parse` keeps the last of two equal keys without a word (a
 *   cluster file with `instances` twice ran with the second value), and the `yaml` package's own
 *   refusal ("Map keys must be unique") names a line but not the field;
 * - a number not written in decimal: YAML 1.2 reads `0x10`, `0o17`, `.inf` and `.nan` as numbers,
 *   which the flags (domain/decimal.ts) and JSON refuse; files take decimal numbers, as JSON's.
 * JSON texts are read with the same YAML 1.2 parser, of which JSON is a subset, only for these
 * checks (their values still come from `JSON.parse`).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar } from "yaml"
import { parseDecimal } from "./decimal.js"

/** What is wrong at `path` (line 1-based), worded as what was expected. */
export interface ConfigTextProblem {
  readonly path: string
  readonly line: number
  readonly expected: string
}

const keyText = (k: unknown): string => (isScalar(k) ? String(k.value) : String(k))

/** The first problem of `text` in document order, or undefined (also for text that does not parse). */
export const configTextProblem = (text: string): ConfigTextProblem | undefined => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines, logLevel: "silent" })
  if (doc.errors.length > 0) return undefined
  const lineOf = (n: unknown) => {
    const r = (n as Node | null)?.range
    return r === undefined || r === null ? 0 : lines.linePos(r[0]).line
  }
  const walk = (node: unknown, path: ReadonlyArray<string>): ConfigTextProblem | undefined => {
    if (isMap(node)) {
      const seen = new Map<string, unknown>()
      for (const pair of node.items) {
        const k = keyText(pair.key)
        const first = seen.get(k)
        if (first !== undefined) {
          return { path: [...path, k].join("."), line: lineOf(pair.key), expected: `each key once (given on line ${lineOf(first)} and again on line ${lineOf(pair.key)}; remove one)` }
        }
        seen.set(k, pair.key)
        const inner = walk(pair.value, [...path, k])
        if (inner !== undefined) return inner
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const inner = walk(node.items[i], [...path, String(i)])
        if (inner !== undefined) return inner
      }
    } else if (isScalar(node) && node.type === Scalar.PLAIN && typeof node.value === "number") {
      const source = (node as Scalar & { source?: string }).source ?? String(node.value)
      if (parseDecimal(source) === undefined) {
        return { path: path.join("."), line: lineOf(node), expected: `a decimal number (got ${source} on line ${lineOf(node)}; write it in decimal digits, or quote it for text)` }
      }
    }
    return undefined
  }
  return walk(doc.contents, [])
}

/**
 * The first mapping key given twice in a user-written JSON or YAML config text. `JSON.parse`
 * keeps the last of two equal keys without a word (so a cluster file with `instances` twice ran
 * with the second value), and the `yaml` package's own refusal ("Map keys must be unique") names
 * a line but not the field; this names both. JSON texts are read with the same YAML 1.2 parser,
 * of which JSON is a subset, only to find duplicates (their values still come from `JSON.parse`).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml"

/** A key given twice: its field path (`pools.0.instances`) and the lines (1-based) of both. */
export interface DuplicateKey {
  readonly path: string
  readonly firstLine: number
  readonly line: number
}

const keyText = (k: unknown): string => (isScalar(k) ? String(k.value) : String(k))

/** The first duplicate key of `text` in document order, or undefined (also for text that does not parse). */
export const findDuplicateKey = (text: string): DuplicateKey | undefined => {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines })
  if (doc.errors.length > 0) return undefined
  const lineOf = (n: unknown) => {
    const r = (n as Node | null)?.range
    return r === undefined || r === null ? 0 : lines.linePos(r[0]).line
  }
  const walk = (node: unknown, path: ReadonlyArray<string>): DuplicateKey | undefined => {
    if (isMap(node)) {
      const seen = new Map<string, unknown>()
      for (const pair of node.items) {
        const k = keyText(pair.key)
        const first = seen.get(k)
        if (first !== undefined) return { path: [...path, k].join("."), firstLine: lineOf(first), line: lineOf(pair.key) }
        seen.set(k, pair.key)
        const inner = walk(pair.value, [...path, k])
        if (inner !== undefined) return inner
      }
    } else if (isSeq(node)) {
      for (let i = 0; i < node.items.length; i++) {
        const inner = walk(node.items[i], [...path, String(i)])
        if (inner !== undefined) return inner
      }
    }
    return undefined
  }
  return walk(doc.contents, [])
}

/** The InputError-style wording for `d`: what is expected of the field. */
export const duplicateKeyExpected = (d: DuplicateKey): string =>
  `each key once (given on line ${d.firstLine} and again on line ${d.line}; remove one)`

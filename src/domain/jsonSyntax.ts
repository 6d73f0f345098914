/**
 * A JSON syntax error as one line with a line and column. V8's `JSON.parse` messages give a
 * character offset ("... in JSON at position 41") or quote the text itself, newlines included
 * (`Unexpected token 'x', "x\ny\n" is not valid JSON`), which broke the one-line error rule;
 * the offset of the first error comes from Microsoft's `jsonc-parser` (strict: no comments, no
 * trailing commas), the wording from V8 with its quotation and offset cut.
 */
import { parse, type ParseError } from "jsonc-parser"

/** 1-based line and column of `offset` in `text`. */
const lineCol = (text: string, offset: number): { line: number; col: number } => {
  let line = 1
  let start = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      start = i + 1
    }
  }
  return { line, col: offset - start + 1 }
}

/** `line L, column C: <what V8 said>` for the error `e` that `JSON.parse(text)` threw. */
export const jsonSyntaxError = (text: string, e: unknown): string => {
  const message = e instanceof Error ? e.message : String(e)
  const head = message.replace(/, (?:\.\.\.)?".*$/s, "").replace(/ (?:in JSON )?at position \d+.*$/s, "").replace(/\s+/g, " ").trim()
  const errors: Array<ParseError> = []
  parse(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false })
  const v8 = /at position (\d+)/.exec(message)
  const offset = v8 !== null ? Number(v8[1]) : errors[0]?.offset
  if (offset === undefined) return head
  const { col, line } = lineCol(text, offset)
  return `line ${line}, column ${col}: ${head}`
}

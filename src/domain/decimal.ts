/**
 * Numbers a user types (flag values, the KEY=VALUE parts of a flag, `--grid` values, constraints):
 * read strictly, as decimal text. JavaScript's `Number()` also takes `0x10`, `0b1`, `0o7`, `""`
 * and `Infinity`, so `--router-cache-aware cache_threshold=0x1` was read as 1; vLLM's argparse
 * reads a float flag with Python's `float()`, which refuses hexadecimal, and an int flag with
 * `int()`, which refuses `1.5`. These accept what both accept for a finite value: an optional
 * sign, digits with an optional fraction, an optional exponent (`1e3`), surrounding spaces.
 */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const INTEGER = /^[+-]?\d+$/

/** `text` as a finite decimal number, or undefined when it is not one (`0x1`, `inf`, `1,5`, ``). */
export const parseDecimal = (text: string): number | undefined => {
  const t = text.trim()
  if (!DECIMAL.test(t)) return undefined
  const v = Number(t)
  return Number.isFinite(v) ? v : undefined
}

/** `text` as a safe integer written in decimal digits, or undefined (`1.5`, `1e3`, `0x10`, ``). */
export const parseInteger = (text: string): number | undefined => {
  const t = text.trim()
  if (!INTEGER.test(t)) return undefined
  const v = Number(t)
  return Number.isSafeInteger(v) ? v : undefined
}

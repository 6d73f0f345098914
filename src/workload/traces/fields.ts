/**
 * Field checks shared by the trace readers: each failure names file, line, field and expectation.
 * Numbers given as text are read as decimals (parseDecimal: `0x10` or `Infinity` in a trace is an
 * error, as pandas or Python's float() would have it, not 16); a whole number's text has no exponent.
 */
import { parseDecimal } from "../../domain/decimal.js"
import { InputError, show } from "../../domain/errors.js"

export interface Where {
  readonly path: string
  readonly line: number
}

/** Text of a whole number: digits, optionally `.0` (as pandas writes an integer column holding NaN); no exponent. */
const wholeText = (raw: string): number => (/^\s*[+-]?\d+(?:\.0*)?\s*$/.test(raw) ? Number(raw) : NaN)

/** A whole number >= min, from a string or JSON value. */
export const intField = (w: Where, field: string, raw: unknown, min: number): number => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? wholeText(raw) : NaN
  if (!Number.isInteger(n) || n < min) {
    throw new InputError({ path: w.path, line: w.line, field, expected: `an integer >= ${min}`, got: raw === undefined ? "nothing" : show(raw) })
  }
  return n
}

/** A finite number >= 0, from a string or JSON value. */
export const nonNegField = (w: Where, field: string, raw: unknown): number => {
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? parseDecimal(raw) ?? NaN : NaN
  if (!Number.isFinite(n) || n < 0) {
    throw new InputError({ path: w.path, line: w.line, field, expected: "a number >= 0", got: raw === undefined ? "nothing" : show(raw) })
  }
  return n
}

const AZURE_TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|[+-]\d{2}:?\d{2})?$/

/**
 * An Azure trace timestamp ("2023-11-16 18:15:46.6805900", optionally with a UTC offset) as
 * [whole seconds since the epoch, nanoseconds], kept apart so differences stay exact.
 */
export const azureTimestamp = (w: Where, field: string, raw: string): readonly [number, number] => {
  const m = AZURE_TS.exec(raw.trim())
  if (m === null) {
    throw new InputError({ path: w.path, line: w.line, field, expected: "a timestamp like 2023-11-16 18:15:46.6805900", got: show(raw) })
  }
  const [y, mo, d, h, mi, sec] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!]
  // Date.UTC rolls over (Feb 30 -> Mar 2, hour 25 -> the next day): refuse a date or time that does not exist
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, sec))
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) {
    throw new InputError({ path: w.path, line: w.line, field, expected: "a date and time that exist (month 1-12, a day of that month, 00:00:00 to 23:59:59)", got: show(raw) })
  }
  const secs = t.getTime() / 1000
  const ns = m[7] === undefined ? 0 : Number(m[7].padEnd(9, "0"))
  return [secs, ns]
}

/** An optional integer (any sign; vLLM's request `priority`): undefined when absent or empty. */
export const optionalIntField = (w: Where, field: string, raw: unknown): number | undefined => {
  if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return undefined
  const n = typeof raw === "number" ? raw : typeof raw === "string" ? wholeText(raw) : NaN
  if (!Number.isSafeInteger(n)) throw new InputError({ path: w.path, line: w.line, field, expected: "an integer", got: show(raw) })
  return n
}

/**
 * An optional LoRA adapter name (the trace's `lora` field): undefined when absent (the request
 * draws an adapter), "" for the base model (an empty CSV cell, "" or null), else the name (a
 * request naming an adapter, as vLLM's `model` does).
 */
export const optionalLoraField = (w: Where, raw: unknown): string | undefined => {
  if (raw === undefined) return undefined
  if (raw === null) return ""
  if (typeof raw !== "string") throw new InputError({ path: w.path, line: w.line, field: "lora", expected: "a LoRA adapter name (a string; \"\" = the base model)", got: JSON.stringify(raw) })
  return raw.trim()
}

/**
 * `name` (a record's LoRA adapter, "" = the base model) checked against the served adapters:
 * `adapters` null = LoRA off (any adapter refused), undefined = not checked. Throws InputError.
 */
export const checkLora = (w: Where, name: string | undefined, adapters: ReadonlyArray<string> | null | undefined): string | undefined => {
  if (name === undefined || name === "" || adapters === undefined) return name
  if (adapters === null) throw new InputError({ path: w.path, line: w.line, field: "lora", expected: "no adapter: serving LoRA adapters needs --enable-lora --lora-modules NAME...", got: JSON.stringify(name) })
  if (!adapters.includes(name)) throw new InputError({ path: w.path, line: w.line, field: "lora", expected: `one of the --lora-modules adapters ${adapters.join(", ")} (or "" for the base model)`, got: JSON.stringify(name) })
  return name
}

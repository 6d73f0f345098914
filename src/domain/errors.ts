/**
 * User-facing errors: every failure a user can cause (a bad flag, an unknown name, a missing or
 * malformed file). Each carries a one-line `message` that names the file, line, field or flag and
 * what was expected; the CLI prints it as `error: <message>` and exits with status 1, never a stack
 * trace. Bugs stay defects (`Effect.die`).
 */
import { Data } from "effect"

/** An unknown model or hardware name; `known` lists the accepted names. */
export class UnknownName extends Data.TaggedError("UnknownName")<{
  readonly kind: "model" | "hardware"
  readonly name: string
  readonly known: ReadonlyArray<string>
}> {
  override get message(): string {
    return `unknown ${this.kind} '${this.name}'; known ${this.kind === "model" ? "models" : "hardware"}: ${this.known.join(", ")}` +
      (this.kind === "model" ? " (or give a path to a Hugging Face config.json)" : "")
  }
}

/** A file that cannot be opened or read. */
export class FileError extends Data.TaggedError("FileError")<{ readonly path: string; readonly reason: string }> {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/** A malformed line or field in an input file (trace, config). `line` is 1-based. */
export class InputError extends Data.TaggedError("InputError")<{
  readonly path: string
  readonly line?: number | undefined
  readonly field?: string | undefined
  readonly expected: string
  readonly got?: string | undefined
}> {
  override get message(): string {
    const where = this.line === undefined ? this.path : `${this.path}:${this.line}`
    const field = this.field === undefined ? "" : ` field '${this.field}':`
    const got = this.got === undefined ? "" : ` (got ${this.got})`
    return `${where}:${field} expected ${this.expected}${got}`
  }
}

/** A flag value outside its valid range, or flags that contradict each other. */
export class InvalidOption extends Data.TaggedError("InvalidOption")<{ readonly option: string; readonly reason: string }> {
  override get message(): string {
    return `${this.option}: ${this.reason}`
  }
}

/** The configuration leaves no room for the KV cache (weights and reserve exceed usable memory). */
export class NoKvMemory extends Data.TaggedError("NoKvMemory")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** A calibration fit that would make predictions worse than the datasheet defaults. */
export class FitRejected extends Data.TaggedError("FitRejected")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

export type UserError = UnknownName | FileError | InputError | InvalidOption | NoKvMemory | FitRejected

const userTags = new Set(["UnknownName", "FileError", "InputError", "InvalidOption", "NoKvMemory", "FitRejected"])

/** True for the errors above (a user's mistake, printed as one line). */
export const isUserError = (u: unknown): u is UserError =>
  typeof u === "object" && u !== null && "_tag" in u && userTags.has((u as { _tag: string })._tag)

/** Shorten a value for an error message. */
export const show = (v: unknown): string => {
  const s = typeof v === "string" ? JSON.stringify(v) : String(v)
  return s.length > 40 ? s.slice(0, 37) + "..." : s
}

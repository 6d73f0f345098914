/**
 * What a run stopped by SIGINT or SIGTERM prints: bin.ts records the signal and, once the command's
 * fiber is interrupted, prints one line `interrupted by SIGINT: <note>` and exits 128 + the signal
 * number. A command sets the note to say what it left behind (rows written so far, a summary
 * marked interrupted, or nothing), as the interruption unwinds it.
 */
import { Effect } from "effect"

/** The signals that stop a run. */
export type StopSignal = "SIGINT" | "SIGTERM"

let received: StopSignal | undefined
let note: string | undefined

/** Record that `signal` arrived (the first one counts). */
export const recordSignal = (signal: StopSignal): void => {
  received ??= signal
}

/** The signal recorded by recordSignal, if any. */
export const stopSignal = (): StopSignal | undefined => received

/** Say what the interrupted command leaves behind (the last call wins). */
export const setInterruptNote = (text: string): Effect.Effect<void> =>
  Effect.sync(() => {
    note = text
  })

/** The one line an interrupted run prints on stderr (without the newline). */
export const interruptedLine = (): string => `interrupted by ${received ?? "a signal"}: ${note ?? "stopped"}`

/** The exit status of a run stopped by the recorded signal: 130 for SIGINT, 143 for SIGTERM (128 + its number). */
export const interruptedExitCode = (): number => (received === "SIGTERM" ? 143 : 130)

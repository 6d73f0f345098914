/**
 * CLI entry point (see cli/run.ts for the error policy). SIGINT and SIGTERM interrupt the running
 * command's fiber (NodeRuntime.runMain): a simulation stops at its next slice and writes the rows
 * and a summary marked `interrupted` so far; a sweep kills its workers and writes the rows finished
 * so far. The process exits 130 (SIGINT) or 143 (SIGTERM) with one line on stderr saying what was
 * written (cli/interrupt.ts), as shells report a signal's death (128 + signal number).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { interruptedExitCode, interruptedLine, recordSignal } from "./cli/interrupt.js"
import { runCli } from "./cli/run.js"

for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, () => recordSignal(s))

NodeRuntime.runMain(
  runCli(process.argv).pipe(
    Effect.tap((code) => Effect.sync(() => {
      process.exitCode = code
    })),
    Effect.provide(NodeContext.layer)
  ),
  {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
        process.stderr.write(`${interruptedLine()}\n`)
        onExit(interruptedExitCode())
      } else {
        onExit(Exit.isFailure(exit) ? 1 : 0)
      }
    }
  }
)

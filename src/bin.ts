/**
 * CLI entry point (see cli/run.ts for the error policy). SIGINT and SIGTERM interrupt the running
 * command's fiber (NodeRuntime.runMain): a simulation stops at its next slice, writes the rows and
 * a summary marked `interrupted` so far, and the process exits 130 (SIGINT) or 143 (SIGTERM) with
 * one line on stderr, as shells report a signal's death (128 + signal number).
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"
import { runCli } from "./cli/run.js"

let signal: "SIGINT" | "SIGTERM" | undefined
for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, () => { signal ??= s })

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
        process.stderr.write(`interrupted by ${signal ?? "a signal"}: stopped; what was simulated so far is written (summary.json says "interrupted": true)\n`)
        onExit(signal === "SIGTERM" ? 143 : 130)
      } else {
        onExit(Exit.isFailure(exit) ? 1 : 0)
      }
    }
  }
)

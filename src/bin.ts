/** CLI entry point (see cli/run.ts for the error policy). */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { runCli } from "./cli/run.js"

NodeRuntime.runMain(
  runCli(process.argv).pipe(
    Effect.tap((code) => Effect.sync(() => {
      process.exitCode = code
    })),
    Effect.provide(NodeContext.layer)
  ),
  { disableErrorReporting: true, disablePrettyLogger: true }
)

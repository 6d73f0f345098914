/**
 * CLI entry point. User mistakes (UserError) print one line `error: <message>` on stderr and exit
 * with status 1; flag-parsing errors are printed by @effect/cli; anything else is a bug and prints
 * its cause.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect } from "effect"
import { cli } from "./cli/main.js"
import { isUserError } from "./domain/errors.js"

const program = Effect.suspend(() => cli(process.argv)).pipe(
  Effect.catchIf(isUserError, (e) =>
    Console.error(`error: ${e.message}`).pipe(Effect.zipRight(Effect.sync(() => {
      process.exitCode = 1
    })))),
  Effect.catchAllCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failures = [...Cause.failures(cause)]
    // @effect/cli has already printed its validation errors (unknown flag, bad value)
    const cliError = failures.some((f) => typeof f === "object" && f !== null && "_tag" in f && String(f._tag).match(/^(MissingValue|InvalidValue|InvalidArgument|UnclusteredFlag|CommandMismatch|CorrectedFlag|MultipleValuesDetected|MissingFlag|MissingSubcommand|NoBuiltInMatch|ShowHelp|BuiltIn)/))
    return Effect.zipRight(
      cliError ? Effect.void : Console.error(`internal error (please report): ${Cause.pretty(cause)}`),
      Effect.sync(() => {
        process.exitCode = 1
      })
    )
  }),
  Effect.provide(NodeContext.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: true, disablePrettyLogger: true })

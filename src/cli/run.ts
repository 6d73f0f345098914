/**
 * The CLI program with its error policy: user mistakes (UserError) print one line
 * `error: <message>` on stderr and give exit status 1; flag-parsing errors are printed by
 * @effect/cli itself (status 1), with the same `error: ` prefix; anything else is a bug and prints
 * its cause (status 1). Commands print status lines with Console.warn (stderr); Console.error
 * belongs to @effect/cli's parse errors. Help text loses its colour codes when stdout is not a
 * terminal.
 * Returns the exit status instead of exiting, so tests can run it in-process.
 */
import { Cause, Console, Effect } from "effect"
import { InvalidOption, isUserError } from "../domain/errors.js"
import { Command } from "@effect/cli"
import { cli, HELP_COMMANDS, PROGRAM_DESCRIPTION } from "./main.js"
import { helpRequest, helpTopic, helpWidth, renderCommandHelp, renderRootHelp, topicsOf } from "./help.js"
import { checkCommandFlags } from "./commandFlags.js"
import { checkFlagValues, checkOnOffConflicts } from "./flagValues.js"
import { normalizeOnOffFlags } from "./options.js"
import { normalizeSensitivityFlag } from "./sensitivity.js"
import { normalizeGoodputFlag } from "../metrics/goodput.js"
import { normalizeLoraModulesFlag } from "./listFlag.js"

const CLI_ERROR = /^(MissingValue|InvalidValue|InvalidArgument|UnclusteredFlag|CommandMismatch|CorrectedFlag|MultipleValuesDetected|MissingFlag|MissingSubcommand|NoBuiltInMatch|ShowHelp|BuiltIn)/

const ANSI = /\x1b\[[0-9;]*m/g

/** The console the command tree runs with (see the module comment). */
const cliConsole = (c: Console.Console): Console.Console => ({
  ...c,
  error: (...xs) => c.error(...xs.map((x) => (typeof x === "string" ? `error: ${x.replace(ANSI, "").trim()}` : x))),
  log: (...xs) => c.log(...(process.stdout.isTTY === true ? xs : xs.map((x) => (typeof x === "string" ? x.replace(ANSI, "") : x))))
})

/** Run the CLI on `argv` (process.argv layout: node, script, ...args). */
export const runCli = (argv: ReadonlyArray<string>) =>
  Console.consoleWith((c) => Effect.suspend(() => {
    const conflict = checkOnOffConflicts(argv.slice(2))
    if (conflict !== undefined) return Effect.fail(conflict)
    const args = normalizeLoraModulesFlag(normalizeGoodputFlag(normalizeSensitivityFlag(normalizeOnOffFlags(argv.slice(2)))))
    const help = helpRequest(args, HELP_COMMANDS.flatMap((c) => [...Command.getNames(c)]))
    if (help !== false) {
      const names = HELP_COMMANDS.flatMap((c) => [...Command.getNames(c)])
      const command = HELP_COMMANDS.find((c) => help !== undefined && [...Command.getNames(c)].includes(help))
      if (command === undefined) return Console.log(renderRootHelp("llmservingsim", PROGRAM_DESCRIPTION, HELP_COMMANDS, helpWidth()))
      const topic = helpTopic(args, names)
      const topics = topicsOf(command)
      if (topic !== undefined && !topics.includes(topic)) {
        return Effect.fail(new InvalidOption({ option: "--help", reason: `\`${help}\` has no help topic \`${topic}\`; expected one of ${topics.join(", ")}` }))
      }
      return Console.log(renderCommandHelp("llmservingsim", command, helpWidth(), topic))
    }
    const bad = checkCommandFlags(args) ?? checkFlagValues(args)
    return bad !== undefined ? Effect.fail(bad) : cli([...argv.slice(0, 2), ...args])
  }).pipe(Effect.withConsole(cliConsole(c)))).pipe(
    Effect.as(0),
    Effect.catchIf(isUserError, (e) => Console.error(`error: ${e.message}`).pipe(Effect.as(1))),
    Effect.catchAllCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.succeed(130)
      const failures = [...Cause.failures(cause)]
      const printedByCli = failures.some((f) => typeof f === "object" && f !== null && "_tag" in f && CLI_ERROR.test(String(f._tag)))
      return (printedByCli ? Effect.void : Console.error(`internal error (please report): ${Cause.pretty(cause)}`)).pipe(Effect.as(1))
    })
  )

/** The `llmservingsim` command tree. */
import { Command } from "@effect/cli"
import { Console, Effect } from "effect"
import { listHardware, listModels, loadHardware } from "../config/catalog.js"
import { serveCommand, serverCommand } from "./serveCommand.js"
import { simulateCommand } from "./simulateCommand.js"
import { slaCommand } from "./slaCommand.js"
import { sweepCommand } from "./sweepCommand.js"
import { sweepRunnerCommand } from "./sweepRunnerCommand.js"
import { testApiCommand } from "./testApiCommand.js"
import { validateCommand } from "./validateCommand.js"
import { calibrateCommand } from "./calibrateCommand.js"
import { setupPerfCommand } from "./setupPerfCommand.js"
import { networkFitCommand } from "./networkFitCommand.js"
import { reproduceCommand } from "./reproduceCommand.js"
import { reportCommand } from "./reportCommand.js"

const modelsCommand = Command.make("models", {}, () => Console.log(listModels().join("\n"))).pipe(
  Command.withDescription("List the bundled models")
)

const hardwareCommand = Command.make("hardware", {}, () =>
  Effect.gen(function*() {
    for (const name of listHardware()) {
      const hw = yield* loadHardware(name).pipe(Effect.orDie)
      const tf = hw.bf16Tflops ?? hw.fp16Tflops
      yield* Console.log(`${name.padEnd(12)} ${hw.fullName.padEnd(46)} ${String(tf).padStart(7)} TFLOP/s  ${String(hw.memoryGB).padStart(4)} GB  ${String(hw.memoryBandwidthGBs).padStart(5)} GB/s`)
    }
  })).pipe(Command.withDescription("List the bundled hardware with its datasheet figures"))

/** The program's one-line description (top-level help). */
export const PROGRAM_DESCRIPTION = "LLM inference-serving simulator: predicts what vLLM-style serving does on given GPUs"

/** The subcommands in the order the top-level help lists them. */
export const SUBCOMMANDS = [simulateCommand, sweepCommand, slaCommand, sweepRunnerCommand, serveCommand, serverCommand, testApiCommand, validateCommand, reproduceCommand, reportCommand, calibrateCommand, setupPerfCommand, networkFitCommand, modelsCommand, hardwareCommand] as const

/** The subcommands as the help pages take them (any options, errors and requirements). */
export const HELP_COMMANDS: ReadonlyArray<Command.Command<any, any, any, any>> = SUBCOMMANDS

export const rootCommand = Command.make("llmservingsim").pipe(
  Command.withDescription(PROGRAM_DESCRIPTION),
  Command.withSubcommands(SUBCOMMANDS)
)

export const cli = Command.run(rootCommand, { name: "llmservingsim", version: "0.1.0" })

/** `llmservingsim simulate`: an offline run on virtual time. */
import { Command } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { resolveConfig } from "../config/resolve.js"
import { InputError } from "../domain/errors.js"
import { simulate } from "../engine/simulate.js"
import { simulationLayer } from "../layers.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { resolveWorkload } from "../workload/Workload.js"
import { engineOptions, outputOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { formatReport } from "./report.js"

export const simulateCommand = Command.make(
  "simulate",
  { ...engineOptions, ...workloadOptions, ...outputOptions },
  (o) =>
    Effect.gen(function*() {
      const cfg = yield* resolveConfig(toEngineFlags(o))
      const workload = yield* resolveWorkload(toWorkloadFlags(o), cfg.seed)
      const writer = Option.match(o.outputDir, { onNone: () => TraceWriter.none, onSome: (dir) => TraceWriter.files(dir) })
      // progress on an interactive stderr only, at most every 200 ms of wall time
      const tty = process.stderr.isTTY === true && !o.quiet
      let lastShown = 0
      const onProgress = (n: number, clockNs: number) => {
        const now = performance.now()
        if (now - lastShown < 200) return
        lastShown = now
        process.stderr.write(`\r${n} requests submitted, simulated time ${(clockNs / 1e9).toFixed(1)} s`)
      }
      const result = yield* simulate(workload.arrivals, {
        router: o.router,
        workload: workload.spec,
        exactSteps: o.exactSteps,
        ...(tty ? { onProgress } : {})
      }).pipe(
        Effect.provide(simulationLayer(cfg, writer))
      )
      if (tty && lastShown > 0) process.stderr.write("\r\x1b[K")
      if (result.engine.submitted === 0) {
        return yield* new InputError({ path: Option.getOrElse(o.trace, () => "workload"), expected: "at least one request (the trace has none)" })
      }
      if (o.json) yield* Console.log(JSON.stringify(result.summary, null, 2))
      else if (!o.quiet) yield* Console.log(formatReport(cfg, result, workload.description))
      if (Option.isSome(o.outputDir) && !o.quiet && !o.json) yield* Console.log(`results written to ${o.outputDir.value}/ (summary.json, requests.csv, steps.csv)`)
    })
).pipe(Command.withDescription("Simulate vLLM-style serving of a workload (a trace or the built-in generator) on virtual time"))

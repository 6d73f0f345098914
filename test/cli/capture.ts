/** Run the CLI in-process and capture what it prints. */
import { NodeContext } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { runCli } from "../../src/cli/run.js"

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "")

export const runCapture = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const push = (to: Array<string>) => (...xs: ReadonlyArray<unknown>) => Effect.sync(() => {
      to.push(strip(xs.map(String).join(" ")))
    })
    const base = yield* Effect.console
    const console: Console.Console = {
      ...base,
      log: push(out),
      info: push(out),
      error: push(err),
      warn: push(err),
      unsafe: { ...base.unsafe, log: (...xs) => out.push(strip(xs.map(String).join(" "))), error: (...xs) => err.push(strip(xs.map(String).join(" "))) }
    }
    const code = yield* runCli(["node", "llmservingsim", ...args]).pipe(Effect.withConsole(console), Effect.provide(NodeContext.layer))
    return { code, stdout: out.join("\n"), stderr: err.join("\n") }
  })

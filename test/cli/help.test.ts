/** The compact help pages: short, every flag listed, every default shown. */
import { Command } from "@effect/cli"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { flagsOf, helpRequest } from "../../src/cli/help.js"
import { HELP_COMMANDS } from "../../src/cli/main.js"
import { simulateCommand } from "../../src/cli/simulateCommand.js"
import { runCapture } from "./capture.js"

const lines = (s: string) => s.split("\n").length

describe("help", () => {
  it.effect("llmservingsim --help: at most 40 lines, every command named", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("--help")
      expect(r.code).toBe(0)
      expect(lines(r.stdout)).toBeLessThanOrEqual(40)
      for (const c of HELP_COMMANDS) expect(r.stdout).toContain(`  ${[...Command.getNames(c)][0]} `)
      expect(r.stdout).not.toContain("A user-defined piece of text")
      // no arguments and `help` print the same page
      expect((yield* runCapture()).stdout).toBe(r.stdout)
      expect((yield* runCapture("help")).stdout).toBe(r.stdout)
    }))

  it.effect("simulate --help: at most 120 lines, every flag once, defaults shown, usage names the program", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--help")
      expect(r.code).toBe(0)
      expect(lines(r.stdout)).toBeLessThanOrEqual(120)
      expect(r.stdout.split("\n")[0]).toBe("Usage: llmservingsim simulate [flags]")
      expect(r.stdout).not.toMatch(/This setting is optional|A user-defined piece of text|An integer\./)
      for (const f of flagsOf(simulateCommand)) {
        const name = f.names.replace(/^(-\w, )?--(\[no-\])?/, "")
        expect(r.stdout.match(new RegExp(`--(\\[no-\\])?${name}\\b(?!-)`, "g"))?.length, name).toBeGreaterThanOrEqual(1)
      }
      expect(r.stdout).toContain("--[no-]enable-prefix-caching")
      expect(r.stdout).toContain("(default meta-llama/Llama-3.1-8B-Instruct)")
      expect(r.stdout).toContain("(default H100)")
      expect((yield* runCapture("simulate", "-h")).stdout).toBe(r.stdout)
      expect((yield* runCapture("help", "simulate")).stdout).toBe(r.stdout)
    }))

  it.effect("simulate --help TOPIC shows a folded group whole; all shows every group; a bad topic is refused", () =>
    Effect.gen(function*() {
      const folded = yield* runCapture("simulate", "--help")
      expect(folded.stdout).toContain("`llmservingsim simulate --help perf`")
      expect(folded.stdout).not.toContain("(default 0.7)")
      const perf = yield* runCapture("simulate", "--help", "perf")
      expect(perf.code).toBe(0)
      expect(perf.stdout).toContain("Perf and network model:")
      expect(perf.stdout).toContain("--compute-efficiency X")
      expect(perf.stdout).not.toContain("--num-requests")
      const all = yield* runCapture("simulate", "--help", "all")
      expect(all.stdout).toContain("--compute-efficiency X")
      expect(all.stdout).toContain("--num-requests N")
      const bad = yield* runCapture("simulate", "--help", "bogus")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("no help topic `bogus`; expected one of all")
    }))

  it("every optional value flag of every command says its default", () => {
    const missing: Array<string> = []
    for (const c of HELP_COMMANDS) {
      for (const f of flagsOf(c)) {
        if (!f.required && f.value !== "" && !f.names.startsWith("<") && !/default/i.test(f.description)) missing.push(`${[...Command.getNames(c)][0]} ${f.names}`)
      }
    }
    expect(missing).toEqual([])
  })

  it.effect("every command's help fits 120 lines", () =>
    Effect.gen(function*() {
      for (const c of HELP_COMMANDS) {
        const name = [...Command.getNames(c)][0]!
        const r = yield* runCapture(name, "--help")
        expect(r.code, name).toBe(0)
        expect(lines(r.stdout), name).toBeLessThanOrEqual(120)
        expect(r.stdout, name).toContain(`Usage: llmservingsim ${name}`)
      }
    }))

  it("a help request is recognised only before `--` and `-h` inside values is not a command", () => {
    expect(helpRequest([], ["simulate"])).toBeUndefined()
    expect(helpRequest(["simulate", "--help"], ["simulate"])).toBe("simulate")
    expect(helpRequest(["simulate", "--num-requests", "5"], ["simulate"])).toBe(false)
    expect(helpRequest(["simulate", "--", "--help"], ["simulate"])).toBe(false)
    expect(helpRequest(["--help", "sweep"], ["simulate", "sweep"])).toBe("sweep")
  })
})

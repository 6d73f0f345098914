/**
 * The README's examples run as written: every command of a fenced `sh` block or an indented code
 * block that calls `llmservingsim` or `curl` is run in order in one scratch folder (so a later
 * example can use an earlier one's output, as a reader following the README would) and must exit 0.
 * `serve` is started in the background, stopped before the next `serve` example and after the last. Examples that read
 * `../shared` are skipped when it is absent. Only two rewrites are made, both of paths:
 * `npx llmservingsim`/`llmservingsim` runs this checkout's built CLI (bin/, over dist/ that
 * `npm ci` builds), and `../shared/` is this checkout's `../shared/`; `resources/` is a link to
 * the checkout's. `npm ci` and `npm test` are not run (the second is what runs this).
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const repo = path.resolve(".")
const shared = path.resolve("..", "shared")
const haveShared = fs.existsSync(path.join(shared, "reference"))
const built = fs.existsSync("dist/bin.js")

/** The README's commands in order: `\`-continued lines joined, comments dropped. */
export const readmeCommands = (text: string): Array<string> => {
  const commands: Array<string> = []
  const lines = text.split("\n")
  let fenced: string | undefined
  let prevBlank = true
  let inIndented = false
  let pending = ""
  const take = (line: string) => {
    const l = line.replace(/\s+#.*$/, "").trimEnd()
    if (l.endsWith("\\")) {
      pending += l.slice(0, -1).trim() + " "
      return
    }
    const cmd = (pending + l.trim()).trim()
    pending = ""
    if (/^(npx )?llmservingsim |^curl /.test(cmd)) commands.push(cmd)
  }
  for (const line of lines) {
    if (fenced !== undefined) {
      if (line.startsWith("```")) fenced = undefined
      else if (fenced === "sh") take(line)
      continue
    }
    if (line.startsWith("```")) {
      fenced = line.slice(3).trim()
      continue
    }
    if (line.startsWith("    ") && (prevBlank || inIndented)) {
      inIndented = true
      take(line.slice(4))
    } else if (line.trim() !== "") inIndented = false
    prevBlank = line.trim() === ""
  }
  return commands
}

const cli = `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(repo, "bin", "llmservingsim.js"))}`
const rewrite = (cmd: string) => cmd.replace(/^(npx )?llmservingsim /, `${cli} `).replaceAll("../shared/", `${shared}/`)

const work = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-readme-"))
fs.symlinkSync(path.join(repo, "resources"), path.join(work, "resources"))

let server: ChildProcess | undefined
/** Stop the running example server (if any) and wait for it to exit, so the next can take its port. */
const stopServer = async () => {
  const s = server
  server = undefined
  if (s === undefined || s.exitCode !== null || s.signalCode !== null) return
  const exited = new Promise<void>((resolve) => s.once("exit", () => resolve()))
  s.kill("SIGTERM")
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))])
  if (s.exitCode === null && s.signalCode === null) s.kill("SIGKILL")
}
afterAll(async () => {
  await stopServer()
  fs.rmSync(work, { recursive: true, force: true })
})

const waitForHealth = async (url: string, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (server?.exitCode !== null) return false
    try {
      if ((await fetch(url)).ok) return true
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200))
  }
  return false
}

/**
 * Run one example in bash (pipefail) in the scratch folder, killed after 240 s. Asynchronous on
 * purpose: a spawnSync would block this worker's event loop for the whole command, and vitest's
 * worker RPC times out ("Timeout calling onTaskUpdate") when a long example runs on a busy machine.
 */
const runExample = (cmd: string) =>
  new Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", rewrite(cmd)], { cwd: work, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (b) => {
      stderr += String(b)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000)
    child.on("close", (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, stderr })
    })
  })

describe.skipIf(!built)("README examples run as written", () => {
  const commands = readmeCommands(fs.readFileSync("README.md", "utf8"))

  it("finds the examples", () => {
    expect(commands.length).toBeGreaterThanOrEqual(10)
    expect(commands.some((c) => / simulate$/.test(c))).toBe(true)
  })

  for (const cmd of commands) {
    const needsShared = cmd.includes("../shared/")
    it.skipIf(needsShared && !haveShared)(cmd, async () => {
      if (/ serve /.test(cmd)) {
        await stopServer() // one example server at a time: each README serve example uses the same port
        let stderr = ""
        server = spawn("bash", ["-c", `exec ${rewrite(cmd)}`], { cwd: work, stdio: ["ignore", "ignore", "pipe"] })
        server.stderr!.on("data", (b) => { stderr += String(b) })
        const port = /--port (\d+)/.exec(cmd)?.[1] ?? "8000"
        expect(await waitForHealth(`http://127.0.0.1:${port}/health`, 20_000), `serve did not answer /health: ${stderr}`).toBe(true)
        return
      }
      const r = await runExample(cmd)
      expect(r.status, `exit ${r.status} (${r.signal ?? "no signal"})\n${r.stderr.slice(-2000)}`).toBe(0)
    }, 300_000)
  }
})

/**
 * SIGINT / SIGTERM stop a running simulation within a second: exit 130 / 143, the rows finished so
 * far in requests.csv and a summary.json marked interrupted. Runs the built CLI (dist/, which
 * `npm ci` builds); skipped when it is not built.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const built = fs.existsSync("dist/bin.js")

const runAndSignal = (sig: "SIGINT" | "SIGTERM") =>
  new Promise<{ code: number | null; afterSignalMs: number; dir: string; stderr: string }>((resolve, reject) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sig-"))
    const child = spawn(process.execPath, ["bin/llmservingsim.js", "simulate", "--num-requests", "1000000", "--request-rate", "20", "--output-dir", dir, "--quiet"], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (b) => { stderr += String(b) })
    let sentAt = 0
    // signal once the run is under way (its first rows are on disk), not while Node is still starting
    const timer = setInterval(() => {
      const f = path.join(dir, "requests.csv")
      if (sentAt === 0 && fs.existsSync(f) && fs.statSync(f).size > 1 << 20) {
        sentAt = performance.now()
        child.kill(sig)
      }
    }, 50)
    child.on("error", reject)
    child.on("exit", (code) => {
      clearInterval(timer)
      resolve({ code, afterSignalMs: sentAt === 0 ? -1 : performance.now() - sentAt, dir, stderr })
    })
  })

describe.skipIf(!built)("signals", () => {
  for (const [sig, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${sig} during a 1M-request simulate: exit ${code} within 1 s, rows so far, summary marked interrupted`, async () => {
      const r = await runAndSignal(sig)
      expect(r.afterSignalMs).toBeGreaterThan(0) // it was still running when signalled
      expect(r.code).toBe(code)
      expect(r.afterSignalMs).toBeLessThan(1000)
      expect(r.stderr.trim().split("\n")).toHaveLength(1)
      const s = JSON.parse(fs.readFileSync(path.join(r.dir, "summary.json"), "utf8"))
      expect(s.interrupted).toBe(true)
      expect(s.completed).toBeGreaterThan(0)
      expect(s.completed).toBeLessThan(1_000_000)
      const rows = fs.readFileSync(path.join(r.dir, "requests.csv"), "utf8").trim().split("\n").length - 1
      expect(rows).toBe(s.completed + s.rejected)
    }, 20_000)
  }
})

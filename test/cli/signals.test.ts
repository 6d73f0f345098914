/**
 * SIGINT / SIGTERM stop a running simulation within a second: exit 130 / 143, the rows finished so
 * far in requests.csv and a summary.json marked interrupted. The same for a sweep (its worker
 * processes killed, the finished rows in --output, the unfinished ones marked), for validate, and
 * for simulate --sensitivity's scaled runs (the main run's results stay whole).
 * Runs the built CLI (dist/, which `npm ci` builds); skipped when it is not built.
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

describe.skipIf(!built)("signals: simulate --sensitivity", () => {
  it("SIGINT during a scaled run: exit 130 within 1 s, one line, the main run's results whole and without `sensitivity`", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sig-sens-"))
    const summary = path.join(dir, "summary.json")
    // the main run writes summary.json when it ends; the scaled runs (about a second each) follow
    const child = spawn(process.execPath, ["bin/llmservingsim.js", "simulate", "--num-requests", "60000", "--request-rate", "10", "--output-dir", dir, "--quiet", "--sensitivity"], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (b) => { stderr += String(b) })
    const r = await new Promise<{ code: number | null; afterSignalMs: number }>((resolve, reject) => {
      let sentAt = 0
      const timer = setInterval(() => {
        if (sentAt === 0 && fs.existsSync(summary)) {
          sentAt = performance.now()
          child.kill("SIGINT")
        }
      }, 20)
      child.on("error", reject)
      child.on("exit", (code) => {
        clearInterval(timer)
        resolve({ code, afterSignalMs: sentAt === 0 ? -1 : performance.now() - sentAt })
      })
    })
    expect(r.afterSignalMs).toBeGreaterThan(0)
    expect(r.code).toBe(130)
    expect(r.afterSignalMs).toBeLessThan(1000)
    expect(stderr.trim().split("\n")).toEqual([
      `interrupted by SIGINT: stopped during the sensitivity run with the step time x0.90; the main run's results are in ${dir}/ (summary.json without "sensitivity")`
    ])
    const s = JSON.parse(fs.readFileSync(summary, "utf8"))
    expect(s.interrupted).toBeUndefined()
    expect(s.sensitivity).toBeUndefined()
    expect(s.completed).toBe(60_000)
    expect(fs.readFileSync(path.join(dir, "requests.csv"), "utf8").trim().split("\n")).toHaveLength(60_001)
    fs.rmSync(dir, { recursive: true })
  }, 60_000)
})

/** Pids of the live processes whose parent is `pid` (Linux /proc), with their command lines. */
const childrenOf = (pid: number): Array<{ pid: number; cmd: string }> => {
  const out: Array<{ pid: number; cmd: string }> = []
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === pid) out.push({ pid: Number(d), cmd: fs.readFileSync(`/proc/${d}/cmdline`, "utf8").replace(/\0/g, " ") })
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** True while `pid` runs (a zombie, dead but not yet reaped, counts as dead). */
const running = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

/**
 * Start the CLI with `args`, send `sig` once `ready()` says the run is under way (to the whole
 * process group when `group`, as a terminal's Ctrl-C does), and report how it ended.
 */
const signalWhen = (args: ReadonlyArray<string>, sig: "SIGINT" | "SIGTERM", group: boolean, ready: (pid: number) => boolean) =>
  new Promise<{ code: number | null; afterSignalMs: number; stderr: string; pidsAtSignal: Array<number> }>((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/llmservingsim.js", ...args], { stdio: ["ignore", "ignore", "pipe"], detached: group })
    let stderr = ""
    child.stderr.on("data", (b) => { stderr += String(b) })
    let sentAt = 0
    let pidsAtSignal: Array<number> = []
    const timer = setInterval(() => {
      if (sentAt !== 0 || !ready(child.pid!)) return
      pidsAtSignal = childrenOf(child.pid!).map((c) => c.pid)
      sentAt = performance.now()
      if (group) process.kill(-child.pid!, sig)
      else child.kill(sig)
    }, 50)
    child.on("error", reject)
    child.on("exit", (code) => {
      clearInterval(timer)
      resolve({ code, afterSignalMs: sentAt === 0 ? -1 : performance.now() - sentAt, stderr, pidsAtSignal })
    })
  })

const csvLines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [])

describe.skipIf(!built || !fs.existsSync("/proc/self/stat"))("signals: sweep and validate", () => {
  for (const [sig, code, group] of [["SIGINT", 130, true], ["SIGTERM", 143, false]] as const) {
    it(`${sig}${group ? " to the process group (Ctrl-C)" : ""} during a sweep: exit ${code} within 1 s, workers gone, finished rows written, the rest marked`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sig-sweep-"))
      const out = path.join(dir, "sweep.csv")
      // two quick configurations, then two long ones that are still running when signalled
      const r = await signalWhen(["sweep", "--grid", "num-requests=200,300,400000,400001", "--workers", "2", "--output", out, "--quiet"], sig, group, (pid) =>
        csvLines(out).length >= 3 && childrenOf(pid).filter((c) => c.cmd.includes("sweep/worker.js")).length === 2)
      expect(r.afterSignalMs).toBeGreaterThan(0)
      expect(r.code).toBe(code)
      expect(r.afterSignalMs).toBeLessThan(1000)
      expect(r.pidsAtSignal.length).toBeGreaterThanOrEqual(2)
      await new Promise((ok) => setTimeout(ok, 200)) // a killed worker is reaped by init once its parent is gone
      for (const pid of r.pidsAtSignal) expect(running(pid), `worker ${pid}`).toBe(false)
      const lines = r.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toBe(`interrupted by ${sig}: 2 of 4 configurations finished; ${out} holds their rows, and the 2 unfinished rows say "interrupted"`)
      const rows = csvLines(out)
      expect(rows).toHaveLength(5)
      const err = rows[0]!.split(",").indexOf("error")
      expect(rows.slice(1).map((l) => l.split(",")[0])).toEqual(["0", "1", "2", "3"])
      expect(rows.slice(1, 3).map((l) => l.split(",")[err])).toEqual(["", ""])
      expect(rows.slice(1, 3).map((l) => l.split(",")[2])).toEqual(["200", "300"]) // completed
      for (const l of rows.slice(3)) expect(l.split(",")[err]).toBe(`interrupted by ${sig} before this configuration finished`)
      fs.rmSync(dir, { recursive: true })
    }, 30_000)
  }

  it("SIGINT during validate: exit 130 within 1 s, one line, the replay so far marked interrupted, no validation.json", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-sig-validate-"))
    fs.mkdirSync(path.join(dir, "run", "vllm"), { recursive: true })
    fs.writeFileSync(path.join(dir, "run", "vllm", "meta.json"), JSON.stringify({ model: "meta-llama/Llama-3.1-8B-Instruct", hardware: { device_name: "H100" } }))
    fs.writeFileSync(path.join(dir, "run", "vllm", "requests.jsonl"),
      JSON.stringify({ input_toks: 512, output_toks: 128, arrival_time: 0, queued_ts: 1, scheduled_ts: 1, first_token_ts: 1.1, last_token_ts: 2 }) + "\n")
    // a 300k-request Vidur trace at 20 req/s: tens of seconds of replay
    const trace = ["arrived_at,num_prefill_tokens,num_decode_tokens"]
    for (let i = 0; i < 300_000; i++) trace.push(`${(i * 0.05).toFixed(2)},512,128`)
    fs.writeFileSync(path.join(dir, "trace.csv"), trace.join("\n") + "\n")
    const out = path.join(dir, "out")
    const requests = path.join(out, "requests.csv")
    const r = await signalWhen(["validate", "--run", path.join(dir, "run"), "--workload", path.join(dir, "trace.csv"), "--output-dir", out], "SIGINT", false,
      () => fs.existsSync(requests) && fs.statSync(requests).size > 1 << 20)
    expect(r.afterSignalMs).toBeGreaterThan(0)
    expect(r.code).toBe(130)
    expect(r.afterSignalMs).toBeLessThan(1000)
    expect(r.stderr.trim().split("\n")).toEqual([
      `interrupted by SIGINT: validation stopped during the replay; nothing compared (no validation.json); the replay so far is in ${out}/ (summary.json says "interrupted": true)`
    ])
    const s = JSON.parse(fs.readFileSync(path.join(out, "summary.json"), "utf8"))
    expect(s.interrupted).toBe(true)
    expect(s.completed).toBeGreaterThan(0)
    expect(s.completed).toBeLessThan(300_000)
    expect(fs.existsSync(path.join(out, "validation.json"))).toBe(false)
    fs.rmSync(dir, { recursive: true })
  }, 30_000)
})

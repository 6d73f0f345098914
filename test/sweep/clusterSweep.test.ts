/**
 * A sweep on @effect/cluster: a throwaway Postgres (initdb + pg_ctl in a temp folder, a free port,
 * its unix socket in that folder) and 3 `sweep-runner` processes on it; a 12-configuration grid of
 * 200-request runs sent through the cluster gives exactly the rows of the local sweep (in-process,
 * every field but wall_s; and through the CLI, the CSVs minus wall_s), spread over more than one
 * runner. Postgres and the runners are stopped afterwards, also when a check fails.
 *
 * Skips, saying why, when the Postgres server binaries are absent (Debian: apt-get install
 * postgresql; .ci/run installs it) or the CLI is not built (npm run build).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { runClusterSweep } from "../../src/sweep/cluster.js"
import { expandGrid, parseAxis } from "../../src/sweep/grid.js"
import type { SweepRow } from "../../src/sweep/job.js"
import { runSweep } from "../../src/sweep/pool.js"

/** The directory holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else pg_config's, else PATH's. */
const findPgBin = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  const candidates = versions.map((v) => path.join(root, v, "bin"))
  const pgConfig = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" })
  if (pgConfig.status === 0) candidates.push(pgConfig.stdout.trim())
  for (const dir of (process.env["PATH"] ?? "").split(":")) if (dir !== "") candidates.push(dir)
  return candidates.find((d) => fs.existsSync(path.join(d, "initdb")) && fs.existsSync(path.join(d, "pg_ctl")))
}

const pgBin = findPgBin()
const isRoot = process.getuid?.() === 0
// initdb refuses to run as root: run the server as the `postgres` user (Debian's package creates it)
const pgUser = isRoot ? (spawnSync("id", ["-u", "postgres"]).status === 0 ? "postgres" : undefined) : os.userInfo().username
const built = fs.existsSync("dist/bin.js")
const skipReason = pgBin === undefined
  ? "the Postgres server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql"
  : pgUser === undefined
  ? "running as root and there is no `postgres` user to run initdb as"
  : !built
  ? "the CLI is not built (npm run build)"
  : undefined
if (skipReason !== undefined) console.warn(`cluster sweep test skipped: ${skipReason}`)

/** A port nobody listens on now. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer()
    s.once("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** Run a Postgres tool as the server's user. */
const asPgUser = (tool: string, args: ReadonlyArray<string>) => {
  const bin = path.join(pgBin!, tool)
  return isRoot ? execFileSync("runuser", ["-u", pgUser!, "--", bin, ...args], { encoding: "utf8", stdio: "pipe" }) : execFileSync(bin, args, { encoding: "utf8", stdio: "pipe" })
}

const GRID = ["request-rate=2,8,32", "max-num-seqs=8,64", "hardware=A100,H100"]
const BASE = { engine: { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }, workload: { numRequests: 200 }, router: "round-robin" as const }
const CLI = path.resolve("bin/llmservingsim.js")

const withoutWall = (rows: ReadonlyArray<SweepRow>) => rows.map((r) => ({ ...r, wall_s: 0 }))
/** A sweep CSV without its wall_s column. */
const csvWithoutWall = (file: string) => {
  const lines = fs.readFileSync(file, "utf8").trim().split("\n")
  const wall = lines[0]!.split(",").indexOf("wall_s")
  return lines.map((l) => l.split(",").filter((_, i) => i !== wall).join(","))
}

const title = "sweep on @effect/cluster runners with Postgres"
describe.skipIf(skipReason !== undefined)(skipReason === undefined ? title : `${title} (skipped: ${skipReason})`, () => {
  let dir = ""
  let url = ""
  let pgStarted = false
  const runners: Array<{ child: ChildProcess; log: string; port: number }> = []

  const stopAll = () => {
    for (const r of runners) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL")
    if (pgStarted) {
      pgStarted = false
      try {
        asPgUser("pg_ctl", ["-D", path.join(dir, "data"), "-m", "immediate", "-w", "stop"])
      } catch { /* already stopped */ }
    }
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
  }
  // the test process dying (vitest killed) still takes Postgres and the runners down
  const onExit = () => stopAll()

  beforeAll(async () => {
    process.on("exit", onExit)
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-pg-"))
    if (isRoot) execFileSync("chown", [pgUser!, dir])
    const port = await freePort()
    asPgUser("initdb", ["-D", path.join(dir, "data"), "-U", "sim", "--auth=trust", "-E", "UTF8", "--no-sync"])
    asPgUser("pg_ctl", [
      "-D", path.join(dir, "data"), "-l", path.join(dir, "postgres.log"), "-w", "-t", "30", "start",
      "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off`
    ])
    pgStarted = true
    url = `postgres://sim@127.0.0.1:${port}/postgres`
    for (let i = 0; i < 3; i++) {
      const p = await freePort()
      const child = spawn(process.execPath, [CLI, "sweep-runner", "--database-url", url, "--host", "127.0.0.1", "--listen-host", "127.0.0.1", "--port", String(p), "--workers", "1"], { stdio: ["ignore", "ignore", "pipe"] })
      const runner = { child, log: "", port: p }
      child.stderr!.on("data", (b) => { runner.log += String(b) })
      runners.push(runner)
    }
    // settled: every runner holds some shards and together they hold all 300
    const held = (log: string) => Number([...log.matchAll(/holds (\d+) of 300 shards/g)].at(-1)?.[1] ?? 0)
    const until = Date.now() + 40_000
    while (!(runners.every((r) => held(r.log) > 0) && runners.reduce((s, r) => s + held(r.log), 0) === 300)) {
      const dead = runners.find((r) => r.child.exitCode !== null)
      if (dead !== undefined) throw new Error(`runner on port ${dead.port} exited ${dead.child.exitCode}:\n${dead.log}`)
      if (Date.now() > until) throw new Error(`the runners did not settle in 40 s:\n${runners.map((r) => r.log).join("\n")}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }, 60_000)

  afterAll(async () => {
    process.off("exit", onExit)
    // SIGTERM: each runner unregisters and hands its shards back; then anything left is killed
    for (const r of runners) r.child.kill("SIGTERM")
    await Promise.all(runners.map((r) =>
      r.child.exitCode !== null || r.child.signalCode !== null ? undefined : new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000)
        r.child.once("exit", () => { clearTimeout(t); resolve() })
      })))
    stopAll()
  }, 30_000)

  const axes = GRID.map((g) => {
    const a = parseAxis(g)
    if ("_tag" in a) throw new Error(a.message)
    return a
  })
  const jobs = expandGrid(axes, BASE)
  if (!Array.isArray(jobs)) throw new Error(jobs.message)

  it.live("12 configurations across 3 runners give the local sweep's rows, in grid order", () =>
    Effect.gen(function*() {
      const local = yield* runSweep(jobs, 1)
      const seen: Array<number> = []
      const cluster = yield* runClusterSweep(jobs, url, (r) => seen.push(r.index))
      expect(cluster.rows.map((r) => r.index)).toEqual(jobs.map((j) => j.index))
      expect(cluster.rows.every((r) => r.error === null && r.completed === 200)).toBe(true)
      expect(withoutWall(cluster.rows)).toEqual(withoutWall(local))
      expect(seen.sort((a, b) => a - b)).toEqual(jobs.map((j) => j.index))
      // the configurations were spread: the three runners' addresses are the only ones, and more than one ran some
      expect([...cluster.runners.keys()].every((a) => runners.some((r) => a === `127.0.0.1:${r.port}`))).toBe(true)
      expect(cluster.runners.size).toBeGreaterThan(1)
      expect([...cluster.runners.values()].reduce((a, b) => a + b, 0)).toBe(12)
    }), 60_000)

  it("sweep --cluster-database writes the CSV of sweep --workers 2 (but wall_s)", () => {
    const grid = GRID.flatMap((g) => ["--grid", g])
    const run = (extra: ReadonlyArray<string>, out: string) => {
      const r = spawnSync(process.execPath, [CLI, "sweep", "--num-requests", "200", ...grid, "--output", out, "-q", ...extra], { encoding: "utf8", timeout: 60_000 })
      expect(r.status, r.stderr).toBe(0)
      return r.stdout
    }
    const clusterOut = run(["--cluster-database", url], path.join(dir, "cluster.csv"))
    run(["--workers", "2"], path.join(dir, "local.csv"))
    expect(clusterOut).toMatch(/12 configurations \(0 failed\) in [\d.]+ s wall on [23] cluster runners/)
    expect(csvWithoutWall(path.join(dir, "cluster.csv"))).toEqual(csvWithoutWall(path.join(dir, "local.csv")))
    expect(csvWithoutWall(path.join(dir, "cluster.csv"))).toHaveLength(13)
  }, 60_000)

  it("sla --cluster-database runs its probes on the runners and ranks as sla --workers 2 does", () => {
    const run = (extra: ReadonlyArray<string>, name: string) => {
      const r = spawnSync(process.execPath, [CLI, "sla", "--num-requests", "200", "--constraint", "p99_ttft_ms<=300", "--constraint", "p99_tpot_ms<=50",
        "--grid", "hardware=A100,H100", "--sla-tolerance", "0.2", "--output", path.join(dir, `${name}.csv`), "--probes-output", path.join(dir, `${name}-probes.csv`), "-q", ...extra],
        { encoding: "utf8", timeout: 60_000 })
      expect(r.status, r.stderr).toBe(0)
      return r.stdout
    }
    expect(run(["--cluster-database", url], "sla-cluster")).toMatch(/2 configurations, \d+ probes in [\d.]+ s wall on the cluster's runners/)
    run(["--workers", "2"], "sla-local")
    const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8")
    expect(read("sla-cluster.csv")).toBe(read("sla-local.csv"))
    expect(read("sla-cluster-probes.csv")).toBe(read("sla-local-probes.csv"))
    expect(read("sla-cluster.csv").trim().split("\n").slice(1).every((l) => l.includes(",found,"))).toBe(true)
  }, 90_000)
})

/**
 * Micro-benchmark of requests.csv: writes N rows (finished requests with realistic times and
 * counts, cycled from 4,096 distinct objects) into a temporary folder (deleted after), three ways:
 * the rows alone through a ByteFile, through `TraceWriter.files` as a run writes them (with the
 * time series' look at each finish), and the text rows the writer used before; `--parquet` adds
 * requests.parquet. Prints rows/s on CPU and wall time.
 * Usage: node dist/bench/rows.js [N=1000000] [--parquet]
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { RequestStatus, SimRequest } from "../domain/SimRequest.js"
import { ByteFile } from "../trace/ByteFile.js"
import { requestRow, writeRequestRow } from "../trace/format.js"
import { TraceWriter } from "../trace/TraceWriter.js"

/** `count` finished requests with distinct, realistic fields (arrivals over 10 minutes, tokens up to 8k). */
export const sampleRequests = (count: number): Array<SimRequest> => {
  const out: Array<SimRequest> = []
  let seed = 12345
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296
  for (let i = 0; i < count; i++) {
    const arrival = Math.floor((i + rnd()) * (600e9 / count)) // rows in about finish order, as a run writes them
    const r = new SimRequest(i, arrival, 1 + Math.floor(rnd() * 8000), 1 + Math.floor(rnd() * 1000))
    r.queuedNs = arrival
    r.firstScheduledNs = arrival + Math.floor(rnd() * 5e9)
    r.firstTokenNs = r.firstScheduledNs + Math.floor(rnd() * 2e9)
    r.numOutput = r.outputTokens
    r.lastTokenNs = r.firstTokenNs + r.numOutput * Math.floor(5e6 + rnd() * 3e7)
    r.finishNs = r.lastTokenNs
    r.status = RequestStatus.Finished
    r.instance = i % 4
    r.cachedPromptTokens = Math.floor(rnd() * 2) * 512
    out.push(r)
  }
  return out
}

interface Timing { readonly label: string; readonly wallS: number; readonly userS: number; readonly sysS: number; readonly bytes: number }

const timed = (label: string, file: string, run: () => void): Timing => {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  run()
  const t1 = performance.now()
  const c1 = process.cpuUsage(c0)
  return { label, wallS: (t1 - t0) / 1000, userS: c1.user / 1e6, sysS: c1.system / 1e6, bytes: fs.existsSync(file) ? fs.statSync(file).size : 0 }
}

const ROUNDS = 3

const main = () => {
  const args = process.argv.slice(2)
  const usage = "usage: node dist/bench/rows.js [N=1000000] [--parquet]"
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage)
    process.exit(0)
  }
  const bad = args.filter((a) => a !== "--parquet" && !/^\d+$/.test(a))
  if (bad.length > 0) {
    console.error(`error: unknown argument ${bad[0]} (expected N, a positive row count, or --parquet)\n${usage}`)
    process.exit(2)
  }
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000)
  if (!(n > 0)) {
    console.error(`error: N: expected a positive row count (got ${n})\n${usage}`)
    process.exit(2)
  }
  const parquet = args.includes("--parquet")
  const reqs = sampleRequests(4096)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-rows-"))
  const results: Array<Timing> = []
  const keep = (t: Timing) => {
    const i = results.findIndex((x) => x.label === t.label)
    if (i < 0) results.push(t)
    else if (t.userS + t.sysS < results[i]!.userS + results[i]!.sysS) results[i] = t
  }
  try {
    // each timed from opening to the close: every row and every flush
    const sink = (format: "csv" | "parquet") => () =>
      Effect.runSync(Effect.scoped(Effect.gen(function*() {
        const onFinish = (yield* TraceWriter).observer.onFinish!
        for (let i = 0; i < n; i++) onFinish(reqs[i & 4095]!)
      }).pipe(Effect.provide(TraceWriter.files(path.join(dir, format), { outputFormat: format })))))
    const csvFile = path.join(dir, "alone.csv")
    const textFile = path.join(dir, "text.csv")
    for (let round = 0; round < ROUNDS; round++) {
    keep(timed("requests.csv rows alone (writeRequestRow into a ByteFile)", csvFile, () => {
      const w = ByteFile.open(csvFile)
      for (let i = 0; i < n; i++) writeRequestRow(w, reqs[i & 4095]!)
      w.close()
    }))
    keep(timed("requests.csv through TraceWriter.files (+ the time series' look at each finish)", path.join(dir, "csv", "requests.csv"), sink("csv")))
    keep(timed("text rows (requestRow strings joined per 1 MiB, the writer before)", textFile, () => {
      const fd = fs.openSync(textFile, "w")
      let parts: Array<string> = []
      let size = 0
      for (let i = 0; i < n; i++) {
        const row = requestRow(reqs[i & 4095]!)
        parts.push(row)
        size += row.length
        if (size >= 1 << 20) {
          fs.writeSync(fd, parts.join(""))
          parts = []
          size = 0
        }
      }
      fs.writeSync(fd, parts.join(""))
      fs.closeSync(fd)
    }))
    if (parquet) keep(timed("requests.parquet through TraceWriter.files", path.join(dir, "parquet", "requests.parquet"), sink("parquet")))
    }
    console.log(`${n} rows, best of ${ROUNDS} rounds; rows/s on CPU time (user + sys) and on wall time (a loaded machine's wall time includes waiting for a core)`)
    for (const r of results) {
      const cpu = r.userS + r.sysS
      console.log(`${(Math.round(n / cpu) / 1e6).toFixed(2).padStart(6)} M rows/s cpu ${(Math.round(n / r.wallS) / 1e6).toFixed(2).padStart(6)} M rows/s wall  ` +
        `(user ${r.userS.toFixed(2)} s, sys ${r.sysS.toFixed(2)} s, ${(r.bytes / 1e6).toFixed(0)} MB)  ${r.label}`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main()

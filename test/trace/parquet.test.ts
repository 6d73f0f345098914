/**
 * --output-format parquet: the files read back (with hyparquet, the writer's companion reader)
 * with the CSV files' columns and values, row for row, for the same run.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "../cli/capture.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-parquet-"))

const readParquet = (file: string) =>
  Effect.promise(async () => {
    const buf = await asyncBufferFromFile(file)
    const meta = await parquetMetadataAsync(buf)
    const rows = await parquetReadObjects({ file: buf }) as Array<Record<string, unknown>>
    return { columns: meta.schema.slice(1).map((s) => s.name), rows, groups: meta.row_groups.length }
  })

/** A CSV file without quoted fields as a header and rows of fields. */
const readCsv = (file: string) => {
  const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n")
  return { columns: lines[0]!.split(","), rows: lines.slice(1).map((l) => l.split(",")) }
}

/** The Parquet value of a CSV field: null for empty, a string or a number as in the file. */
const expectSame = (csv: ReturnType<typeof readCsv>, pq: { columns: Array<string>; rows: Array<Record<string, unknown>> }, tolerance: Record<string, number> = {}) => {
  expect(pq.columns).toEqual(csv.columns)
  expect(pq.rows.length).toBe(csv.rows.length)
  csv.rows.forEach((fields, i) => {
    const row = pq.rows[i]!
    csv.columns.forEach((c, j) => {
      const text = fields[j]!
      const v = row[c]
      if (text === "") expect(v, `${c} row ${i}`).toBeNull()
      else if (typeof v === "string") expect(v, `${c} row ${i}`).toBe(text)
      else if (tolerance[c] !== undefined) expect(Math.abs((v as number) - Number(text)), `${c} row ${i}`).toBeLessThanOrEqual(tolerance[c]!)
      else expect(v, `${c} row ${i}`).toBe(Number(text))
    })
  })
}

describe("--output-format parquet", () => {
  it.effect("requests, timeseries and steps read back with the CSV files' columns and values", () =>
    Effect.gen(function*() {
      const dir = tmp()
      // a rejection (reason text), preemptions and prefix-cache hits, two instances
      const args = ["simulate", "--num-requests", "400", "--request-rate", "40", "--length-dist", "lognormal", "--seed", "4", "--num-instances", "2",
        "--num-gpu-blocks-override", "300", "--max-model-len", "4000", "--random-prefix-len", "64", "--step-log", "--timeseries-interval-s", "0.5", "--quiet"]
      const a = yield* runCapture(...args, "--output-dir", path.join(dir, "csv"))
      const b = yield* runCapture(...args, "--output-dir", path.join(dir, "pq"), "--output-format", "parquet")
      expect(a.stderr + b.stderr).toBe("")
      expect(fs.readdirSync(path.join(dir, "pq")).sort()).toEqual(["requests.parquet", "steps.parquet", "summary.json", "timeseries.parquet"])
      expect(fs.readFileSync(path.join(dir, "pq", "summary.json"), "utf8")).toBe(fs.readFileSync(path.join(dir, "csv", "summary.json"), "utf8"))
      const summary = JSON.parse(fs.readFileSync(path.join(dir, "csv", "summary.json"), "utf8"))
      expect(summary.num_preemptions).toBeGreaterThan(0)
      // the reason column holds commas: compare it apart, the rest field by field
      const reqCsv = fs.readFileSync(path.join(dir, "csv", "requests.csv"), "utf8").trimEnd().split("\n")
      const reqPq = yield* readParquet(path.join(dir, "pq", "requests.parquet"))
      const plain = { columns: reqCsv[0]!.split(","), rows: reqCsv.slice(1).map((l) => { const f = l.split(","); return [...f.slice(0, 24), f.slice(24).join(",")] }) }
      expectSame(plain, { ...reqPq, rows: reqPq.rows.map((r) => ({ ...r, reason: r["reason"] === null ? null : (r["reason"] as string).includes(",") ? `"${r["reason"]}"` : r["reason"] })) }, { tpot_ms: 5e-7 })
      expect(reqPq.rows.some((r) => r["status"] === "rejected" && typeof r["reason"] === "string")).toBe(true)
      expect(reqPq.rows.some((r) => (r["cached_tokens"] as number) > 0)).toBe(true)
      expectSame(readCsv(path.join(dir, "csv", "steps.csv")), yield* readParquet(path.join(dir, "pq", "steps.parquet")))
      expectSame(readCsv(path.join(dir, "csv", "timeseries.csv")), yield* readParquet(path.join(dir, "pq", "timeseries.parquet")),
        { busy_pct: 5e-4, prompt_throughput: 5e-4, gen_throughput: 5e-4, running: 5e-4, waiting: 5e-4, kv_cache_pct: 5e-4 })
    }))

  it.effect("more rows than a row group: several groups, every row once", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const r = yield* runCapture("simulate", "--num-requests", "70000", "--input-len", "8", "--output-len", "2", "--request-rate", "inf", "--output-dir", dir, "--output-format", "parquet", "--quiet")
      expect(r.code).toBe(0)
      const pq = yield* readParquet(path.join(dir, "requests.parquet"))
      expect(pq.groups).toBe(2)
      expect(pq.rows.length).toBe(70_000)
      expect(new Set(pq.rows.map((x) => x["id"])).size).toBe(70_000)
    }))
})

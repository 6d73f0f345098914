/**
 * `npm run bench`: simulation speed over three workloads (workload.ts: the Azure conversation
 * trace repeated, the decode-heavy synthetic, the Mooncake trace with prefix caching) at 100k and
 * 1M requests, each without outputs and with outputs written (requests.csv, timeseries.csv and
 * summary.json into a temporary folder, deleted after), plus `--exact-steps` at 100k to show the
 * fast-forward speed-up. Every point runs in a fresh process (peak RSS is its own). Prints figures
 * only: wall and CPU s (the simulation's; on a loaded machine compare CPU), engine steps, steps/s
 * and ns per step (on wall time), peak RSS, output size.
 *
 *   npm run bench [-- --quick] [-- --workload azure|decode|mooncake]... [-- N ...] [-- --clusters]
 *
 * `--quick` skips the 1M points; sizes given as numbers replace 100k and 1M (the exact-steps
 * point runs at the smallest); `--clusters` adds the two cluster points (8 colocated instances at
 * 8x the Azure rate, 2 prefill + 2 decode at 4x) at 100k. Other flags go to every point (one.ts),
 * e.g. `--hardware A100`, `--output-format parquet`. Needs ../shared/reference.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { BENCH_WORKLOADS, type BenchWorkload, DEFAULT_TRACE, MOONCAKE_TRACE, WORKLOAD_TEXT } from "./workload.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const take = (flag: string): boolean => {
  const i = args.indexOf(flag)
  if (i < 0) return false
  args.splice(i, 1)
  return true
}
if (take("--help") || take("-h")) {
  console.log([
    "usage: npm run bench [-- --quick] [-- --workload azure|decode|mooncake]... [-- N ...] [-- --clusters] [-- one.js flags]",
    "  --quick      skip the 1M points",
    "  --workload   only these workloads (repeatable; default all three)",
    "  N ...        request counts instead of 100k and 1M",
    "  --clusters   add the 8-instance and 2P2D points at 100k",
    "  other flags  go to every point (node dist/bench/one.js --help)"
  ].join("\n"))
  process.exit(0)
}
const quick = take("--quick")
const clusters = take("--clusters")
const chosen: Array<BenchWorkload> = []
for (let i = args.indexOf("--workload"); i >= 0; i = args.indexOf("--workload")) {
  const w = args[i + 1] as BenchWorkload
  if (!(BENCH_WORKLOADS as ReadonlyArray<string>).includes(w)) {
    console.error(`error: --workload: expected one of ${BENCH_WORKLOADS.join(", ")} (got ${args[i + 1]})`)
    process.exit(1)
  }
  chosen.push(w)
  args.splice(i, 2)
}
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number)
const passthrough = args.filter((a) => !/^\d+$/.test(a))
if (sizes.some((n) => n <= 0)) {
  console.error(`error: N: expected positive request counts (got ${sizes.filter((n) => n <= 0).join(", ")})`)
  process.exit(2)
}
// the flags that go to every point, checked once before the table (a bad flag would fail every point in turn)
try {
  execFileSync(process.execPath, [path.join(here, "one.js"), "1", "--workload", "decode", ...passthrough], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] })
} catch (e) {
  process.stderr.write(String((e as { stderr?: string }).stderr ?? e))
  console.error(`error: the flags given to every point were refused: ${passthrough.join(" ")}`)
  process.exit(2)
}
const workloads = chosen.length > 0 ? chosen : [...BENCH_WORKLOADS]
for (const f of [...(workloads.includes("azure") ? [DEFAULT_TRACE] : []), ...(workloads.includes("mooncake") ? [MOONCAKE_TRACE] : [])]) {
  if (!fs.existsSync(f)) {
    console.error(`error: benchmark trace ${f} not found (it ships in ../shared/reference)`)
    process.exit(1)
  }
}
const points = sizes.length > 0 ? [...sizes].sort((a, b) => a - b) : quick ? [100_000] : [100_000, 1_000_000]

/**
 * Per workload, the flags of its points: the Mooncake trace's prompts (about 13k tokens at 3.4
 * requests/s) need about four H100s at its own rate, so it runs at a quarter of it on one.
 */
const WORKLOAD_FLAGS: Record<BenchWorkload, ReadonlyArray<string>> = {
  azure: [],
  decode: [],
  mooncake: ["--rate-scale", "0.25"]
}

interface Point {
  readonly requests: number
  readonly steps: number
  readonly wallS: number
  readonly cpuS: number
  readonly stepsPerS: number
  readonly nsPerStep: number
  readonly peakRssMb: number
  readonly outputMb: number
  readonly simulatedS: number
}

const header = `${"workload".padEnd(9)} ${"requests".padStart(9)} ${"mode".padEnd(12)} ${"wall s".padStart(8)} ${"cpu s".padStart(8)} ${"steps".padStart(10)} ${"steps/s".padStart(10)} ${"ns/step".padStart(8)} ${"peak RSS MB".padStart(11)} ${"output MB".padStart(9)} ${"simulated s".padStart(11)}`
console.log(`benchmark: Llama-3.1-8B-Instruct on one H100 unless overridden (${passthrough.join(" ") || "defaults"}); each point in a fresh process`)
for (const w of workloads) console.log(`  ${w.padEnd(9)} ${WORKLOAD_TEXT[w]}${WORKLOAD_FLAGS[w].length > 0 ? ` (${WORKLOAD_FLAGS[w].join(" ")})` : ""}`)
console.log(header)

let failed = 0
const point = (w: string, n: number, mode: string, extra: ReadonlyArray<string>): Point | undefined => {
  try {
    const out = execFileSync(process.execPath, [path.join(here, "one.js"), String(n), ...extra, ...passthrough], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 24 })
    const r = JSON.parse(out.trim().split("\n").pop()!) as Point
    console.log(`${w.padEnd(9)} ${String(r.requests).padStart(9)} ${mode.padEnd(12)} ${r.wallS.toFixed(2).padStart(8)} ${r.cpuS.toFixed(2).padStart(8)} ${String(r.steps).padStart(10)} ${String(r.stepsPerS).padStart(10)} ${String(r.nsPerStep).padStart(8)} ${String(r.peakRssMb).padStart(11)} ${r.outputMb.toFixed(1).padStart(9)} ${r.simulatedS.toFixed(0).padStart(11)}`)
    return r
  } catch {
    console.log(`${w.padEnd(9)} ${String(n).padStart(9)} ${mode.padEnd(12)} failed`)
    failed++
    return undefined
  }
}

const speedups: Array<string> = []
for (const w of workloads) {
  const base = ["--workload", w, ...WORKLOAD_FLAGS[w]]
  for (const n of points) {
    const ff = point(w, n, "no outputs", base)
    point(w, n, "outputs", [...base, "--outputs"])
    if (n === points[0]) {
      const exact = point(w, n, "exact-steps", [...base, "--exact-steps"])
      if (ff !== undefined && exact !== undefined) speedups.push(`${w} ${n}: ${(exact.wallS / ff.wallS).toFixed(1)}x wall, ${(exact.cpuS / ff.cpuS).toFixed(1)}x cpu`)
    }
  }
}
if (clusters) {
  const dir = path.join(here, "..", "..", "resources", "clusters")
  point("azure", 100_000, "8 coloc x8", ["--workload", "azure", "--cluster-config", path.join(dir, "8x-colocated-llama3.1-8b-h100.yaml"), "--rate-scale", "8"])
  point("azure", 100_000, "2p2d x4", ["--workload", "azure", "--cluster-config", path.join(dir, "2p2d-llama3.1-8b-h100.yaml"), "--rate-scale", "4"])
}
if (speedups.length > 0) console.log(`fast-forward speed-up (exact-steps / fast-forwarded, no outputs): ${speedups.join(", ")}`)
if (failed > 0) {
  console.error(`error: ${failed} benchmark point(s) failed (above)`)
  process.exitCode = 1
}

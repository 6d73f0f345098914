/**
 * `npm run bench`: simulation speed on the Azure 2023 conversation trace repeated to 10k and 100k
 * requests (plus any sizes given as arguments), each in a fresh process. Prints wall seconds,
 * simulated requests per wall second and peak RSS. Needs ../shared/reference (or --trace).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { DEFAULT_TRACE } from "./workload.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number)
const passthrough = args.filter((a) => !/^\d+$/.test(a))
const traceIdx = passthrough.indexOf("--trace")
const trace = traceIdx >= 0 ? passthrough[traceIdx + 1]! : DEFAULT_TRACE
if (!fs.existsSync(trace)) {
  console.error(`error: benchmark trace ${trace} not found (it ships in ../shared/reference; or pass --trace FILE)`)
  process.exit(1)
}
const points = sizes.length > 0 ? sizes : [10_000, 100_000]
console.log(`benchmark: ${path.basename(trace)} repeated, Llama-3.1-8B-Instruct on H100 unless overridden (${passthrough.join(" ") || "defaults"})`)
console.log(`${"requests".padStart(10)} ${"wall s".padStart(8)} ${"req/s".padStart(10)} ${"steps/s".padStart(10)} ${"peak RSS MB".padStart(12)} ${"simulated s".padStart(12)}`)
const point = (n: number, extra: ReadonlyArray<string>, label = "") => {
  const out = execFileSync(process.execPath, [path.join(here, "one.js"), String(n), ...passthrough, ...extra], { encoding: "utf8" })
  const r = JSON.parse(out.trim().split("\n").pop()!)
  console.log(`${String(r.requests).padStart(10)} ${r.wallS.toFixed(2).padStart(8)} ${String(r.reqPerS).padStart(10)} ${String(r.stepsPerS).padStart(10)} ${String(r.peakRssMb).padStart(12)} ${String(r.simulatedS).padStart(12)}  ${label}`)
}
for (const n of points) point(n, [])
// clusters (resources/clusters): the trace's rate scaled with the GPUs serving it
if (sizes.length === 0 && !passthrough.includes("--cluster-config")) {
  const clusters = path.join(here, "..", "..", "resources", "clusters")
  point(100_000, ["--cluster-config", path.join(clusters, "8x-colocated-llama3.1-8b-h100.yaml"), "--rate-scale", "8"], "8 colocated instances, rate x8")
  point(100_000, ["--cluster-config", path.join(clusters, "2p2d-llama3.1-8b-h100.yaml"), "--rate-scale", "4"], "2 prefill + 2 decode, rate x4")
}

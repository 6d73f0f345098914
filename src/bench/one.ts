/**
 * One benchmark point in its own process (so peak RSS is this run's): simulate N requests of a
 * benchmark workload (workload.ts) and print one JSON line {requests, wallS, cpuS, steps,
 * stepsPerS, nsPerStep, peakRssMb, ...} (wall and CPU time of the simulation itself, after the
 * set-up; steps/s and ns/step on wall time). With --outputs the run writes its files (requests.csv,
 * timeseries.csv, summary.json; `--output-format`, `--step-log` as simulate's) into a temporary
 * folder that is deleted after; `outputMb` is their size.
 * Usage: node dist/bench/one.js N [--workload azure|decode|mooncake] [--outputs] [--exact-steps]
 *        [--output-format csv|parquet] [--step-log] [--hardware H] [--model M] [--trace FILE]
 *        [--no-enable-prefix-caching] [--cluster-config FILE] [--rate-scale F]
 */
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { resolveCluster } from "../cluster/resolveCluster.js"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import { simulateCluster } from "../engine/simulate.js"
import { type OutputFormat, TraceWriter } from "../trace/TraceWriter.js"
import { BENCH_WORKLOADS, type BenchWorkload, benchArrivals } from "./workload.js"

const USAGE = "usage: node dist/bench/one.js N [--workload azure|decode|mooncake] [--outputs] [--exact-steps] [--output-format csv|parquet] [--step-log] " +
  "[--hardware H] [--model M] [--trace FILE] [--no-enable-prefix-caching] [--cluster-config FILE] [--rate-scale F]"
const parse = () => parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: "string", default: "azure" },
    outputs: { type: "boolean", default: false },
    "exact-steps": { type: "boolean", default: false },
    "output-format": { type: "string", default: "csv" },
    "step-log": { type: "boolean", default: false },
    "cluster-config": { type: "string" },
    "rate-scale": { type: "string", default: "1" },
    hardware: { type: "string", default: "H100" },
    model: { type: "string", default: "meta-llama/Llama-3.1-8B-Instruct" },
    trace: { type: "string" },
    "no-enable-prefix-caching": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false }
  }
})
const { values, positionals } = (() => {
  try {
    return parse()
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`)
    process.exit(2)
  }
})()
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const n = Number(positionals[0] ?? 10_000)
if (!(Number.isInteger(n) && n > 0)) {
  console.error(`error: N: expected a positive integer request count (got ${JSON.stringify(positionals[0])})\n${USAGE}`)
  process.exit(2)
}
const workload = values.workload as BenchWorkload
if (!(BENCH_WORKLOADS as ReadonlyArray<string>).includes(workload)) {
  console.error(`error: --workload: expected one of ${BENCH_WORKLOADS.join(", ")} (got ${values.workload})`)
  process.exit(1)
}

const dir = values.outputs ? fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-bench-")) : undefined

const dirBytes = (d: string): number => fs.readdirSync(d).reduce((a, f) => a + fs.statSync(path.join(d, f)).size, 0)

const program = Effect.gen(function*() {
  const flags = { model: values.model!, hardware: values.hardware!, enablePrefixCaching: !values["no-enable-prefix-caching"] }
  const file = values["cluster-config"]
  const cluster = file === undefined ? singlePool(yield* resolveConfig(flags), "round-robin") : yield* resolveCluster(file, flags, {})
  const scale = Number(values["rate-scale"])
  const arrivals = (yield* benchArrivals(workload, n, values.trace)).pipe(Stream.map((a) => scale === 1 ? a : { ...a, arrivalNs: Math.round(a.arrivalNs / scale) }))
  const writer = dir === undefined
    ? TraceWriter.none
    : TraceWriter.files(dir, { outputFormat: values["output-format"] as OutputFormat, stepLog: values["step-log"]! })
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const res = yield* simulateCluster(arrivals, cluster, { exactSteps: values["exact-steps"]! }).pipe(Effect.provide(writer))
  const wallS = (performance.now() - t0) / 1000
  const c1 = process.cpuUsage(c0)
  const cpuS = (c1.user + c1.system) / 1e6
  const steps = res.summary.num_steps
  return {
    workload,
    requests: n,
    outputs: dir !== undefined,
    exactSteps: values["exact-steps"],
    completed: res.summary.completed,
    steps,
    wallS: Number(wallS.toFixed(3)),
    cpuS: Number(cpuS.toFixed(3)),
    reqPerS: Math.round(n / wallS),
    stepsPerS: Math.round(steps / wallS),
    nsPerStep: Math.round((wallS * 1e9) / steps),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    outputMb: dir === undefined ? 0 : Number((dirBytes(dir) / 1e6).toFixed(1)),
    simulatedS: Number(res.summary.duration.toFixed(1)),
    meanTtftMs: Number(res.summary.mean_ttft_ms.toFixed(3))
  }
})

Effect.runPromise(program).then(
  (r) => console.log(JSON.stringify(r)),
  (e) => {
    console.error(`error: ${e?.message ?? e}`)
    process.exitCode = 1
  }
).finally(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

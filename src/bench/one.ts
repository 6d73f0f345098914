/**
 * One benchmark point in its own process (so peak RSS is this run's): simulate N requests of the
 * repeated Azure conversation trace and print one JSON line {requests, wallS, reqPerS, peakRssMb, ...}.
 * Usage: node dist/bench/one.js N [--hardware H] [--model M] [--trace FILE] [--no-enable-prefix-caching]
 *        [--cluster-config FILE] [--rate-scale F]
 */
import { Effect, Stream } from "effect"
import { parseArgs } from "node:util"
import { resolveCluster } from "../cluster/resolveCluster.js"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import { simulateCluster } from "../engine/simulate.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { DEFAULT_TRACE, loadBase, repeated } from "./workload.js"

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "cluster-config": { type: "string" }, "rate-scale": { type: "string", default: "1" }, hardware: { type: "string", default: "H100" }, model: { type: "string", default: "meta-llama/Llama-3.1-8B-Instruct" }, trace: { type: "string", default: DEFAULT_TRACE }, "no-enable-prefix-caching": { type: "boolean", default: false } }
})
const n = Number(positionals[0] ?? 10_000)

const program = Effect.gen(function*() {
  const flags = { model: values.model!, hardware: values.hardware!, enablePrefixCaching: !values["no-enable-prefix-caching"] }
  const file = values["cluster-config"]
  const cluster = file === undefined ? singlePool(yield* resolveConfig(flags), "round-robin") : yield* resolveCluster(file, flags, {})
  const base = yield* loadBase(values.trace!)
  const scale = Number(values["rate-scale"])
  const arrivals = Stream.fromIterable(repeated(base, n)).pipe(Stream.map((a) => scale === 1 ? a : { ...a, arrivalNs: Math.round(a.arrivalNs / scale) }))
  const t0 = performance.now()
  const res = yield* simulateCluster(arrivals, cluster).pipe(Effect.provide(TraceWriter.none))
  const wallS = (performance.now() - t0) / 1000
  return {
    requests: n,
    completed: res.summary.completed,
    steps: res.summary.num_steps,
    wallS: Number(wallS.toFixed(3)),
    reqPerS: Math.round(n / wallS),
    stepsPerS: Math.round(res.summary.num_steps / wallS),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    simulatedS: Number(res.summary.duration.toFixed(1)),
    meanTtftMs: Number(res.summary.mean_ttft_ms.toFixed(3))
  }
})

Effect.runPromise(program).then(
  (r) => console.log(JSON.stringify(r)),
  (e) => {
    console.error(`error: ${e?.message ?? e}`)
    process.exit(1)
  }
)

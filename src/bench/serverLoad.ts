/**
 * Server load benchmark: starts `llmservingsim serve --timing-fields` in a child process, opens N
 * concurrent streams (all sent at t = 0) with the test-api client, and reports failures and the
 * lag between each token chunk's scheduled wall time (`due_mono_ns`, from the simulated time) and
 * the time the client read it (both on CLOCK_MONOTONIC via process.hrtime), and the client-measured
 * mean TPOT against the simulated one (vllm:request_time_per_output_token_seconds sum / count).
 *
 *   node dist/bench/serverLoad.js [--streams 500] [--input-len 128] [--output-len 64] [--time-scale 1] [--port 18700] [-- extra serve flags]
 *
 * `SERVE_NODE_ARGS` (environment, space-separated) are node flags for the server child, e.g.
 * `SERVE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` to profile it (NODE_OPTIONS refuses --cpu-prof).
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { loadSummary, runLoad } from "../client/LoadClient.js"
import type { Arrival } from "../engine/Engine.js"

const USAGE = "usage: node dist/bench/serverLoad.js [--streams 500] [--input-len 128] [--output-len 64] [--time-scale 1] [--port 18700] [-- extra serve flags]"
const args = process.argv.slice(2)
const sep = args.indexOf("--")
const extra = sep < 0 ? [] : args.slice(sep + 1)
const parsed = (() => {
  try {
    return parseArgs({
      args: sep < 0 ? args : args.slice(0, sep),
      options: {
        streams: { type: "string" }, "input-len": { type: "string" }, "output-len": { type: "string" },
        "time-scale": { type: "string" }, port: { type: "string" }, help: { type: "boolean", short: "h" }
      },
      strict: true
    }).values
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n${USAGE}`)
    process.exit(2)
  }
})()
if (parsed.help === true) {
  console.log(USAGE)
  process.exit(0)
}
/** A positive number flag, or exit 2 naming it. */
const flag = (name: "streams" | "input-len" | "output-len" | "time-scale" | "port", dflt: number, integer = true): number => {
  const raw = parsed[name]
  if (raw === undefined) return dflt
  const v = Number(raw)
  if (!(v > 0) || (integer && !Number.isInteger(v))) {
    console.error(`error: --${name}: expected a positive ${integer ? "integer" : "number"} (got ${JSON.stringify(raw)})\n${USAGE}`)
    process.exit(2)
  }
  return v
}
const streams = flag("streams", 500)
const inputLen = flag("input-len", 128)
const outputLen = flag("output-len", 64)
const timeScale = flag("time-scale", 1, false)
const port = flag("port", 18700)

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "bin.js")
const base = `http://127.0.0.1:${port}`

const main = async () => {
  const nodeArgs = (process.env["SERVE_NODE_ARGS"] ?? "").split(" ").filter((a) => a !== "")
  const server = spawn(process.execPath, [...nodeArgs, bin, "serve", "--port", String(port), "--time-scale", String(timeScale), "--timing-fields", ...extra], { stdio: ["ignore", "inherit", "inherit"] })
  try {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/health`).then((r) => r.ok, () => false)
      if (ok) break
      if (i > 200) throw new Error("server did not start")
      await new Promise((r) => setTimeout(r, 100))
    }
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: Array<{ id: string }> }
    const arrivals: Array<Arrival> = Array.from({ length: streams }, () => ({ arrivalNs: 0, promptTokens: inputLen, outputTokens: outputLen }))
    const t0 = process.hrtime.bigint()
    const result = await runLoad({ baseUrl: base, model: models.data[0]!.id, endpoint: "completions", maxConcurrency: Infinity, timeScale }, arrivals)
    const wallS = Number(process.hrtime.bigint() - t0) / 1e9
    const s = loadSummary(result, { streams, input_len: inputLen, output_len: outputLen, time_scale: timeScale })
    const status = (await (await fetch(`${base}/status`)).json()) as Record<string, number>
    const metrics = await (await fetch(`${base}/metrics`)).text()
    const series = (n: string) => Number(metrics.split("\n").find((l) => l.startsWith(n + "{"))?.split(" ").pop() ?? NaN)
    const simTpotMs = (series("vllm:request_time_per_output_token_seconds_sum") / series("vllm:request_time_per_output_token_seconds_count")) * 1000
    const clientTpotMs = s["mean_tpot_ms"] as number
    const gauge = (n: string) => metrics.split("\n").find((l) => l.startsWith(n + "{"))?.split(" ").pop()
    const lag = s["chunk_lag_wall_ms"] as { samples: number; median: number; p90: number; p99: number; mean: number } | undefined
    console.log(JSON.stringify({
      streams, completed: s["completed"], failed: s["failed"], wall_s: Number(wallS.toFixed(2)),
      output_tokens: s["total_output_tokens"], max_concurrent_requests: s["max_concurrent_requests"],
      chunk_lag_ms: lag === undefined ? null : { samples: lag.samples, p50: Number(lag.median.toFixed(3)), p90: Number(lag.p90.toFixed(3)), p99: Number(lag.p99.toFixed(3)), mean: Number(lag.mean.toFixed(3)) },
      mean_ttft_ms: s["mean_ttft_ms"], mean_tpot_ms: clientTpotMs, sim_mean_tpot_ms: Number(simTpotMs.toFixed(3)),
      tpot_error_pct: Number(((clientTpotMs / simTpotMs - 1) * 100).toFixed(2)),
      after: { running: gauge("vllm:num_requests_running"), waiting: gauge("vllm:num_requests_waiting"), kv_cache_usage_perc: gauge("vllm:kv_cache_usage_perc") },
      engine_delivery_lag_ms: { mean: status["delivery_lag_mean_ms"], max: status["delivery_lag_max_ms"], last: status["delivery_lag_ms"] },
      errors: (s["errors"] as Array<string>).slice(0, 3)
    }, null, 2))
  } finally {
    server.kill("SIGINT")
  }
}

main().catch((e) => {
  console.error(e)
  process.exitCode = 1
})

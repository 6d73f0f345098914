/**
 * `llmservingsim test-api`: the load client. Sends a workload (the generators and trace readers of
 * `simulate`) to an OpenAI-compatible endpoint, streams every response and reports what
 * `vllm bench serve` reports; `--compare-offline` also runs the offline simulation of the same
 * workload and prints both side by side.
 */
import { routerOf } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Chunk, Console, Effect, Layer, Option, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type LoadResult, loadSummary, runLoad } from "../client/LoadClient.js"
import { resolveConfig } from "../config/resolve.js"
import { FileError, InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { simulate } from "../engine/simulate.js"
import { makeLoraAssigner } from "../lora/assign.js"
import { simulationLayer } from "../layers.js"
import { FrontEndService } from "../frontend/FrontEnd.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { resolveWorkload } from "../workload/Workload.js"
import { engineOptions, toEngineFlags, toWorkloadFlags, workloadOptions } from "./options.js"
import { mkdirs } from "../domain/mkdirs.js"

const testApiOptions = {
  baseUrl: Options.text("base-url").pipe(Options.withDefault("http://127.0.0.1:8000"), Options.withDescription("Server to test, without /v1 (default http://127.0.0.1:8000)")),
  servedModelName: Options.text("served-model-name").pipe(Options.optional, Options.withDescription("Model name to send (default: the first of GET /v1/models)")),
  endpoint: Options.choice("endpoint", ["completions", "chat"]).pipe(Options.withDefault("completions" as const), Options.withDescription("/v1/completions (prompt as token ids, exact lengths) or /v1/chat/completions (default completions)")),
  timeScale: Options.float("time-scale").pipe(Options.withDefault(1), Options.withDescription("The server's --time-scale: arrivals are sent this much faster and measured times multiplied by it (default 1, for a real server)")),
  apiKey: Options.text("api-key").pipe(Options.optional, Options.withDescription("Bearer token to send (default: none)")),
  compareOffline: Options.boolean("compare-offline").pipe(Options.withDescription("Also run the offline simulation of the workload (with the engine flags) and print both")),
  outputDir: Options.text("output-dir").pipe(Options.optional, Options.withDescription("Write summary.json (and offline_summary.json) here (default: write no files)")),
  json: Options.boolean("json").pipe(Options.withDescription("Print the summary JSON instead of the report"))
}

const f2 = (x: unknown) => (typeof x === "number" ? x.toFixed(2) : String(x))

const METRICS: ReadonlyArray<[string, string]> = [
  ["completed", "Successful requests"],
  ["failed", "Failed requests"],
  ["duration", "Benchmark duration (s)"],
  ["total_input_tokens", "Total input tokens"],
  ["total_output_tokens", "Total generated tokens"],
  ["request_throughput", "Request throughput (req/s)"],
  ["output_throughput", "Output token throughput (tok/s)"],
  ["total_token_throughput", "Total token throughput (tok/s)"],
  ...(["ttft", "tpot", "itl", "e2el"] as const).flatMap((m): Array<[string, string]> => [
    [`mean_${m}_ms`, `Mean ${m.toUpperCase()} (ms)`],
    [`median_${m}_ms`, `Median ${m.toUpperCase()} (ms)`],
    [`p99_${m}_ms`, `P99 ${m.toUpperCase()} (ms)`]
  ])
]

/** The report: one column, or server vs offline with the relative difference. */
export const formatTestApiReport = (s: Record<string, unknown>, offline?: Record<string, unknown>): string => {
  const out: Array<string> = []
  out.push(offline === undefined ? "============ Serving Benchmark Result ============" : `${"".padEnd(34)}${"server".padStart(12)}${"offline".padStart(12)}${"diff".padStart(9)}`)
  for (const [k, label] of METRICS) {
    const v = s[k === "failed" && offline !== undefined ? "failed" : k]
    if (offline === undefined) out.push(`${(label + ":").padEnd(40)}${f2(v)}`)
    else {
      const w = k === "failed" ? offline["rejected"] : offline[k]
      const diff = typeof v === "number" && typeof w === "number" && w !== 0 ? `${(((v - w) / w) * 100).toFixed(1)}%` : ""
      out.push(`${label.padEnd(34)}${f2(v).padStart(12)}${f2(w).padStart(12)}${diff.padStart(9)}`)
    }
  }
  const lag = s["chunk_lag_wall_ms"] as { samples: number; median: number; p99: number } | undefined
  if (lag !== undefined) out.push(`Chunk lag, received - scheduled (wall ms): p50 ${lag.median.toFixed(3)}, p99 ${lag.p99.toFixed(3)} over ${lag.samples} chunks`)
  const errors = s["errors"] as ReadonlyArray<string>
  if (errors.length > 0) out.push(`first error: ${errors[0]}`)
  out.push("=".repeat(offline === undefined ? 50 : 67))
  return out.join("\n")
}

const firstModel = (baseUrl: string, apiKey: string | undefined) =>
  Effect.tryPromise({
    try: async () => {
      const res = await fetch(`${baseUrl}/v1/models`, apiKey === undefined ? {} : { headers: { authorization: `Bearer ${apiKey}` } })
      if (!res.ok) throw new Error(`GET /v1/models: HTTP ${res.status}`)
      const j = (await res.json()) as { data: Array<{ id: string }> }
      return j.data[0]!.id
    },
    catch: (e) => new InvalidOption({ option: "--base-url", reason: `cannot reach ${baseUrl}: ${(e as Error).message}` })
  })

export const testApiCommand = Command.make("test-api", { ...engineOptions, ...workloadOptions, ...testApiOptions }, (o) =>
  Effect.gen(function*() {
    if (!(o.timeScale > 0)) return yield* new InvalidOption({ option: "--time-scale", reason: `expected a number > 0 (got ${o.timeScale})` })
    const engineFlags = toEngineFlags(o)
    const cfg = yield* resolveConfig(engineFlags)
    // the offline side models an API server only when asked to: the server under test has a real one
    const given = ([["--frontend-ingress-us", engineFlags.frontendIngressUs], ["--frontend-tokenize-us-per-token", engineFlags.frontendTokenizeUsPerToken], ["--frontend-egress-us", engineFlags.frontendEgressUs]] as const)
      .find(([, v]) => v !== undefined)
    const modelFrontEnd = given !== undefined
    if (given !== undefined && !o.compareOffline) {
      return yield* new InvalidOption({ option: given[0], reason: "the frontend-* flags shape the offline simulation only; add --compare-offline or drop them" })
    }
    const flags = toWorkloadFlags(o)
    // --max-concurrency and --client-think-time-ms are the workload's client, as in simulate
    const workload = yield* resolveWorkload(flags, cfg.seed, cfg.engine.lora?.adapters.map((a) => a.name) ?? null)
    if (workload.sessions !== undefined) {
      return yield* new InvalidOption({ option: workload.sessions === "trace" ? "--trace" : "--num-sessions", reason: "test-api replays open-loop or --max-concurrency workloads; session workloads (each turn sent when the previous answer is back) run in simulate and sweep only" })
    }
    const maxConcurrency = workload.client?.maxConcurrency ?? Infinity
    const thinkTimeMs = (workload.client?.thinkTimeMeanNs ?? 0) / 1e6
    // LoRA: each request's adapter (the trace's lora field, else a seeded draw, as simulate), sent as its model
    const assign = makeLoraAssigner(cfg.engine.lora, cfg.seed)
    const arrivals: Array<Arrival> = []
    for (const a of Chunk.toReadonlyArray(yield* Stream.runCollect(workload.arrivals))) {
      const x = assign(a)
      if (x instanceof InvalidOption) return yield* x
      arrivals.push(x)
    }
    const loraAdapters = cfg.engine.lora?.adapters.map((a) => a.name)
    const apiKey = Option.getOrUndefined(o.apiKey)
    const model = Option.isSome(o.servedModelName) ? o.servedModelName.value : yield* firstModel(o.baseUrl, apiKey)
    yield* Console.warn(`test-api: ${arrivals.length} requests (${workload.description}) -> ${o.baseUrl} /v1/${o.endpoint === "chat" ? "chat/completions" : "completions"} as ${model}${loraAdapters === undefined ? "" : ` and LoRA adapters ${loraAdapters.join(", ")}`}${o.timeScale === 1 ? "" : `, time scale ${o.timeScale}`}`)
    const result: LoadResult = yield* Effect.promise(() =>
      runLoad({ baseUrl: o.baseUrl, model, endpoint: o.endpoint, maxConcurrency, thinkTimeMs, seed: cfg.seed, allAtOnce: workload.client?.allAtOnce === true, timeScale: o.timeScale, apiKey, loraAdapters }, arrivals)
    )
    const summary = loadSummary(result, {
      base_url: o.baseUrl, model, endpoint: o.endpoint, time_scale: o.timeScale,
      max_concurrency: Number.isFinite(maxConcurrency) ? maxConcurrency : null, client_think_time_ms: thinkTimeMs, workload: workload.spec
    })
    let offline: Record<string, unknown> | undefined
    if (o.compareOffline) {
      const sim = yield* simulate(Stream.fromIterable(arrivals), { router: yield* routerOf(o.router), workload: workload.spec, client: workload.client }).pipe(
        Effect.provide(modelFrontEnd ? Layer.merge(simulationLayer(cfg, TraceWriter.none), FrontEndService.layer(cfg.frontEnd)) : simulationLayer(cfg, TraceWriter.none))
      )
      offline = sim.summary as unknown as Record<string, unknown>
    }
    if (Option.isSome(o.outputDir)) {
      const dir = o.outputDir.value
      yield* Effect.try({
        try: () => {
          mkdirs(dir)
          fs.writeFileSync(path.join(dir, "summary.json"), JSON.stringify(summary, null, 2) + "\n")
          if (offline !== undefined) fs.writeFileSync(path.join(dir, "offline_summary.json"), JSON.stringify(offline, null, 2) + "\n")
        },
        catch: (e) => new FileError({ path: dir, reason: (e as Error).message })
      })
    }
    if (o.json) yield* Console.log(JSON.stringify(offline === undefined ? summary : { server: summary, offline }, null, 2))
    else yield* Console.log(formatTestApiReport(summary, offline))
    // a run in which nothing succeeded is a failure of the run, not a measurement
    const done = (summary as unknown as { completed: number }).completed
    if (done === 0 && arrivals.length > 0) {
      return yield* new InvalidOption({ option: "--base-url", reason: `all ${arrivals.length} requests to ${o.baseUrl} failed (see "first error" above)` })
    }
  })
).pipe(Command.withDescription("Load-test an OpenAI-compatible server (ours or vLLM) with a workload; reports vLLM bench serve's metrics, optionally next to the offline simulation"))

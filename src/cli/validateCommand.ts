/**
 * `llmservingsim validate --run DIR|RESULT.json [--workload FILE] [--perf-model ...] [--output-dir DIR]
 * [--tolerance PCT] [--equivalence-margin PCT]`: replay a measured vLLM run (LLMServingSim bench
 * layout with its engine settings, or a `vllm bench serve --save-result --save-detailed` result
 * JSON) and compare TTFT/TPOT/ITL/E2E distributions (statistics, KS, TOST), throughput and KV capacity.
 * SIGINT/SIGTERM stop the replay within a second (exit 130/143, one line saying what was written).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError, InputError, InvalidOption } from "../domain/errors.js"
import { simulate } from "../engine/simulate.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import type { RunSettings } from "../validate/bench.js"
import { accuracyOf, boundFor, compareRun, formatAccuracy, formatComparison, parseTolerance } from "../validate/compare.js"
import { prepareReplay, replayLayer } from "../validate/replay.js"
import { collectSimSamples } from "../validate/simSamples.js"
import { mkdirs } from "../domain/mkdirs.js"
import { setInterruptNote } from "./interrupt.js"
import { engineOptions } from "./options.js"
import { DEFAULT_EQUIVALENCE_MARGIN } from "../metrics/tost.js"

const opt = (name: string, d: string) => Options.text(name).pipe(Options.optional, Options.withDescription(d))

/** Engine flags validate (and calibrate --run) take: they set what a vllm bench result does not record, or override meta.json. */
export const ENGINE_OVERRIDES = {
  maxNumSeqs: [engineOptions.maxNumSeqs, "max_num_seqs"],
  maxNumBatchedTokens: [engineOptions.maxNumBatchedTokens, "max_num_batched_tokens"],
  maxModelLen: [engineOptions.maxModelLen, "max_model_len"],
  blockSize: [engineOptions.blockSize, "block_size"],
  gpuMemoryUtilization: [engineOptions.gpuMemoryUtilization, "gpu_memory_utilization"],
  numGpuBlocksOverride: [engineOptions.numGpuBlocksOverride, "num_gpu_blocks_override"],
  tensorParallelSize: [engineOptions.tensorParallelSize, "tensor_parallel_size"],
  enableChunkedPrefill: [engineOptions.enableChunkedPrefill, "enable_chunked_prefill"],
  enablePrefixCaching: [engineOptions.enablePrefixCaching, "enable_prefix_caching"]
} as const

type OverrideKey = keyof typeof ENGINE_OVERRIDES

/** The ENGINE_OVERRIDES options but --tensor-parallel-size, to spread into a command's options (calibrate has its own TP flag). */
export const ENGINE_OVERRIDE_OPTIONS = {
  maxNumSeqs: ENGINE_OVERRIDES.maxNumSeqs[0],
  maxNumBatchedTokens: ENGINE_OVERRIDES.maxNumBatchedTokens[0],
  maxModelLen: ENGINE_OVERRIDES.maxModelLen[0],
  blockSize: ENGINE_OVERRIDES.blockSize[0],
  gpuMemoryUtilization: ENGINE_OVERRIDES.gpuMemoryUtilization[0],
  numGpuBlocksOverride: ENGINE_OVERRIDES.numGpuBlocksOverride[0],
  enableChunkedPrefill: ENGINE_OVERRIDES.enableChunkedPrefill[0],
  enablePrefixCaching: ENGINE_OVERRIDES.enablePrefixCaching[0]
}

/** The ENGINE_OVERRIDES options as parsed, as engine flags and `name=value` strings for the report. */
export const engineOverridesOf = (o: { readonly [K in OverrideKey]: Option.Option<number | boolean> }): { overrides: Partial<RunSettings["flags"]>; overridden: Array<string> } => {
  const overrides: Partial<RunSettings["flags"]> = {}
  const overridden: Array<string> = []
  for (const key of Object.keys(ENGINE_OVERRIDES) as Array<OverrideKey>) {
    const v = Option.getOrUndefined(o[key])
    if (v === undefined) continue
    ;(overrides as Record<string, unknown>)[key] = v
    overridden.push(`${ENGINE_OVERRIDES[key][1]}=${String(v)}`)
  }
  return { overrides, overridden }
}

export const validateCommand = Command.make(
  "validate",
  {
    run: Options.text("run").pipe(Options.withDescription("Measured run: a folder in LLMServingSim's bench layout (vllm/meta.json + vllm/requests.jsonl), or a `vllm bench serve --save-result --save-detailed` result JSON")),
    workload: opt("workload", "The workload the run replayed (trace file, e.g. LLMServingSim JSONL); required for the bench layout, optional for a vllm bench result (default: rebuilt from its per-request lengths and arrival settings)"),
    perfModel: opt("perf-model", "Step-time model: roofline (default), op-roofline, profile:DIR_OR_CSV, calibrated:FILE"),
    network: opt("network", "Collective-time model: alpha-beta (default), table:DIR, fit:DIR (Vidur all_reduce.csv/send_recv.csv)"),
    hardware: opt("hardware", "GPU (default: from meta.json hardware.device_name; required for a vllm bench result)"),
    model: opt("model", "Model (default: meta.json's model, or the vllm bench result's model_id)"),
    stepOverheadUs: Options.float("step-overhead-us").pipe(Options.optional, Options.withDescription("Fixed time per engine step, us (default: 0 when the run used async scheduling, else the perf model's default)")),
    ...ENGINE_OVERRIDE_OPTIONS,
    tensorParallelSize: ENGINE_OVERRIDES.tensorParallelSize[0],
    seed: Options.integer("seed").pipe(Options.optional, Options.withDescription("Seed of re-drawn arrival times (a vllm bench result without start_times; default 0)")),
    outputDir: opt("output-dir", "Write validation.json (and the simulated requests.csv, timeseries.csv, summary.json) here (default: write no files)"),
    tolerance: opt("tolerance", "Fail (exit 1) beyond this |diff| in %: PCT, or per metric: ttft=5,tpot=3,itl=5,e2el=3,num_gpu_blocks=2,throughput=5 (families or exact row names; default: report only, exit 0)"),
    equivalenceMargin: Options.float("equivalence-margin").pipe(Options.optional, Options.withDescription("TOST equivalence band, % of the measured mean (default 10, as LLMServingSim 2.0)")),
    json: Options.boolean("json").pipe(Options.withDescription("Print validation.json to stdout instead of the table"))
  },
  (o) =>
    Effect.gen(function*() {
      const tol = Option.isNone(o.tolerance) ? undefined : parseTolerance(o.tolerance.value)
      if (typeof tol === "string") return yield* new InvalidOption({ option: "--tolerance", reason: tol })
      const marginPct = Option.getOrElse(o.equivalenceMargin, () => DEFAULT_EQUIVALENCE_MARGIN * 100)
      if (!(Number.isFinite(marginPct) && marginPct > 0 && marginPct < 100)) return yield* new InvalidOption({ option: "--equivalence-margin", reason: `expected a percentage in (0, 100) (got ${marginPct})` })
      const margin = marginPct / 100
      const { overrides, overridden } = engineOverridesOf(o)
      const prep = yield* prepareReplay({
        run: o.run,
        workload: Option.getOrUndefined(o.workload),
        perfModel: Option.getOrUndefined(o.perfModel),
        network: Option.getOrUndefined(o.network),
        hardware: Option.getOrUndefined(o.hardware),
        model: Option.getOrUndefined(o.model),
        stepOverheadUs: Option.getOrUndefined(o.stepOverheadUs),
        seed: Option.getOrUndefined(o.seed),
        overrides,
        overridden
      })
      const { run, settings: st, metaPath, cfg, workloadName } = prep
      const rebuilt = prep.rebuiltDescription === undefined ? undefined : { description: prep.rebuiltDescription }
      const outDir = Option.getOrUndefined(o.outputDir)
      const writer = outDir === undefined ? TraceWriter.none : TraceWriter.files(outDir)
      const collected = collectSimSamples(run.samples.itl !== undefined)
      const result = yield* simulate(prep.arrivals, { workload: prep.workloadSpec, observer: collected.observer }).pipe(
        Effect.provide(replayLayer(cfg, writer, prep.clientMeasured)),
        Effect.onInterrupt(() => setInterruptNote(outDir === undefined
          ? "validation stopped during the replay; nothing compared or written"
          : `validation stopped during the replay; nothing compared (no validation.json); the replay so far is in ${outDir}/ (summary.json says "interrupted": true)`))
      )
      const sim = result.summary
      // the same requests must have run: counts and token totals (rejections mean settings differ)
      if (sim.rejected > 0 || sim.completed !== run.requests || sim.total_input_tokens !== run.totalInput || sim.total_output_tokens !== run.totalOutput) {
        const where = run.format === "vllm-bench-serve" ? o.run : `${o.run}/vllm/requests.jsonl`
        return yield* new InputError({
          path: rebuilt !== undefined ? o.run : workloadName,
          expected: `the workload the run replayed: ${run.requests} requests, ${run.totalInput} input and ${run.totalOutput} output tokens in ${where}`,
          got: `${sim.completed} requests${sim.rejected > 0 ? ` (+${sim.rejected} rejected: ${sim.rejections[0]?.reason})` : ""}, ${sim.total_input_tokens} input and ${sim.total_output_tokens} output tokens`
        })
      }
      const rows = compareRun(run, collected.samples, result.summary, result.capacity.numBlocks, st.measuredBlocks)
      const accuracy = accuracyOf(run, collected.samples, margin)
      if (tol !== undefined) {
        const known = new Set(["default", "ttft", "tpot", "e2el", "throughput", ...(rows["mean_itl_ms"] === undefined ? [] : ["itl"]), ...Object.keys(rows)])
        const unknown = [...tol.keys()].filter((k) => !known.has(k))
        if (unknown.includes("num_gpu_blocks")) {
          return yield* new InvalidOption({ option: "--tolerance", reason: `num_gpu_blocks: ${metaPath} records no KV block count (kv_cache.num_gpu_blocks), so it cannot be compared` })
        }
        const itlKey = unknown.find((k) => k === "itl" || /_itl_ms$/.test(k))
        if (itlKey !== undefined) {
          return yield* new InvalidOption({ option: "--tolerance", reason: `${itlKey}: the measured run records no per-token times (the bench layout has first and last token only), so ITL cannot be compared` })
        }
        if (unknown.length > 0) {
          return yield* new InvalidOption({ option: "--tolerance", reason: `unknown metric ${unknown.join(", ")}; use ttft, tpot, e2el, throughput or one of ${Object.keys(rows).join(", ")}` })
        }
      }
      const failures = tol === undefined ? [] : Object.entries(rows).filter(([k, r]) => {
        const b = boundFor(tol, k)
        return b !== undefined && !(Math.abs(r.diff_pct) <= b)
      })
      const doc = {
        run: o.run,
        run_format: run.format,
        workload: workloadName,
        model: cfg.model.id,
        hardware: cfg.hardware.name,
        perf_model: result.perfModel,
        requests: { measured: run.requests, simulated: result.summary.completed, rejected: result.summary.rejected },
        simulated: { num_preemptions: sim.num_preemptions, prefix_cache_hit_rate: sim.prefix_cache_hit_rate },
        metrics: rows,
        accuracy,
        ...Object.fromEntries(Object.entries(rows)),
        settings: { honoured: st.honoured, not_honoured: st.notHonoured },
        tolerance: tol === undefined ? null : Object.fromEntries(tol),
        equivalence_margin_pct: marginPct,
        passed: failures.length === 0
      }
      if (outDir !== undefined) {
        yield* Effect.try({
          try: () => {
            mkdirs(outDir)
            fs.writeFileSync(path.join(outDir, "validation.json"), JSON.stringify(doc, null, 2) + "\n")
          },
          catch: (e) => new FileError({ path: path.join(outDir, "validation.json"), reason: (e as Error).message })
        })
      }
      if (o.json) yield* Console.log(JSON.stringify(doc, null, 2))
      else {
        yield* Console.log(`Validation: ${o.run}${run.format === "vllm-bench-serve" ? " (vllm bench serve result)" : ""}`)
        if (rebuilt !== undefined) yield* Console.log(`  workload: ${rebuilt.description}`)
        yield* Console.log(`  model ${cfg.model.id} on ${cfg.hardware.name}; perf model ${result.perfModel}`)
        yield* Console.log(`  requests: ${run.requests} measured, ${result.summary.completed} simulated (${result.summary.rejected} rejected); preemptions simulated: ${result.summary.num_preemptions}` +
          (cfg.engine.enablePrefixCaching ? `; prefix-cache hit rate simulated: ${(100 * result.summary.prefix_cache_hit_rate).toFixed(2)}%` : ""))
        if (st.deviceName !== undefined && Option.isSome(o.hardware)) {
          yield* Console.log(`  note: --hardware ${o.hardware.value} replaces the run's ${st.deviceName} for compute; the KV cache is still sized from the run's reported device memory`)
        }
        yield* Console.log("")
        yield* Console.log(formatComparison(rows, tol))
        yield* Console.log("")
        yield* Console.log(formatAccuracy(accuracy, margin))
        yield* Console.log("")
        yield* Console.log((run.format === "vllm-bench-serve" ? "Reproduced: " : "Engine settings reproduced: ") + st.honoured.join("; "))
        if (st.notHonoured.length > 0) yield* Console.log("Not honoured (or only in part):\n" + st.notHonoured.map((x) => `  - ${x}`).join("\n"))
        if (outDir !== undefined) yield* Console.log(`validation.json written to ${outDir}/`)
      }
      if (failures.length > 0) {
        return yield* new InvalidOption({ option: "--tolerance", reason: `${failures.length} metric(s) beyond bounds: ${failures.map(([k, r]) => `${k} ${r.diff_pct >= 0 ? "+" : ""}${r.diff_pct.toFixed(1)}% (bound ±${boundFor(tol!, k)}%)`).join(", ")}` })
      }
    })
).pipe(Command.withDescription("Replay a measured vLLM run (bench layout: vllm/meta.json + requests.jsonl; or a `vllm bench serve --save-detailed` result JSON) and compare simulated vs measured TTFT, TPOT, ITL, E2E latency (mean/p50/p90/p95/p99, KS, ±10% TOST), throughput and KV capacity"))

/**
 * `llmservingsim validate --run DIR --workload FILE [--perf-model ...] [--output-dir DIR]
 * [--tolerance PCT]`: replay a measured vLLM run (LLMServingSim bench layout) with its engine
 * settings and compare TTFT/TPOT/E2E distributions and KV capacity. SIGINT/SIGTERM stop the replay
 * within a second (exit 130/143, one line saying what was written).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { loadModel } from "../config/catalog.js"
import { resolveConfig } from "../config/resolve.js"
import { FileError, InputError, InvalidOption } from "../domain/errors.js"
import { simulate } from "../engine/simulate.js"
import { simulationLayer } from "../layers.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { readBenchRun, runSettings } from "../validate/bench.js"
import { boundFor, compareRun, formatComparison, parseTolerance } from "../validate/compare.js"
import { resolveWorkload } from "../workload/Workload.js"
import { mkdirs } from "../domain/mkdirs.js"
import { setInterruptNote } from "./interrupt.js"

const opt = (name: string, d: string) => Options.text(name).pipe(Options.optional, Options.withDescription(d))

export const validateCommand = Command.make(
  "validate",
  {
    run: Options.text("run").pipe(Options.withDescription("Measured run folder (holding vllm/meta.json and vllm/requests.jsonl)")),
    workload: Options.text("workload").pipe(Options.withDescription("The workload the run replayed (trace file, e.g. LLMServingSim JSONL)")),
    perfModel: opt("perf-model", "Step-time model: roofline (default), op-roofline, profile:DIR_OR_CSV, calibrated:FILE"),
    network: opt("network", "Collective-time model: alpha-beta (default), table:DIR, fit:DIR (Vidur all_reduce.csv/send_recv.csv)"),
    hardware: opt("hardware", "GPU (default: from meta.json hardware.device_name)"),
    model: opt("model", "Model (default: meta.json's model)"),
    stepOverheadUs: Options.float("step-overhead-us").pipe(Options.optional, Options.withDescription("Fixed time per engine step, us (default: 0 when the run used async scheduling, else the perf model's default)")),
    outputDir: opt("output-dir", "Write validation.json (and the simulated requests.csv, steps.csv, summary.json) here (default: write no files)"),
    tolerance: opt("tolerance", "Fail (exit 1) beyond this |diff| in %: PCT, or per metric: ttft=5,tpot=3,e2el=3,num_gpu_blocks=2 (default: report only, exit 0)"),
    json: Options.boolean("json").pipe(Options.withDescription("Print validation.json to stdout instead of the table"))
  },
  (o) =>
    Effect.gen(function*() {
      const tol = Option.isNone(o.tolerance) ? undefined : parseTolerance(o.tolerance.value)
      if (typeof tol === "string") return yield* new InvalidOption({ option: "--tolerance", reason: tol })
      const run = yield* readBenchRun(o.run)
      const st = yield* runSettings(run)
      const hardwareName = Option.getOrUndefined(o.hardware) ?? st.deviceName
      if (hardwareName === undefined) return yield* new InvalidOption({ option: "--hardware", reason: `${run.metaPath} names no device (hardware.device_name); give --hardware` })
      const modelName = Option.getOrUndefined(o.model) ?? st.model
      // vLLM ignores enable_expert_parallel on a dense model (no MoE layers); so does the replay
      const { enableExpertParallel, ...runFlags } = st.flags
      const dense = enableExpertParallel === true && (yield* loadModel(modelName)).shape.moe === null
      const base = yield* resolveConfig({
        model: modelName,
        hardware: hardwareName,
        ...runFlags,
        ...(enableExpertParallel === undefined || dense ? {} : { enableExpertParallel }),
        perfModel: Option.getOrUndefined(o.perfModel),
        network: Option.getOrUndefined(o.network),
        stepOverheadUs: Option.getOrUndefined(o.stepOverheadUs) ?? (st.asyncScheduling ? 0 : undefined)
      })
      // the run's device memory as CUDA reported it (what vLLM sized the KV cache from)
      const cfg = st.deviceMemoryBytes === undefined ? base : { ...base, hardware: { ...base.hardware, memoryBytesVisible: st.deviceMemoryBytes } }
      const workload = yield* resolveWorkload({ trace: o.workload }, cfg.seed)
      const outDir = Option.getOrUndefined(o.outputDir)
      const writer = outDir === undefined ? TraceWriter.none : TraceWriter.files(outDir)
      const result = yield* simulate(workload.arrivals, { workload: workload.spec }).pipe(
        Effect.provide(simulationLayer(cfg, writer)),
        Effect.onInterrupt(() => setInterruptNote(outDir === undefined
          ? "validation stopped during the replay; nothing compared or written"
          : `validation stopped during the replay; nothing compared (no validation.json); the replay so far is in ${outDir}/ (summary.json says "interrupted": true)`))
      )
      const sim = result.summary
      // the same requests must have run: counts and token totals (rejections mean settings differ)
      if (sim.rejected > 0 || sim.completed !== run.requests || sim.total_input_tokens !== run.totalInput || sim.total_output_tokens !== run.totalOutput) {
        return yield* new InputError({
          path: o.workload,
          expected: `the workload the run replayed: ${run.requests} requests, ${run.totalInput} input and ${run.totalOutput} output tokens in ${run.dir}/vllm/requests.jsonl`,
          got: `${sim.completed} requests${sim.rejected > 0 ? ` (+${sim.rejected} rejected: ${sim.rejections[0]?.reason})` : ""}, ${sim.total_input_tokens} input and ${sim.total_output_tokens} output tokens`
        })
      }
      const rows = compareRun(run, result.summary, result.capacity.numBlocks, st.measuredBlocks)
      if (tol !== undefined) {
        const known = new Set(["default", "ttft", "tpot", "e2el", ...Object.keys(rows)])
        const unknown = [...tol.keys()].filter((k) => !known.has(k))
        if (unknown.includes("num_gpu_blocks")) {
          return yield* new InvalidOption({ option: "--tolerance", reason: `num_gpu_blocks: ${run.metaPath} records no KV block count (kv_cache.num_gpu_blocks), so it cannot be compared` })
        }
        if (unknown.length > 0) {
          return yield* new InvalidOption({ option: "--tolerance", reason: `unknown metric ${unknown.join(", ")}; use ttft, tpot, e2el or one of ${Object.keys(rows).join(", ")}` })
        }
      }
      const failures = tol === undefined ? [] : Object.entries(rows).filter(([k, r]) => {
        const b = boundFor(tol, k)
        return b !== undefined && !(Math.abs(r.diff_pct) <= b)
      })
      const doc = {
        run: run.dir,
        workload: o.workload,
        model: cfg.model.id,
        hardware: cfg.hardware.name,
        perf_model: result.perfModel,
        requests: { measured: run.requests, simulated: result.summary.completed, rejected: result.summary.rejected },
        simulated: { num_preemptions: sim.num_preemptions, prefix_cache_hit_rate: sim.prefix_cache_hit_rate },
        metrics: rows,
        ...Object.fromEntries(Object.entries(rows)),
        settings: { honoured: st.honoured, not_honoured: st.notHonoured },
        tolerance: tol === undefined ? null : Object.fromEntries(tol),
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
        yield* Console.log(`Validation: ${run.dir}`)
        yield* Console.log(`  model ${cfg.model.id} on ${cfg.hardware.name}; perf model ${result.perfModel}`)
        yield* Console.log(`  requests: ${run.requests} measured, ${result.summary.completed} simulated (${result.summary.rejected} rejected); preemptions simulated: ${result.summary.num_preemptions}` +
          (cfg.engine.enablePrefixCaching ? `; prefix-cache hit rate simulated: ${(100 * result.summary.prefix_cache_hit_rate).toFixed(2)}%` : ""))
        if (st.deviceName !== undefined && Option.isSome(o.hardware)) {
          yield* Console.log(`  note: --hardware ${o.hardware.value} replaces the run's ${st.deviceName} for compute; the KV cache is still sized from the run's reported device memory`)
        }
        yield* Console.log("")
        yield* Console.log(formatComparison(rows, tol))
        yield* Console.log("")
        yield* Console.log("Engine settings reproduced: " + st.honoured.join("; "))
        if (st.notHonoured.length > 0) yield* Console.log("Not honoured yet:\n" + st.notHonoured.map((x) => `  - ${x}`).join("\n"))
        if (outDir !== undefined) yield* Console.log(`validation.json written to ${outDir}/`)
      }
      if (failures.length > 0) {
        return yield* new InvalidOption({ option: "--tolerance", reason: `${failures.length} metric(s) beyond bounds: ${failures.map(([k, r]) => `${k} ${r.diff_pct >= 0 ? "+" : ""}${r.diff_pct.toFixed(1)}% (bound ±${boundFor(tol!, k)}%)`).join(", ")}` })
      }
    })
).pipe(Command.withDescription("Replay a measured vLLM run (vllm/meta.json + requests.jsonl) and compare simulated vs measured TTFT, TPOT, E2E latency and KV capacity"))

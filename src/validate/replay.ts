/**
 * The replay of a measured serving run, shared by `validate` and `calibrate --run`: read the run
 * (LLMServingSim bench layout, bench.ts, or a `vllm bench serve --save-detailed` result JSON,
 * vllmBenchResult.ts), reproduce its engine settings as engine flags (meta.json, or this
 * simulator's vLLM defaults plus the flags given for a vllm bench result), resolve the
 * configuration and the workload it replayed, and say what is and is not reproduced.
 *
 * Per-step CPU overhead: a run with vLLM's async scheduling gets 0 (its CPU work overlaps the GPU
 * step) unless `--step-overhead-us` is given or the perf model is `calibrated:` (a calibration's
 * stack part says what the serving stack costs per step; perf/calibration.ts).
 * The front end (frontend/FrontEnd.ts) is modelled only for a run measured at the client (a vllm
 * bench result): the bench layout times from the engine's queued_ts.
 */
import * as fs from "node:fs"
import { Effect, Layer, Stream } from "effect"
import type { SimConfig } from "../config/ConfigService.js"
import { loadModel } from "../config/catalog.js"
import { type ConfigError, type EngineFlags, resolveConfig } from "../config/resolve.js"
import { FileError, type InputError, InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { FrontEndService } from "../frontend/FrontEnd.js"
import { simulationLayer } from "../layers.js"
import type { TraceWriter } from "../trace/TraceWriter.js"
import { resolveWorkload } from "../workload/Workload.js"
import type { TraceError } from "../workload/traces/TraceReader.js"
import { readBenchRun, runSettings, type RunSettings } from "./bench.js"
import type { MeasuredRun } from "./measured.js"
import { benchResultWorkload, isVllmBenchResultPath, readVllmBenchResult } from "./vllmBenchResult.js"

/** What a replay is asked for (undefined = from the run, or the default). */
export interface ReplayFlags {
  /** The bench-layout folder or the vllm bench result JSON. */
  readonly run: string
  /** The trace the run replayed (required for the bench layout). */
  readonly workload?: string | undefined
  readonly perfModel?: string | undefined
  readonly network?: string | undefined
  readonly hardware?: string | undefined
  readonly model?: string | undefined
  /** --step-overhead-us, us. */
  readonly stepOverheadUs?: number | undefined
  /** Seed of re-drawn arrivals (a vllm bench result without start_times). */
  readonly seed?: number | undefined
  /** Engine flags that override meta.json or set what a vllm bench result does not record. */
  readonly overrides?: Partial<RunSettings["flags"]> | undefined
  /** `name=value` of each override, for the report. */
  readonly overridden?: ReadonlyArray<string> | undefined
}

/** A measured run ready to replay. */
export interface PreparedReplay {
  readonly run: MeasuredRun
  readonly settings: RunSettings
  /** meta.json (bench layout) or the result JSON. */
  readonly metaPath: string
  /** The resolved configuration (device memory as the run reported it, where it did). */
  readonly cfg: SimConfig
  /** The flags `cfg` was resolved from (without the device-memory override), to re-resolve with changes. */
  readonly engineFlags: EngineFlags
  readonly arrivals: Stream.Stream<Arrival, TraceError>
  readonly workloadSpec: Record<string, unknown>
  /** The trace path, or "(rebuilt from RUN)". */
  readonly workloadName: string
  /** A vllm bench result's workload rebuilt from its per-request lengths and send times. */
  readonly rebuiltDescription: string | undefined
  /** TTFT/E2E measured at the client: the front end is part of what was measured (and is modelled). */
  readonly clientMeasured: boolean
}

/** Why a replay cannot be prepared. */
export type ReplayError = ConfigError | FileError | InputError | InvalidOption | TraceError

/**
 * Read the run named by `f.run` and resolve its replay. Fails with FileError/InputError for an
 * unreadable or malformed run, InvalidOption for a missing --workload/--hardware/--model or a
 * --seed that does not apply, and the configuration's errors (ConfigError).
 */
export const prepareReplay = (f: ReplayFlags): Effect.Effect<PreparedReplay, ReplayError> =>
  Effect.gen(function*() {
    const overrides = f.overrides ?? {}
    const overridden = f.overridden ?? []
    const benchJson = isVllmBenchResultPath(f.run)
    let run: MeasuredRun
    let st: RunSettings
    let metaPath: string
    let rebuilt: { arrivals: ReadonlyArray<Arrival>; description: string; spec: Record<string, unknown> } | undefined
    if (benchJson) {
      const r = yield* readVllmBenchResult(f.run)
      run = r
      metaPath = f.run
      const model = f.model ?? r.modelId
      if (model === undefined) return yield* new InvalidOption({ option: "--model", reason: `${f.run} names no model (model_id); give --model` })
      if (f.hardware === undefined) return yield* new InvalidOption({ option: "--hardware", reason: `${f.run} is a vllm bench result, which records no GPU; give --hardware` })
      const replay = yield* benchResultWorkload(r, f.seed ?? 0)
      if (f.workload === undefined) rebuilt = replay
      st = {
        model,
        deviceName: undefined,
        deviceMemoryBytes: undefined,
        measuredBlocks: undefined,
        asyncScheduling: false,
        flags: {},
        honoured: [
          ...(f.workload === undefined ? replay.honoured : [`workload: ${f.workload} (as given; its requests must be the result's)`]),
          "front end: its TTFT and E2E are measured at the client, so the API server's ingress and egress are modelled (the frontend defaults, frontend/FrontEnd.ts)"
        ],
        notHonoured: [
          ...(f.workload === undefined ? replay.notHonoured : replay.notHonoured.filter((x) => x.startsWith("max_concurrency") || x.includes("failed request"))),
          `engine settings: a vllm bench result records none; this simulator's vLLM defaults are used${overridden.length > 0 ? ` except ${overridden.join(", ")} (by flag)` : ""} (set them with --max-num-seqs, --max-num-batched-tokens, ...)`,
          "KV capacity: not recorded in a vllm bench result, so not compared",
          ...(f.stepOverheadUs !== undefined ? [] : ["async scheduling: not recorded; the perf model's per-step CPU overhead applies (give --step-overhead-us 0 for a server that ran async scheduling)"]),
          "TTFT/ITL/E2E were measured at the client (HTTP, tokenization, detokenization and streaming included); the API server is modelled as fixed delays per request, prompt token and output token (frontend/FrontEnd.ts), not its queueing under load"
        ]
      }
    } else {
      // a missing folder is the first thing to say, before what else the layout needs
      if (!fs.existsSync(f.run)) return yield* new FileError({ path: f.run, reason: "no such file or folder (--run: a bench-layout run folder or a vllm bench result JSON)" })
      if (f.workload === undefined) return yield* new InvalidOption({ option: "--workload", reason: "required with a bench-layout run folder (the trace the run replayed)" })
      if (f.seed !== undefined) return yield* new InvalidOption({ option: "--seed", reason: "applies to a vllm bench result whose arrivals are re-drawn; the bench layout replays --workload" })
      const b = yield* readBenchRun(f.run)
      run = b
      metaPath = b.metaPath
      const s0 = yield* runSettings(b)
      st = overridden.length === 0 ? s0 : { ...s0, flags: { ...s0.flags, ...overrides }, honoured: [...s0.honoured, `set by flag (instead of meta.json): ${overridden.join(", ")}`] }
    }
    const hardwareName = f.hardware ?? st.deviceName
    if (hardwareName === undefined) return yield* new InvalidOption({ option: "--hardware", reason: `${metaPath} names no device (hardware.device_name); give --hardware` })
    const modelName = f.model ?? st.model
    // vLLM ignores enable_expert_parallel on a dense model (no MoE layers); so does the replay
    const { enableExpertParallel, ...runFlags } = { ...st.flags, ...overrides }
    const dense = enableExpertParallel === true && (yield* loadModel(modelName)).shape.moe === null
    const calibrated = f.perfModel?.trim().startsWith("calibrated:") === true
    const engineFlags: EngineFlags = {
      model: modelName,
      hardware: hardwareName,
      ...runFlags,
      ...(enableExpertParallel === undefined || dense ? {} : { enableExpertParallel }),
      perfModel: f.perfModel,
      network: f.network,
      stepOverheadUs: f.stepOverheadUs ?? (st.asyncScheduling && !calibrated ? 0 : undefined)
    }
    const base = yield* resolveConfig(engineFlags)
    // the run's device memory as CUDA reported it (what vLLM sized the KV cache from)
    const cfg = st.deviceMemoryBytes === undefined ? base : { ...base, hardware: { ...base.hardware, memoryBytesVisible: st.deviceMemoryBytes } }
    const workload: { arrivals: Stream.Stream<Arrival, TraceError>; spec: Record<string, unknown> } = rebuilt !== undefined
      ? { arrivals: Stream.fromIterable(rebuilt.arrivals), spec: rebuilt.spec }
      : yield* resolveWorkload({ trace: f.workload! }, cfg.seed)
    if ("sessions" in workload && workload.sessions !== undefined) {
      return yield* new InvalidOption({ option: "--workload", reason: `${f.workload} holds agentic sessions (sub_requests); validate replays a run's requests open-loop as they were sent, so it cannot reproduce their turn-by-turn timing` })
    }
    return {
      run,
      settings: st,
      metaPath,
      cfg,
      engineFlags,
      arrivals: workload.arrivals,
      workloadSpec: workload.spec,
      workloadName: rebuilt !== undefined ? `(rebuilt from ${f.run})` : f.workload!,
      rebuiltDescription: rebuilt?.description,
      clientMeasured: run.format === "vllm-bench-serve"
    }
  })

/**
 * The simulation layers of a replay under configuration `cfg`: the standard layers, plus the front
 * end of `cfg` when the run was measured at the client (`clientMeasured`).
 */
export const replayLayer = <E, R>(cfg: SimConfig, writer: Layer.Layer<TraceWriter, E, R>, clientMeasured: boolean) =>
  clientMeasured ? Layer.merge(simulationLayer(cfg, writer), FrontEndService.layer(cfg.frontEnd)) : simulationLayer(cfg, writer)

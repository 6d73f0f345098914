/**
 * `reproduce`: run every published scenario the simulator can express, in-process, and compare
 * each published row with the prediction (% error); summarise the median absolute % error per
 * metric family over the rows that ran; list every row that did not run with its reason.
 */
import * as path from "node:path"
import { Effect, Option, Stream } from "effect"
import { resolveConfig } from "../config/resolve.js"
import { singlePool } from "../domain/Cluster.js"
import type { Arrival } from "../engine/Engine.js"
import { simulate, simulateCluster, type SimulationResult } from "../engine/simulate.js"
import { loadModel } from "../config/catalog.js"
import { simulationLayer } from "../layers.js"
import { TraceWriter } from "../trace/TraceWriter.js"
import { readBenchRun, runSettings } from "../validate/bench.js"
import { resolveWorkload } from "../workload/Workload.js"
import { generatorStream } from "../workload/generator.js"
import type { SimConfig } from "../domain/SimConfig.js"
import { flagsText, planScenario, type RunPlan, type ScenarioContext } from "./mapping.js"
import { errorPct, FAMILIES, mapMetric, median, type MetricFamily, summaryValue } from "./metrics.js"
import { readLaunchCommands } from "./launchCommands.js"
import { groupScenarios, readPublished, type Scenario, scenarioLabel } from "./published.js"
import { type LengthPool, readLengthPool, resampledArrivals, SHAREGPT_FILTER_TEXT } from "./workload.js"

/** What `reproduce` needs besides the file. */
export interface ReproduceOptions extends ScenarioContext {
  /** Trace files whose lengths ShareGPT rows are resampled from. */
  readonly poolFiles: ReadonlyArray<string>
  /** Launch-command file (default the bundled resources/reproduce/launch-commands.json). */
  readonly launchCommands?: string | undefined
}

/** One published row and its prediction (or why there is none). */
export interface RowResult {
  readonly scenario: string
  readonly line: number
  readonly metric: string
  readonly unit: string
  readonly published: number
  /** The summary key compared (absent when the metric has no mapping). */
  readonly key?: string | undefined
  readonly family?: MetricFamily | undefined
  /** In the published unit. */
  readonly predicted?: number | undefined
  readonly errorPct?: number | undefined
  /** Why the row was not compared. */
  readonly notRun?: string | undefined
}

/** One scenario: its plan, the run's headline numbers, and its rows. */
export interface ScenarioResult {
  readonly id: string
  readonly label: string
  readonly status: "ran" | "not-expressible" | "failed"
  /** Missing features (not-expressible) or the error (failed). */
  readonly reasons: ReadonlyArray<string>
  /** Reproduced from a measured run in --bench-runs (the project validates on those): not out-of-sample. */
  readonly inSample?: boolean | undefined
  readonly flags?: string | undefined
  readonly workload?: string | undefined
  readonly perfModel?: string | undefined
  readonly settings: ReadonlyArray<string>
  readonly approximations: ReadonlyArray<string>
  /** Facts about the simulated run worth reading next to the errors. */
  readonly notes: ReadonlyArray<string>
  readonly simulated?: {
    readonly completed: number
    readonly rejected: number
    readonly preemptions: number
    readonly meanPromptTokens: number
    readonly meanOutputTokens: number
  } | undefined
  readonly rows: ReadonlyArray<RowResult>
}

/** The whole comparison (what `--json` prints). */
export interface ReproduceReport {
  readonly file: string
  readonly rows: number
  readonly pool: { readonly files: ReadonlyArray<string>; readonly read: number; readonly kept: number; readonly filter: string; readonly meanPromptTokens: number; readonly meanOutputTokens: number } | undefined
  readonly scenarios: ReadonlyArray<ScenarioResult>
  /** Per family: rows compared and the median |% error| (null when none ran). */
  readonly medians: Record<MetricFamily, { readonly rows: number; readonly medianAbsErrorPct: number | null }>
  /** The same over the rows not reproduced from a measured run the project validates on. */
  readonly mediansOutOfSample: Record<MetricFamily, { readonly rows: number; readonly medianAbsErrorPct: number | null }>
}

const workloadText = (p: RunPlan, pool: LengthPool | undefined): string => {
  const w = p.workload
  const rate = (r: number) => Number.isFinite(r) ? `Poisson ${r} req/s` : "all at t = 0 (rate inf)"
  switch (w.kind) {
    case "trace":
      return `trace ${w.path} (exact)`
    case "fixed":
      return `${w.numRequests} requests, ${rate(w.requestRate)}, ${w.inputLen} in / ${w.outputLen} out tokens`
    case "resample":
      return `${w.numRequests} requests, ${rate(w.requestRate)}, lengths resampled from ${pool?.prompt.length ?? 0} ShareGPT-derived pairs (mean ${pool?.meanPrompt.toFixed(0)} in / ${pool?.meanOutput.toFixed(0)} out)`
  }
}

/** Run one expressible scenario; fails with the configuration's or the workload's error. */
const runPlan = (p: RunPlan, pool: LengthPool | undefined) =>
  Effect.gen(function*() {
    const w = p.workload
    if (p.bench !== undefined) {
      // as validate replays a bench-layout run: its settings, device memory, async scheduling, no front end
      const b = yield* readBenchRun(p.bench)
      const st = yield* runSettings(b)
      const { enableExpertParallel, ...runFlags } = st.flags
      const dense = enableExpertParallel === true && (yield* loadModel(p.flags.model)).shape.moe === null
      const base = yield* resolveConfig({
        ...p.flags,
        ...runFlags,
        ...(enableExpertParallel === undefined || dense ? {} : { enableExpertParallel }),
        stepOverheadUs: st.asyncScheduling ? 0 : undefined
      })
      const cfg: SimConfig = st.deviceMemoryBytes === undefined ? base : { ...base, hardware: { ...base.hardware, memoryBytesVisible: st.deviceMemoryBytes } }
      const wl = yield* resolveWorkload({ trace: (w as { path: string }).path }, cfg.seed)
      const result = yield* simulate(wl.arrivals, { workload: wl.spec }).pipe(Effect.provide(simulationLayer(cfg, TraceWriter.none)))
      return { result, cfg, settings: st.honoured, notHonoured: st.notHonoured }
    }
    const cfg = yield* resolveConfig(p.flags)
    let arrivals: Stream.Stream<Arrival, unknown>
    if (w.kind === "trace") arrivals = (yield* resolveWorkload({ trace: w.path }, cfg.seed)).arrivals
    else if (w.kind === "fixed") {
      arrivals = generatorStream({ numRequests: w.numRequests, requestRate: w.requestRate, burstiness: w.burstiness, inputLen: w.inputLen, outputLen: w.outputLen, lengthDist: "fixed", rangeRatio: 0, lengthSigma: 0, seed: cfg.seed })
    } else arrivals = Stream.fromIterable(resampledArrivals(pool!, { numRequests: w.numRequests, requestRate: w.requestRate, burstiness: w.burstiness, seed: cfg.seed }))
    const result = yield* simulateCluster(arrivals, singlePool(cfg, "round-robin"), {}).pipe(Effect.provide(TraceWriter.none))
    return { result, cfg, settings: [] as ReadonlyArray<string>, notHonoured: [] as ReadonlyArray<string> }
  })

/** Rows of `s` compared with `summary`. */
const compareRows = (s: Scenario, summary: Record<string, unknown>): Array<RowResult> =>
  s.rows.map((r) => {
    const base = { scenario: s.id, line: r.line, metric: r.metric, unit: r.unit, published: r.value }
    const m = mapMetric(r.metric, r.unit)
    if ("error" in m) return { ...base, notRun: m.error }
    const v = summaryValue(summary, m.key)
    if (v === undefined) return { ...base, key: m.key, family: m.family, notRun: `the simulation reports no ${m.key}` }
    const predicted = v / m.scale
    const e = errorPct(r.value, predicted)
    return { ...base, key: m.key, family: m.family, predicted, ...(e === undefined ? { notRun: "published value is 0" } : { errorPct: e }) }
  })

/** Facts that explain errors: the workload's mean output against the one the published throughputs imply. */
const notesOf = (s: Scenario, result: SimulationResult): Array<string> => {
  const notes: Array<string> = []
  const sum = result.summary
  const keyed = (key: string) => s.rows.find((r) => {
    const m = mapMetric(r.metric, r.unit)
    return !("error" in m) && m.key === key
  })
  const req = keyed("request_throughput")
  const out = keyed("output_throughput")
  if (req !== undefined && out !== undefined && req.value > 0 && sum.completed > 0) {
    notes.push(`the published throughputs imply ${(out.value / req.value).toFixed(1)} output tokens per request; the simulated workload has ${(sum.total_output_tokens / sum.completed).toFixed(1)}`)
  }
  if (sum.rejected > 0) notes.push(`${sum.rejected} requests rejected (${sum.rejections[0]?.reason ?? ""})`)
  return notes
}

/**
 * Read `file`, group its rows into scenarios, run each one the simulator can express and compare.
 * Fails only on an unreadable or malformed file (FileError / InputError naming file:line:field) or
 * an unreadable length pool; a scenario that cannot run is reported, not failed.
 */
export const reproduce = (file: string, o: ReproduceOptions) =>
  Effect.gen(function*() {
    const rows = yield* readPublished(file)
    const scenarios = groupScenarios(rows)
    const launches = yield* readLaunchCommands(o.launchCommands)
    const plans = yield* Effect.forEach(scenarios, (s) => planScenario(s, o, launches))
    const needsPool = plans.some((p) => p.kind === "run" && p.workload.kind === "resample")
    const pool = needsPool && o.poolFiles.length > 0 ? yield* readLengthPool(o.poolFiles) : undefined
    const results: Array<ScenarioResult> = []
    for (const [i, s] of scenarios.entries()) {
      const p = plans[i]!
      const label = scenarioLabel(s)
      const notRun = (why: string) => s.rows.map((r) => ({ scenario: s.id, line: r.line, metric: r.metric, unit: r.unit, published: r.value, notRun: why }))
      if (p.kind === "not-expressible") {
        results.push({ id: s.id, label, status: "not-expressible", reasons: p.reasons, settings: [], approximations: [], notes: [], rows: notRun(p.reasons.join("; ")) })
        continue
      }
      if (p.workload.kind === "resample" && (pool === undefined || pool.prompt.length === 0)) {
        const why = `dataset '${s.dataset}': no ShareGPT-derived lengths to resample (${o.poolFiles.length === 0 ? `no sharegpt_*.jsonl under ${path.join(o.tracesDir, "v2-2026-02")}` : "none of the pool's pairs pass the filter"}; give --traces or --length-pool)`
        results.push({ id: s.id, label, status: "not-expressible", reasons: [why], settings: [], approximations: [], notes: [], rows: notRun(why) })
        continue
      }
      const ran = yield* Effect.either(runPlan(p, pool))
      if (ran._tag === "Left") {
        const e = ran.left as { message?: string }
        const why = `the simulation failed: ${e.message ?? String(ran.left)}`
        results.push({ id: s.id, label, status: "failed", reasons: [why], flags: flagsText(p.flags), settings: p.settings, approximations: p.approximations, notes: [], rows: notRun(why) })
        continue
      }
      const { result, settings, notHonoured } = ran.right
      const sum = result.summary
      results.push({
        id: s.id,
        label,
        status: "ran",
        reasons: [],
        inSample: p.bench !== undefined,
        flags: flagsText(p.flags),
        workload: workloadText(p, pool),
        perfModel: result.perfModel,
        settings: [...p.settings, ...settings],
        approximations: [...p.approximations, ...notHonoured],
        notes: notesOf(s, result),
        simulated: {
          completed: sum.completed,
          rejected: sum.rejected,
          preemptions: sum.num_preemptions,
          meanPromptTokens: sum.completed === 0 ? 0 : sum.total_input_tokens / sum.completed,
          meanOutputTokens: sum.completed === 0 ? 0 : sum.total_output_tokens / sum.completed
        },
        rows: compareRows(s, sum as unknown as Record<string, unknown>)
      })
    }
    const mediansOf = (rs: ReadonlyArray<ScenarioResult>) => {
      const compared = rs.flatMap((r) => r.rows).filter((r) => r.errorPct !== undefined)
      return Object.fromEntries(FAMILIES.map((f) => {
        const errs = compared.filter((r) => r.family === f).map((r) => Math.abs(r.errorPct!))
        return [f, { rows: errs.length, medianAbsErrorPct: Option.getOrNull(Option.fromNullable(median(errs))) }]
      })) as ReproduceReport["medians"]
    }
    return {
      file,
      rows: rows.length,
      pool: pool === undefined ? undefined : { files: pool.files, read: pool.read, kept: pool.prompt.length, filter: SHAREGPT_FILTER_TEXT, meanPromptTokens: pool.meanPrompt, meanOutputTokens: pool.meanOutput },
      scenarios: results,
      medians: mediansOf(results),
      mediansOutOfSample: mediansOf(results.filter((x) => x.inSample !== true))
    } satisfies ReproduceReport
  })

const fmt = (x: number): string => {
  const a = Math.abs(x)
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : x.toFixed(2)
}
const pct = (x: number | undefined | null): string => x === undefined || x === null ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`

/** Line ranges of rows (`2-5, 9`). */
const lineList = (rows: ReadonlyArray<{ line: number }>): string => {
  const ls = rows.map((r) => r.line).sort((a, b) => a - b)
  const parts: Array<string> = []
  for (let i = 0; i < ls.length; i++) {
    let j = i
    while (j + 1 < ls.length && ls[j + 1] === ls[j]! + 1) j++
    parts.push(j === i ? String(ls[i]) : `${ls[i]}-${ls[j]}`)
    i = j
  }
  return parts.join(", ")
}

/** The console report: per scenario run, its rows (published, predicted, error); medians per family; rows not run with their reasons. */
export const formatReport = (r: ReproduceReport): string => {
  const out: Array<string> = []
  const ran = r.scenarios.filter((s) => s.status === "ran")
  const nRan = ran.reduce((n, s) => n + s.rows.filter((x) => x.errorPct !== undefined).length, 0)
  out.push(`Published rows: ${r.file} (${r.rows} rows, ${r.scenarios.length} scenarios); ${ran.length} scenarios run, ${nRan} rows compared`)
  if (r.pool !== undefined) {
    out.push(`ShareGPT lengths (an approximation): resampled with replacement from ${r.pool.kept} of ${r.pool.read} requests in ${r.pool.files.join(", ")}`)
    out.push(`  kept: ${r.pool.filter}; mean ${r.pool.meanPromptTokens.toFixed(1)} prompt / ${r.pool.meanOutputTokens.toFixed(1)} output tokens`)
  }
  for (const s of ran) {
    out.push("")
    out.push(`${s.id}  ${s.label}`)
    out.push(`    simulate ${s.flags}`)
    out.push(`    workload: ${s.workload}`)
    out.push(`    perf model: ${s.perfModel}; simulated ${s.simulated!.completed} requests (${s.simulated!.rejected} rejected), ${s.simulated!.preemptions} preemptions, mean ${s.simulated!.meanPromptTokens.toFixed(1)} in / ${s.simulated!.meanOutputTokens.toFixed(1)} out tokens`)
    const w = Math.max(6, ...s.rows.map((x) => x.metric.replace(/\s*\(.*\)\s*$/, "").length))
    out.push(`    ${"line".padStart(4)}  ${"metric".padEnd(w)}  ${"published".padStart(10)}  ${"predicted".padStart(10)}  ${"unit".padEnd(5)}  ${"error".padStart(8)}`)
    for (const x of s.rows) {
      const name = x.metric.replace(/\s*\(.*\)\s*$/, "")
      if (x.errorPct === undefined) out.push(`    ${String(x.line).padStart(4)}  ${name.padEnd(w)}  ${fmt(x.published).padStart(10)}  ${"-".padStart(10)}  ${x.unit.padEnd(5)}  not compared: ${x.notRun}`)
      else out.push(`    ${String(x.line).padStart(4)}  ${name.padEnd(w)}  ${fmt(x.published).padStart(10)}  ${fmt(x.predicted!).padStart(10)}  ${x.unit.padEnd(5)}  ${pct(x.errorPct).padStart(8)}`)
    }
    for (const n of s.notes) out.push(`    note: ${n}`)
    if (s.settings.length > 0) out.push(`    settings: ${s.settings.join("; ")}`)
    if (s.approximations.length > 0) out.push(`    approximations: ${s.approximations.join("; ")}`)
  }
  out.push("")
  const inSample = ran.filter((s) => s.inSample === true).map((s) => s.id)
  out.push(`Median |error| per metric family, over the rows run${inSample.length > 0 ? ` (out of sample: without ${inSample.join(", ")}, reproduced from a measured run this project validates on)` : ""}:`)
  const cell = (m: { rows: number; medianAbsErrorPct: number | null }) =>
    `${m.medianAbsErrorPct === null ? "-" : `${m.medianAbsErrorPct.toFixed(1)}%`} (${m.rows} rows)`.padStart(17)
  out.push(`  ${"family".padEnd(10)} ${"all rows".padStart(17)}${inSample.length > 0 ? `  ${"out of sample".padStart(17)}` : ""}`)
  for (const f of FAMILIES) {
    out.push(`  ${f.padEnd(10)} ${cell(r.medians[f])}${inSample.length > 0 ? `  ${cell(r.mediansOutOfSample[f])}` : ""}`)
  }
  const skipped = r.scenarios.filter((s) => s.status !== "ran")
  const partial = ran.flatMap((s) => s.rows.filter((x) => x.errorPct === undefined))
  if (skipped.length > 0 || partial.length > 0) {
    out.push("")
    out.push("Rows not run:")
    for (const s of skipped) {
      out.push(`  ${s.id} (${s.rows.length === 1 ? "line" : "lines"} ${lineList(s.rows)}: ${s.rows.map((x) => x.metric).join(", ")}) ${s.label}`)
      for (const why of s.reasons) out.push(`      - ${why}`)
    }
    for (const x of partial) out.push(`  ${x.scenario} line ${x.line} ${x.metric}: ${x.notRun}`)
  }
  return out.join("\n")
}

const csvCell = (v: string | number | undefined): string => {
  if (v === undefined) return ""
  const s = typeof v === "number" ? String(Math.round(v * 1e6) / 1e6) : v
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** The rows as CSV: scenario, line, metric, published, unit, predicted, error_pct, not_run_reason. */
export const reportCsv = (r: ReproduceReport): string => {
  const lines = ["scenario,line,metric,published,unit,predicted,error_pct,not_run_reason"]
  for (const s of r.scenarios) {
    for (const x of s.rows) {
      lines.push([s.id, x.line, x.metric, x.published, x.unit, x.predicted, x.errorPct, x.notRun].map(csvCell).join(","))
    }
  }
  return lines.join("\n") + "\n"
}

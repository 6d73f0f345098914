/** `llmservingsim report` and `simulate --report` on small runs: tables, charts, overlay, Pareto, bad input. */
import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { paretoFront } from "../../src/metrics/pareto.js"
import { paretoPoints } from "../../src/report/charts.js"
import { cdfPoints, quantile, sortedFinite } from "../../src/report/cdf.js"
import { loadSweep } from "../../src/report/load.js"
import { prefixSvgIds } from "../../src/report/render.js"
import { runCapture } from "../cli/capture.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-report-"))

/** The figures of a report page: chart id -> its inline svg text. */
const figures = (html: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const m of html.matchAll(/<figure class="chart" id="chart-([^"]+)"[^>]*><figcaption>[^<]*<\/figcaption>(<svg.*?<\/svg>)/gs)) out.set(m[1]!, m[2]!)
  return out
}

const simulate = (dir: string, ...flags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const r = yield* runCapture("simulate", "--num-requests", "40", "--request-rate", "8", "--output-dir", dir, "--quiet", ...flags)
    expect(r.code, r.stderr).toBe(0)
  })

const SWEEP_CSV = [
  "index,tensor-parallel-size,request-rate,completed,rejected,kv_cache_blocks,request_throughput,output_throughput,mean_ttft_ms,p99_ttft_ms,mean_tpot_ms,p99_tpot_ms,mean_e2el_ms,p99_e2el_ms,num_preemptions,prefix_cache_hit_rate,wall_s,error",
  "0,1,2,100,0,1000,2,400,30,50,10,12,2000,3000,0,0,1,",
  "1,1,8,100,0,1000,8,1600,40,80,20,30,4000,6000,0,0,1,",
  "2,2,2,100,0,2000,2,420,25,40,8,9,1800,2500,0,0,1,",
  "3,2,8,100,0,2000,8,1700,35,70,25,40,4500,7000,0,0,1,",
  "4,2,16,0,0,0,0,0,0,0,0,0,0,0,0,0,1,out of memory"
].join("\n") + "\n"

describe("report", () => {
  it.effect("one run: summary table with every key, seven charts each with marks, per-instance table; new summary keys appear", () =>
    Effect.gen(function*() {
      const dir = tmp()
      yield* simulate(dir)
      // a key the report has never heard of, top level and nested, shows up without code changes
      const s = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8"))
      fs.writeFileSync(path.join(dir, "summary.json"), JSON.stringify({ ...s, request_goodput_future: 1.25, energy_future: { joules_per_token: 0.5 } }))
      const r = yield* runCapture("report", dir)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`report written to ${path.join(dir, "report.html")}`)
      const html = fs.readFileSync(path.join(dir, "report.html"), "utf8")
      for (const k of ["completed", "mean_ttft_ms", "p99_itl_ms", "request_goodput_future", "joules_per_token", "summary.json · config"]) expect(html).toContain(k)
      const figs = figures(html)
      expect([...figs.keys()]).toEqual(["cdf-ttft", "cdf-tpot", "cdf-itl", "cdf-e2e", "throughput", "running-waiting", "kv-cache"])
      for (const [id, svg] of figs) {
        expect(svg, id).toMatch(/^<svg/)
        expect(svg, id).toMatch(/class="mark-(line|symbol|rect)[^"]*"/)
      }
      expect(figs.get("cdf-itl")).toContain("mean inter-token latency")
      expect(html).toContain('<table class="instances">')
      // self-contained: no script, no remote resource
      expect(html).not.toMatch(/<script|<link |src="http/)
      // no id is defined twice across the inline SVGs
      const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1])
      expect(new Set(ids).size).toBe(ids.length)
    }))

  it.effect("two runs overlaid (one csv, one parquet with two instances), --output and --plots svg|png", () =>
    Effect.gen(function*() {
      const root = tmp()
      const a = path.join(root, "a")
      const b = path.join(root, "b")
      yield* simulate(a)
      yield* simulate(b, "--output-format", "parquet", "--num-instances", "2")
      const out = path.join(root, "cmp", "both.html")
      const r = yield* runCapture("report", a, b, "--output", out, "--plots", "png")
      expect(r.code, r.stderr).toBe(0)
      const html = fs.readFileSync(out, "utf8")
      expect(html).toContain("run (csv)")
      expect(html).toContain("run (parquet)")
      const figs = figures(html)
      // both runs in the legend of each CDF; the per-instance charts come with the two instances
      for (const id of ["cdf-ttft", "cdf-e2e"]) {
        expect(figs.get(id), id).toContain(">a</text>")
        expect(figs.get(id), id).toContain(">b</text>")
      }
      expect(figs.get("throughput")).toContain(">b · generation tokens/s</text>")
      expect(figs.has("instances")).toBe(true)
      expect(figs.has("instances-kv-cache")).toBe(true)
      const png = fs.readFileSync(path.join(root, "cmp", "plots", "cdf-ttft.png"))
      expect(png.subarray(1, 4).toString()).toBe("PNG")
      expect(fs.readdirSync(path.join(root, "cmp", "plots")).length).toBe(figs.size)
      const svg = yield* runCapture("report", a, "--output", path.join(root, "one.html"), "--plots", "svg")
      expect(svg.code, svg.stderr).toBe(0)
      expect(fs.readFileSync(path.join(root, "plots", "kv-cache.svg"), "utf8")).toMatch(/^<svg/)
    }))

  it.effect("a sweep CSV: Pareto front over tokens/s/user and tokens/s/GPU computed from TPOT and TP, front as src/metrics/pareto.ts", () =>
    Effect.gen(function*() {
      const dir = tmp()
      fs.writeFileSync(path.join(dir, "sweep.csv"), SWEEP_CSV)
      const sweep = yield* loadSweep(path.join(dir, "sweep.csv"), "s")
      const p = paretoPoints(sweep)
      if (!("points" in p)) throw new Error("expected points")
      expect(p.points.length).toBe(4) // the failed row is left out
      expect(p.points[1]).toEqual({ config: "tensor-parallel-size=1 request-rate=8", x: 50, y: 1600 })
      expect(p.points[3]).toEqual({ config: "tensor-parallel-size=2 request-rate=8", x: 40, y: 850 })
      expect(p.how).toContain("1000 / mean_tpot_ms")
      expect(paretoFront(p.points, (q) => q.x, (q) => q.y).map((q) => q.config)).toEqual([
        "tensor-parallel-size=1 request-rate=8", "tensor-parallel-size=1 request-rate=2", "tensor-parallel-size=2 request-rate=2"
      ])
      const r = yield* runCapture("report", dir, "--output", path.join(dir, "r.html"))
      expect(r.code, r.stderr).toBe(0)
      const html = fs.readFileSync(path.join(dir, "r.html"), "utf8")
      const svg = figures(html).get("pareto-1")
      expect(svg).toBeDefined()
      expect(svg).toContain("tensor-parallel-size=1 request-rate=8")
      expect(html).toContain("4 configurations, 3 on the front")
      // the two columns when the sweep has them are used as they are
      const own = path.join(dir, "own.csv")
      fs.writeFileSync(own, "index,max-num-seqs,completed,output_tokens_per_s_per_user,output_tokens_per_s_per_gpu,error\n0,8,10,90,100,\n1,64,10,30,900,\n2,32,10,20,500,\n")
      const q = paretoPoints(yield* loadSweep(own, "own"))
      expect("points" in q && q.points.map((x) => [x.x, x.y])).toEqual([[90, 100], [30, 900], [20, 500]])
      // no GPU count anywhere: the chart is skipped with a note
      const nogpu = path.join(dir, "nogpu.csv")
      fs.writeFileSync(nogpu, SWEEP_CSV.replace("tensor-parallel-size", "max-num-seqs"))
      const n = yield* runCapture("report", nogpu, "--output", path.join(dir, "n.html"))
      expect(n.code).toBe(0)
      expect(n.stdout).toContain("tokens/s per GPU cannot be computed and the Pareto front is not drawn")
      expect(figures(fs.readFileSync(path.join(dir, "n.html"), "utf8")).size).toBe(0)
    }))

  it.effect("simulate --report writes report.html into --output-dir; without --output-dir it is refused", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const r = yield* runCapture("simulate", "--num-requests", "20", "--output-dir", dir, "--report")
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("report written to")
      expect(figures(fs.readFileSync(path.join(dir, "report.html"), "utf8")).size).toBe(7)
      const bad = yield* runCapture("simulate", "--num-requests", "20", "--report")
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("error: --report: writes report.html from the files written with --output-dir DIR")
    }))

  it.effect("bad input: a missing DIR, a DIR without summary.json, a bad --plots, a malformed summary.json: clear errors, exit 1", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const missing = path.join(dir, "nope")
      const a = yield* runCapture("report", missing)
      expect(a.code).toBe(1)
      expect(a.stderr).toBe(`error: ${missing}: no such file or directory (expected a simulate --output-dir, a directory holding sweep.csv, or a sweep CSV)`)
      const b = yield* runCapture("report", dir)
      expect(b.code).toBe(1)
      expect(b.stderr).toContain(`error: ${path.join(dir, "summary.json")}: not found: expected a simulate --output-dir`)
      expect(b.stderr).not.toContain("    at ")
      const c = yield* runCapture("report", dir, "--plots", "jpg")
      expect(c.code).toBe(1)
      expect(c.stderr).toContain("error: --plots: expected one of svg, png (got jpg)")
      fs.writeFileSync(path.join(dir, "summary.json"), "{ not json")
      const d = yield* runCapture("report", dir)
      expect(d.code).toBe(1)
      expect(d.stderr).toContain(`error: ${path.join(dir, "summary.json")}: expected JSON`)
      const e = yield* runCapture("report")
      expect(e.code).toBe(1)
    }))
})

describe("report SVG ids", () => {
  it("prefixSvgIds makes a figure's ids and their references its own", () => {
    const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use href="#clip1"/></g></svg>'
    expect(prefixSvgIds(svg, "cdf-ttft-")).toBe(
      '<svg><defs><clipPath id="cdf-ttft-clip1"><rect/></clipPath></defs><g clip-path="url(#cdf-ttft-clip1)"><use href="#cdf-ttft-clip1"/></g></svg>'
    )
  })
})

describe("report CDFs", () => {
  it.prop("cdfPoints: values and p ascend, p ends at 1, at most maxPoints + 12 points; quantile stays within the samples", [
    fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 2000 }),
    fc.integer({ min: 10, max: 300 })
  ], ([xs, maxPoints]) => {
    const sorted = sortedFinite(xs)
    const pts = cdfPoints(sorted, maxPoints)
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]!.value).toBeGreaterThanOrEqual(pts[i - 1]!.value)
      expect(pts[i]!.p).toBeGreaterThanOrEqual(pts[i - 1]!.p)
    }
    expect(pts[pts.length - 1]!.p).toBe(1)
    expect(pts[pts.length - 1]!.value).toBe(sorted[sorted.length - 1])
    expect(pts.length).toBeLessThanOrEqual(maxPoints + 12)
    const q = quantile(sorted, 0.99)
    expect(q).toBeGreaterThanOrEqual(sorted[0]!)
    expect(q).toBeLessThanOrEqual(sorted[sorted.length - 1]!)
  })

  it("quantile interpolates like NumPy's percentile", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(quantile([10, 20, 30, 40, 50], 0.9)).toBeCloseTo(46)
    expect(quantile([], 0.5)).toBeNaN()
  })
})

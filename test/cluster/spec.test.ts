/** Router flags: parsing, and every bad value or combination refused naming its flag. */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { DEFAULT_CACHE_AWARE, parseCacheAware, parseRouterWeights, routerSpec } from "../../src/cluster/RouterSpec.js"
import { InvalidOption } from "../../src/domain/errors.js"
import { expandGrid } from "../../src/sweep/grid.js"
import { runCapture } from "../cli/capture.js"

const optionOf = (x: unknown) => (x instanceof InvalidOption ? x.option : "ok")

describe("router spec", () => {
  it("parses weights: any subset, missing scorers weigh 0", () => {
    expect(parseRouterWeights("kv=1, prefix=2.5")).toEqual({ queue: 0, kv: 1, prefix: 2.5 })
    expect(routerSpec({ policy: "weighted" })).toEqual({ policy: "weighted", weights: { queue: 2, kv: 2, prefix: 3 }, cacheAware: DEFAULT_CACHE_AWARE, stalenessMs: 0 })
    expect(parseCacheAware("balance_abs_threshold=8")).toEqual({ cacheThreshold: 0.3, balanceAbs: 8, balanceRel: 1.5 })
    expect(routerSpec({ policy: "cache-aware", cacheAware: "cache_threshold=0.5, balance_rel_threshold=2" })).toMatchObject({ cacheAware: { cacheThreshold: 0.5, balanceAbs: 64, balanceRel: 2 } })
    expect(routerSpec({ policy: "least-kv", stalenessMs: 50 })).toMatchObject({ policy: "least-kv", stalenessMs: 50 })
  })

  it("refuses bad values naming the flag", () => {
    expect(optionOf(routerSpec({ policy: "fastest" }))).toBe("--router")
    for (const w of ["queue=x", "foo=1", "queue=0,kv=0", "queue=1,queue=2", "queue=-1", "", "queue"]) {
      expect(optionOf(routerSpec({ policy: "weighted", weights: w }))).toBe("--router-weights")
    }
    expect(optionOf(routerSpec({ policy: "least-kv", weights: "kv=1" }))).toBe("--router-weights")
    for (const w of ["queue=0x1", "kv=Infinity", "prefix=1,5"]) {
      expect(optionOf(routerSpec({ policy: "weighted", weights: w }))).toBe("--router-weights")
    }
    for (const t of ["cache_threshold=0x1", "balance_abs_threshold=1.5", "balance_abs_threshold=1e2", "balance_rel_threshold=Infinity"]) {
      expect(optionOf(routerSpec({ policy: "cache-aware", cacheAware: t }))).toBe("--router-cache-aware")
    }
    expect(routerSpec({ policy: "cache-aware", cacheAware: "cache_threshold=.5,balance_abs_threshold=8,balance_rel_threshold=2e0" })).toMatchObject({
      cacheAware: { cacheThreshold: 0.5, balanceAbs: 8, balanceRel: 2 }
    })
    for (const t of ["cache_threshold=1.5", "cache_threshold=x", "balance_abs_threshold=-1", "balance_rel_threshold=0.5", "foo=1", "", "cache_threshold=0.1,cache_threshold=0.2"]) {
      expect(optionOf(routerSpec({ policy: "cache-aware", cacheAware: t }))).toBe("--router-cache-aware")
    }
    expect(optionOf(routerSpec({ policy: "prefix-aware", cacheAware: "cache_threshold=0.5" }))).toBe("--router-cache-aware")
    const abc = routerSpec({ policy: "cache-aware", cacheAware: "cache_threshold=abc" })
    expect(abc instanceof InvalidOption ? abc.message : "").toContain("cache_threshold: expected a number (got 'abc')")
    expect(optionOf(routerSpec({ policy: "least-kv", stalenessMs: -1 }))).toBe("--router-staleness-ms")
    expect(optionOf(routerSpec({ policy: "least-kv", stalenessMs: NaN }))).toBe("--router-staleness-ms")
    expect(optionOf(routerSpec({ policy: "round-robin", stalenessMs: 10 }))).toBe("--router-staleness-ms")
    expect(optionOf(routerSpec({ policy: "random", stalenessMs: 10 }))).toBe("--router-staleness-ms")
    expect(optionOf(routerSpec({ policy: "random", stalenessMs: 0 }))).toBe("ok")
  })

  it("the sweep's router axis takes every policy and refuses unknown ones", () => {
    const base = { engine: { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }, workload: {}, router: "round-robin" as const }
    const jobs = expandGrid([{ flag: "router", values: ["random", "prefix-aware", "weighted"] }], base)
    expect(jobs instanceof InvalidOption ? jobs.message : jobs.map((j) => typeof j.router === "string" ? j.router : j.router.policy)).toEqual(["random", "prefix-aware", "weighted"])
    const bad = expandGrid([{ flag: "router", values: ["nope"] }], base)
    expect(optionOf(bad)).toBe("--grid")
  })

  it("the cache-aware thresholds and the staleness are grid axes, each point's router spec carrying its values", () => {
    const base = { engine: { model: "meta-llama/Llama-3.1-8B-Instruct", hardware: "H100" }, workload: {}, router: "cache-aware" as const }
    const jobs = expandGrid([{ flag: "cache-threshold", values: ["0.1", "0.9"] }, { flag: "balance-abs-threshold", values: ["0", "8"] }], base)
    expect(jobs instanceof InvalidOption ? jobs.message : jobs.map((j) => typeof j.router === "string" ? j.router : [j.router.policy, j.router.cacheAware])).toEqual([
      ["cache-aware", { cacheThreshold: 0.1, balanceAbs: 0, balanceRel: 1.5 }],
      ["cache-aware", { cacheThreshold: 0.1, balanceAbs: 8, balanceRel: 1.5 }],
      ["cache-aware", { cacheThreshold: 0.9, balanceAbs: 0, balanceRel: 1.5 }],
      ["cache-aware", { cacheThreshold: 0.9, balanceAbs: 8, balanceRel: 1.5 }]
    ])
    const stale = expandGrid([{ flag: "router", values: ["least-kv", "weighted"] }, { flag: "router-staleness-ms", values: ["0", "50"] }], { ...base, router: "round-robin" as const })
    expect(stale instanceof InvalidOption ? stale.message : stale.map((j) => typeof j.router === "string" ? j.router : `${j.router.policy}@${j.router.stalenessMs}`))
      .toEqual(["least-kv@0", "least-kv@50", "weighted@0", "weighted@50"])
    // refused: a threshold with a policy that does not read it, a value out of range or of the wrong type, staleness on round-robin
    const message = (x: ReturnType<typeof expandGrid>) => (x instanceof InvalidOption ? x.message : "ran")
    expect(message(expandGrid([{ flag: "router", values: ["cache-aware", "prefix-aware"] }, { flag: "cache-threshold", values: ["0.5"] }], base)))
      .toContain("cache-threshold: applies only to --router cache-aware (a point of this grid runs prefix-aware")
    expect(message(expandGrid([{ flag: "cache-threshold", values: ["1.5"] }], base))).toContain("cache_threshold: expected a number from 0 to 1")
    expect(message(expandGrid([{ flag: "balance-abs-threshold", values: ["2.5"] }], base))).toContain("balance-abs-threshold: expected an integer (got '2.5')")
    expect(message(expandGrid([{ flag: "router-staleness-ms", values: ["10"] }], { ...base, router: "round-robin" as const }))).toContain("--router round-robin reads no load signal")
  })

  it.effect("the CLI refuses them with the flag's name", () =>
    Effect.gen(function*() {
      const a = yield* runCapture("simulate", "--num-requests", "5", "--router", "fastest")
      expect(a.code).toBe(1)
      expect(a.stderr).toContain("--router: unknown policy 'fastest'")
      // serve refuses it before it says it is starting
      const s = yield* runCapture("serve", "--num-instances", "2", "--router", "fastest", "--port", "0")
      expect(s.code).toBe(1)
      expect(s.stderr.trim()).toBe("error: --router: unknown policy 'fastest'; expected one of round-robin, random, least-outstanding, least-loaded, least-kv, prefix-aware, cache-aware, weighted")
      const b = yield* runCapture("simulate", "--num-requests", "5", "--router", "weighted", "--router-weights", "queue=2,foo=1")
      expect(b.code).toBe(1)
      expect(b.stderr).toContain("--router-weights: unknown scorer 'foo'")
      const e = yield* runCapture("sweep", "--num-requests", "5", "--workers", "1", "--grid", "router=round-robin,random", "--router-cache-aware", "cache_threshold=0.5")
      expect(e.code).toBe(1)
      expect(e.stderr).toContain("--router-cache-aware: applies only to --router cache-aware, which --grid router=round-robin,random does not run")
      const d = yield* runCapture("simulate", "--num-requests", "5", "--router", "cache-aware", "--router-cache-aware", "cache_threshold=2")
      expect(d.code).toBe(1)
      expect(d.stderr).toContain("--router-cache-aware: cache_threshold: expected a number from 0 to 1 (got 2)")
      const c = yield* runCapture("simulate", "--num-requests", "20", "--num-instances", "2", "--router", "weighted", "--router-weights", "queue=1,kv=1", "--router-staleness-ms", "50", "--quiet")
      expect(c.code).toBe(0)
    }))
})

/**
 * `simulate --trace-events FILE` (trace/TraceEvents.ts): the file of a 1,000-request run is valid
 * trace-event JSON (checked field by field against the Trace Event Format's rules for each phase
 * used), and each instance's step events tile its busy time: they never overlap, and their
 * durations add up to the engine's own busy time and, with the idle gaps between them, to the span
 * from the first step's start to the last step's end.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "../cli/capture.js"

interface Ev { name?: unknown; ph?: unknown; ts?: unknown; dur?: unknown; pid?: unknown; tid?: unknown; id?: unknown; cat?: unknown; args?: unknown }

/** The problems of `doc` as a JSON Object Format trace (empty = valid). */
const problems = (doc: unknown): Array<string> => {
  const out: Array<string> = []
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { traceEvents?: unknown }).traceEvents)) return ["no traceEvents array"]
  const open = new Map<string, number>()
  for (const [i, e] of ((doc as { traceEvents: Array<Ev> }).traceEvents).entries()) {
    const where = `event ${i}`
    if (typeof e.name !== "string" || e.name === "") out.push(`${where}: name`)
    if (!Number.isInteger(e.pid) || !Number.isInteger(e.tid)) out.push(`${where}: pid/tid`)
    switch (e.ph) {
      case "M":
        if (typeof (e.args as { name?: unknown; sort_index?: unknown })?.name !== "string" && typeof (e.args as { sort_index?: unknown })?.sort_index !== "number") out.push(`${where}: metadata args`)
        continue
      case "X":
        if (typeof e.dur !== "number" || e.dur < 0) out.push(`${where}: X needs dur >= 0`)
        break
      case "C":
        if (typeof e.args !== "object" || e.args === null || Object.values(e.args).some((v) => typeof v !== "number" || !Number.isFinite(v))) out.push(`${where}: C args must be numbers`)
        break
      case "b": case "e": case "n": {
        if (typeof e.cat !== "string" || (typeof e.id !== "number" && typeof e.id !== "string")) out.push(`${where}: async needs cat and id`)
        const key = `${e.cat}/${e.id}/${e.name}`
        if (e.ph === "b") open.set(key, (open.get(key) ?? 0) + 1)
        if (e.ph === "e") {
          if ((open.get(key) ?? 0) === 0) out.push(`${where}: e without b (${key})`)
          else open.set(key, open.get(key)! - 1)
        }
        break
      }
      default:
        out.push(`${where}: unknown phase ${String(e.ph)}`)
    }
    if (typeof e.ts !== "number" || !Number.isFinite(e.ts) || e.ts < 0) out.push(`${where}: ts`)
  }
  for (const [k, n] of open) if (n !== 0) out.push(`unclosed async span ${k}`)
  return out
}

const runTo = (file: string, ...more: Array<string>) =>
  runCapture("simulate", "--num-requests", "1000", "--request-rate", "20", "--trace-events", file, "--json", ...more)

describe("--trace-events", () => {
  it.effect("a 1,000-request run: valid trace-event JSON whose step durations add up to the busy time and span", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "te-"))
      const file = path.join(dir, "trace.json")
      const r = yield* runTo(file, "--num-instances", "2")
      expect(r.code).toBe(0)
      const summary = JSON.parse(r.stdout) as { instances: Array<{ busy_s?: number; utilization?: number }>; duration: number; num_steps: number }
      const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { traceEvents: Array<Ev>; otherData: Record<string, number> }
      expect(problems(doc)).toEqual([])
      expect(doc.otherData).toMatchObject({ steps_not_written: 0, requests_with_spans: 1000 })
      let stepsCounted = 0
      for (const pid of [0, 1]) {
        const steps = doc.traceEvents.filter((e) => e.ph === "X" && e.pid === pid).sort((a, b) => (a.ts as number) - (b.ts as number))
        expect(steps.length).toBeGreaterThan(0)
        let busy = 0, gaps = 0
        for (let i = 0; i < steps.length; i++) {
          const s = steps[i]!
          busy += s.dur as number
          stepsCounted += (s.args as { steps: number }).steps
          if (i > 0) {
            const prevEnd = (steps[i - 1]!.ts as number) + (steps[i - 1]!.dur as number)
            expect(s.ts as number).toBeGreaterThanOrEqual(prevEnd - 1e-6) // no overlap
            gaps += (s.ts as number) - prevEnd
          }
        }
        const first = steps[0]!.ts as number
        const last = steps.at(-1)!
        expect(busy + gaps).toBeCloseTo((last.ts as number) + (last.dur as number) - first, 3)
        // requests.csv-independent check: the spans' decode ends are within the steps' span
        const ends = doc.traceEvents.filter((e) => e.ph === "e" && e.name === "decode" && e.pid === pid).map((e) => e.ts as number)
        expect(Math.max(...ends)).toBeCloseTo((last.ts as number) + (last.dur as number), 3)
      }
      expect(stepsCounted).toBe(summary.num_steps)
      // every request has its three spans
      for (const n of ["queued", "prefill", "decode"]) expect(doc.traceEvents.filter((e) => e.ph === "b" && e.name === n).length).toBe(1000)
    }), { timeout: 60_000 })

  it.effect("the limit on request spans is honoured and stated; a bad path is a clear error", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "te-"))
      const file = path.join(dir, "t.json")
      const r = yield* runTo(file, "--trace-events-max-requests", "10")
      expect(r.code).toBe(0)
      const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { traceEvents: Array<Ev>; otherData: Record<string, number> }
      expect(problems(doc)).toEqual([])
      expect(doc.otherData).toMatchObject({ request_spans_for_first: 10, requests_with_spans: 10 })
      expect(new Set(doc.traceEvents.filter((e) => e.ph === "b").map((e) => e.id)).size).toBe(10)
      // a missing folder is made (as --output-dir's); a path through a file is a one-line error naming the flag
      const made = yield* runTo(path.join(dir, "no/such/dir/t.json"))
      expect(made.code).toBe(0)
      expect(fs.existsSync(path.join(dir, "no/such/dir/t.json"))).toBe(true)
      const bad = yield* runTo(path.join(file, "t.json"))
      expect(bad.code).toBe(1)
      expect(bad.stderr.trim()).toBe(`error: ${path.join(file, "t.json")}: cannot write --trace-events: its folder ${file} could not be made (ENOTDIR)`)
      const orphan = yield* runCapture("simulate", "--trace-events-max-requests", "5")
      expect(orphan.stderr).toMatch(/--trace-events-max-requests: applies to --trace-events/)
    }), { timeout: 60_000 })
})

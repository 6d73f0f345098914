/**
 * The decode-heavy shape of issue 12 (an arrival every ~50 ms, ~10 ms steps, 256 output tokens: the
 * batch holds ~55 decoding requests and a step rarely repeats the last) at 2,000 requests: the fast
 * engine writes byte-identical files to --exact-steps.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCapture } from "./capture.js"

describe("simulate --exact-steps", () => {
  it.effect("decode-heavy synthetic run: every output file byte-identical with and without it", () =>
    Effect.gen(function*() {
      const fast = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-fast-"))
      const exact = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-exact-"))
      const args = ["simulate", "--num-requests", "2000", "--request-rate", "20", "--input-len", "512", "--output-len", "256", "--hardware", "H100", "--quiet"]
      expect((yield* runCapture(...args, "--output-dir", fast)).code).toBe(0)
      expect((yield* runCapture(...args, "--exact-steps", "--output-dir", exact)).code).toBe(0)
      const files = fs.readdirSync(fast).sort()
      expect(files).toEqual(fs.readdirSync(exact).sort())
      expect(files).toContain("requests.csv")
      expect(files).toContain("summary.json")
      for (const f of files) expect(fs.readFileSync(path.join(fast, f)).equals(fs.readFileSync(path.join(exact, f))), f).toBe(true)
      const summary = JSON.parse(fs.readFileSync(path.join(fast, "summary.json"), "utf8"))
      expect(summary.completed).toBe(2000)
      expect(summary.num_steps).toBeGreaterThan(9_000)
    }))
})

/** requests.csv and steps.csv written as bytes (ByteFile) are the text rows, byte for byte. */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { RequestStatus, SimRequest } from "../../src/domain/SimRequest.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { ByteFile } from "../../src/trace/ByteFile.js"
import { requestRow, stepRow, writeRequestRow, writeStepRow } from "../../src/trace/format.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-format-"))

const rng = (seed: number) => () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296

/** Requests in every state the writer meets: finished, aborted, rejected, disaggregated, closed loop, odd names. */
const requests = (count: number): Array<{ r: SimRequest; reason: string }> => {
  const rnd = rng(7)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rnd() * xs.length)]!
  const time = () => pick([-1, 0, 1, 999_999, 1_000_000, Math.floor(rnd() * 1e12), Math.floor(rnd() * 2e17), 2.5e6 + 0.5])
  const out: Array<{ r: SimRequest; reason: string }> = []
  for (let i = 0; i < count; i++) {
    const arrival = pick([0, Math.floor(rnd() * 1e13), 123_456_789])
    const r = new SimRequest(pick([i, 2 ** 31 + i, 9_007_199_254_740_000]), arrival, 1 + Math.floor(rnd() * 100_000), 1 + Math.floor(rnd() * 5000))
    r.queuedNs = arrival + pick([0, 1_124_000, Math.floor(rnd() * 1e9)])
    r.egressNs = pick([0, 345_678])
    r.firstScheduledNs = pick([-1, r.queuedNs + Math.floor(rnd() * 1e10), r.queuedNs - 5])
    r.firstTokenNs = r.firstScheduledNs < 0 ? -1 : r.firstScheduledNs + Math.floor(rnd() * 1e9)
    r.numOutput = pick([0, 1, 2, r.outputTokens, Math.floor(r.outputTokens / 2)])
    r.lastTokenNs = r.firstTokenNs < 0 ? -1 : r.firstTokenNs + r.numOutput * Math.floor(rnd() * 5e7) + pick([0, 1, 3])
    r.finishNs = pick([r.lastTokenNs, time()])
    r.status = pick([RequestStatus.Finished, RequestStatus.Finished, RequestStatus.Rejected, RequestStatus.Running])
    r.instance = pick([0, 3, -1, 12])
    r.pool = pick(["default", "prefill", "décode-池", "a"])
    r.preemptions = pick([0, 1, 17])
    r.cachedPromptTokens = pick([0, 512, 99_999])
    r.prefillInstance = pick([-1, 0, 5])
    r.prefillDoneNs = time()
    r.kvTransferStartNs = time()
    r.kvTransferEndNs = time()
    r.clientQueueNs = time()
    out.push({ r, reason: pick(["", "", "prompt (9000) + output (10) tokens exceed max_model_len 8192", "a, \"quoted\"\nreason", "ünïcödé"]) })
  }
  return out
}

const written = (capacity: number, write: (w: ByteFile) => void): string => {
  const file = path.join(tmp(), "out.csv")
  const w = new ByteFile(file, fs.openSync(file, "w"), capacity)
  write(w)
  w.close()
  return fs.readFileSync(file, "utf8")
}

describe("requests.csv / steps.csv bytes", () => {
  it("writeRequestRow gives requestRow's bytes for every kind of request, whatever the buffer size", () => {
    const rs = requests(5000)
    const text = rs.map(({ r, reason }) => requestRow(r, reason)).join("")
    for (const capacity of [1, 300, 1 << 20]) {
      expect(written(capacity, (w) => { for (const { r, reason } of rs) writeRequestRow(w, r, reason) }) === text, `capacity ${capacity}`).toBe(true)
    }
  })

  it("writeStepRow gives stepRow's bytes", () => {
    const rnd = rng(3)
    const steps: Array<StepInfo> = Array.from({ length: 2000 }, (_, i) => ({
      instance: i % 5, pool: i % 2 === 0 ? "default" : "decode", virtualEngine: 0, startNs: Math.floor(rnd() * 1e14), durationNs: Math.floor(rnd() * 1e8),
      shape: batchShapeOf(Array.from({ length: i % 3 }, () => [Math.floor(rnd() * 8192), 0] as const), Array.from({ length: i % 7 }, () => 100)),
      running: Math.floor(rnd() * 1024), waiting: Math.floor(rnd() * 1e6), kvBlocksUsed: Math.floor(rnd() * 1e5), kvBlocksTotal: 100_000, preempted: i % 4
    }))
    expect(written(100, (w) => { for (const s of steps) writeStepRow(w, s) })).toBe(steps.map(stepRow).join(""))
  })

  it("fixed6 is toFixed(6), near ties included", () => {
    const rnd = rng(11)
    const xs: Array<number> = [0, 1, 0.5, 1e-7, 5e-7, 4.9999995e-7, 0.0000015, 2.0000005, 123.4567895, 2147483646.9999995, 2147483647, 1e21, -1, -0.0000005, NaN, Infinity]
    for (let i = 0; i < 20_000; i++) {
      const k = Math.floor(rnd() * 1e9)
      xs.push(rnd() * 100, rnd() * 1e6, (k + 0.5) / 1e6, k / 1e6, (k + 0.5) / 1e6 + 1e-13, (k + 0.4999999) / 1e6, rnd() * 3e9)
    }
    const file = path.join(tmp(), "x.txt")
    const w = new ByteFile(file, fs.openSync(file, "w"), 4096)
    for (const x of xs) {
      w.beginRow()
      w.fixed6(x)
      w.newline()
    }
    w.close()
    expect(fs.readFileSync(file, "utf8")).toBe(xs.map((x) => x.toFixed(6) + "\n").join(""))
  })

  it("texts longer than the buffer are written whole, in order", () => {
    const long = "x".repeat(10_000) + "é".repeat(5000)
    expect(written(16, (w) => {
      w.text("a,")
      w.text(long)
      w.comma()
      w.name(long)
      w.newline()
      w.int(-42)
      w.int(2 ** 53 + 2)
      w.ms(1_500_000.25)
    })).toBe(`a,${long},${long}\n-42${2 ** 53 + 2}${"1.500000.25"}`)
  })

  it("a file that cannot be written keeps the error and drops later rows", () => {
    const w = new ByteFile("/dev/full", fs.openSync("/dev/full", "w"), 16)
    for (const { r } of requests(10)) writeRequestRow(w, r)
    w.close()
    expect(w.failure()?.message).toMatch(/^\/dev\/full: cannot write: ENOSPC/)
  })
})

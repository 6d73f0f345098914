/**
 * simulate's progress (cli/progress.ts): on a stream that is not a terminal, a plain line every
 * `lineEveryMs` of wall time and none in a shorter run; the counts follow the finished requests.
 * (The live bar on a terminal is cli-progress's; it was checked by hand under tmux.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Writable } from "node:stream"
import { Progress } from "../../src/cli/progress.js"
import type { SimRequest } from "../../src/domain/SimRequest.js"

const sink = () => {
  const chunks: Array<string> = []
  const stream = new Writable({ write: (c, _e, cb) => { chunks.push(String(c)); cb() } }) as unknown as NodeJS.WriteStream
  return { stream, text: () => chunks.join("") }
}

describe("progress", () => {
  it("not a terminal: a line per interval with the finished count, total, percentage and simulated time", () => {
    const s = sink()
    const p = new Progress({ total: 200, stream: s.stream, lineEveryMs: 0 })
    for (let i = 0; i < 50; i++) p.observer.onFinish!({} as SimRequest)
    p.tick(100, 12.5e9)
    p.stop()
    expect(s.text()).toMatch(/^progress: 50\/200 requests done \(25\.0%\), simulated 12\.5 s, [\d,]+ req\/s\n$/)
  })

  it("not a terminal, a run shorter than the interval: nothing", () => {
    const s = sink()
    const p = new Progress({ total: 200, stream: s.stream, lineEveryMs: 60_000 })
    p.observer.onFinish!({} as SimRequest)
    p.tick(1, 1e9)
    p.stop()
    expect(s.text()).toBe("")
  })
})

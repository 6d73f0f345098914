/**
 * DecodeCohort against a naive model that keeps every member's computed tokens explicitly: the
 * context sum, the block crossings per step, the next finish and the finishing order, the fields
 * written back on leaving, and the KV blocks taken (through a counting cache).
 */
import { describe, expect, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { RequestStatus, SimRequest } from "../../src/domain/SimRequest.js"
import { CountingKvCache } from "../../src/memory/KvCache.js"
import { DecodeCohort } from "../../src/scheduler/DecodeCohort.js"

const op = fc.oneof(
  fc.record({ t: fc.constant("join" as const), prompt: fc.integer({ min: 1, max: 50 }), output: fc.integer({ min: 2, max: 40 }), done: fc.nat() }),
  fc.record({ t: fc.constant("step" as const) }),
  fc.record({ t: fc.constant("leave" as const), pick: fc.nat() })
)

describe("DecodeCohort", () => {
  it.prop("matches explicit bookkeeping", [fc.constantFrom(1, 3, 16), fc.array(op, { minLength: 1, maxLength: 120 })], ([bs, ops]) => {
    const kv = new CountingKvCache(1_000_000, bs)
    const cohort = new DecodeCohort(kv)
    // the model: every member with its computed tokens, in running order
    const model: Array<{ r: SimRequest; c: number }> = []
    let seq = 0
    let now = 0
    cohort.advance(0, now)
    for (const o of ops) {
      if (o.t === "join") {
        // a request decoding with `done` of its output tokens already generated (at least 1, fewer than all)
        const r = new SimRequest(seq, 0, o.prompt, o.output)
        r.runSeq = seq++
        r.status = RequestStatus.Running
        r.numOutput = 1 + (o.done % (o.output - 1))
        r.numComputed = r.numTokens - 1
        r.lastTokenNs = now
        kv.allocate(r, r.numComputed)
        cohort.join(r)
        model.push({ r, c: r.numComputed })
      } else if (o.t === "step") {
        if (model.length === 0) continue
        expect(cohort.contextSum()).toBe(model.reduce((a, m) => a + m.c + 1, 0))
        const cross = model.filter((m) => m.c % bs === 0).length
        expect(cohort.crossers()).toBe(cross)
        expect(cohort.stepsToFinish()).toBe(Math.min(...model.map((m) => m.r.promptTokens + m.r.outputTokens - 2 - m.c)))
        const free = kv.free
        kv.takeBlocks(cross)
        cohort.advance(1, (now += 7))
        for (const m of model) m.c++
        // members whose last token came in this step, in running order
        const done = model.filter((m) => m.c + 1 - m.r.promptTokens === m.r.outputTokens).map((m) => m.r)
        const got: Array<SimRequest> = []
        for (let r = cohort.finished(); r !== undefined; r = cohort.finished()) {
          cohort.leave(r)
          got.push(r)
          expect(r.numOutput).toBe(r.outputTokens)
          expect(r.lastTokenNs).toBe(now)
          expect(r.blocks).toBe(Math.ceil(r.numComputed / bs))
          kv.release(r)
        }
        expect(got).toEqual(done)
        for (const r of done) model.splice(model.findIndex((m) => m.r === r), 1)
        expect(kv.free).toBe(free - cross + done.reduce((a, r) => a + Math.ceil(r.numComputed / bs), 0))
      } else {
        if (model.length === 0) continue
        const k = o.pick % model.length
        const { r, c } = model[k]!
        cohort.leave(r)
        model.splice(k, 1)
        expect([r.numComputed, r.numOutput, r.lastTokenNs, r.blocks, r.cohortPos]).toEqual([c, c + 1 - r.promptTokens, now, Math.ceil(c / bs), -1])
      }
      expect(cohort.size).toBe(model.length)
    }
  }, { fastCheck: { numRuns: 300 } })
})

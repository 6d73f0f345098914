/**
 * Decoders held lazily (the decode cohort) behind Instance.step: they join after their first
 * token, steps keep them lazy, and reading one out (a client abort) brings its fields and KV blocks
 * up to date. With an onToken observer nothing is lazy (the server streams every token).
 */
import { describe, expect, it } from "@effect/vitest"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { RequestStatus, SimRequest } from "../../src/domain/SimRequest.js"
import { Instance } from "../../src/engine/Instance.js"
import type { EngineObserver } from "../../src/engine/EngineObserver.js"
import { PrefixCachingKvCache } from "../../src/memory/PrefixCachingKvCache.js"
import { makeVllmV1Scheduler } from "../../src/scheduler/vllmV1.js"

const instance = (observer: EngineObserver) => {
  const kv = new PrefixCachingKvCache(1_000, 16)
  const sched = makeVllmV1Scheduler(defaultEngineConfig(1 << 20, 2), kv)
  return new Instance(0, sched, { name: "1ms", stepTimeNs: () => 1_000_000 }, observer, 1 << 20, 256)
}

describe("lazy decoders", () => {
  it("join the cohort after their first token; an abort reads one out with its blocks", () => {
    const finished: Array<SimRequest> = []
    const inst = instance({ onFinish: (r) => finished.push(r) })
    const reqs = [100, 40, 17].map((p, i) => new SimRequest(i, 0, p, 50))
    for (const r of reqs) inst.admit(r)
    inst.step() // the three prompts, first tokens
    const running = inst.scheduler.running
    expect(running.cohort.size).toBe(3)
    expect(running.explicit.length).toBe(0)
    for (let k = 0; k < 20; k++) inst.step()
    // the fields lag while lazy; the KV cache counts the blocks taken for them
    expect(reqs[0]!.numOutput).toBe(1)
    const used = inst.scheduler.kv.usedBlocks
    expect(used).toBe([100, 40, 17].reduce((a, p) => a + Math.ceil((p + 20) / 16), 0))
    expect(inst.abort(reqs[1]!, inst.clock)).toBe(true)
    expect(reqs[1]!.numOutput).toBe(21)
    expect(reqs[1]!.numComputed).toBe(60)
    expect(reqs[1]!.lastTokenNs).toBe(inst.clock)
    expect(reqs[1]!.status).toBe(RequestStatus.Finished)
    expect(inst.scheduler.kv.usedBlocks).toBe(used - Math.ceil(60 / 16))
    expect(running.length).toBe(2)
    expect(finished).toEqual([reqs[1]])
    while (inst.hasWork()) inst.step()
    expect(finished.map((r) => [r.id, r.numOutput, r.blocks])).toEqual([[1, 21, 0], [0, 50, 0], [2, 50, 0]])
    expect(inst.scheduler.kv.usedBlocks).toBe(0)
  })

  it("stay explicit under an onToken observer", () => {
    let tokens = 0
    const inst = instance({ onToken: () => tokens++ })
    for (let i = 0; i < 3; i++) inst.admit(new SimRequest(i, 0, 30, 5))
    for (let k = 0; k < 3; k++) inst.step()
    expect(inst.scheduler.running.cohort.size).toBe(0)
    expect(inst.scheduler.running.explicit.length).toBe(3)
    while (inst.hasWork()) inst.step()
    expect(tokens).toBe(15)
  })
})

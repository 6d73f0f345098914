/**
 * Pipeline parallelism: vLLM's layer split, cross-node boundaries, hand-computed micro-batch
 * overlap through the shared PipelineGate, per-stage KV sizing and stage pricing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { crossNodeBoundaries, stageLayers } from "../../src/cluster/pipeline.js"
import { defaultEngineConfig } from "../../src/domain/EngineConfig.js"
import { usableMemoryBytes } from "../../src/domain/Hardware.js"
import type { Network } from "../../src/domain/Network.js"
import type { StepInfo } from "../../src/engine/EngineObserver.js"
import { activationReserveBytes, kvCapacity, type KvCapacity } from "../../src/memory/capacity.js"
import { batchShapeOf } from "../../src/perf/BatchShape.js"
import { withPipeline } from "../../src/perf/pipeline.js"
import { makeRoofline } from "../../src/perf/roofline.js"
import { defaultRooflineParams } from "../../src/domain/PerfParams.js"
import { ms, runScenario, testHardware, testModel } from "../helpers.js"

describe("stageLayers (vLLM get_pp_indices)", () => {
  it("splits evenly, remainders to the stages before the last, counting back", () => {
    expect(stageLayers(80, 2)).toEqual([40, 40])
    expect(stageLayers(80, 4)).toEqual([20, 20, 20, 20])
    expect(stageLayers(5, 2)).toEqual([3, 2])
    expect(stageLayers(10, 4)).toEqual([2, 3, 3, 2])
    expect(stageLayers(7, 4)).toEqual([2, 2, 2, 1])
    expect(() => stageLayers(4, 5)).toThrow()
  })
  it("marks the sends that cross an 8-GPU node", () => {
    expect(crossNodeBoundaries(2, 2)).toEqual([false])
    expect(crossNodeBoundaries(8, 2)).toEqual([true])
    expect(crossNodeBoundaries(4, 4)).toEqual([false, true, false])
    expect(crossNodeBoundaries(1, 4)).toEqual([false, false, false])
  })
})

describe("virtual engines and the pipeline gate", () => {
  it.effect("P=2: two micro-batches overlap; hand-computed starts and ends", () =>
    Effect.gen(function*() {
      // stage 0 takes 10 ms, stage 1 6 ms, the send 1 ms: a micro-batch takes 17 ms end to end, and
      // stage 0 accepts the next one every 10 ms.
      const steps: Array<[number, number, number, number]> = []
      const { store } = yield* runScenario(
        [{ arrivalNs: 0, promptTokens: 10, outputTokens: 3 }, { arrivalNs: 0, promptTokens: 10, outputTokens: 3 }],
        {
          pipeline: { stages: 2, sendNs: ms(1), stageNs: (_b, s) => (s === 0 ? ms(10) : ms(6)) },
          observer: { onStep: (i: StepInfo) => steps.push([i.instance, i.virtualEngine, i.startNs / 1e6, i.durationNs / 1e6]) }
        }
      )
      // VE0: 0 -> [st0 0-10, send, st1 11-17]; VE1 enters stage 0 at 10 -> [10-20, st1 21-27];
      // VE0 again at max(17, 20) = 20 -> 37; VE1 at max(27, 30) = 30 -> 47; VE0 at 40 -> 57; VE1 at 50 -> 67
      expect(steps).toEqual([[0, 0, 0, 17], [0, 1, 10, 17], [0, 0, 20, 17], [0, 1, 30, 17], [0, 0, 40, 17], [0, 1, 50, 17]])
      const rows = store.requests.map((r) => r.row.split(","))
      // id, instance (the replica), ..., first_token_ms (7), finish_ms (7)
      expect(rows.map((c) => [c[0], c[1], c[7], c[8]])).toEqual([["0", "0", "17.000000", "57.000000"], ["1", "0", "27.000000", "67.000000"]])
    }))

  it.effect("P=1 scheduling is untouched: the same run without a pipeline is serial", () =>
    Effect.gen(function*() {
      const steps: Array<number> = []
      yield* runScenario(
        [{ arrivalNs: 0, promptTokens: 10, outputTokens: 3 }, { arrivalNs: 0, promptTokens: 10, outputTokens: 3 }],
        { stepNs: ms(17), observer: { onStep: (i: StepInfo) => steps.push(i.startNs / 1e6) } }
      )
      expect(steps).toEqual([0, 17, 34]) // one batch holding both requests per step
    }))

  it.effect("a new request joins the virtual engine with the fewest unfinished requests", () =>
    Effect.gen(function*() {
      const ves: Array<number> = []
      yield* runScenario(
        [0, 0, 0].map(() => ({ arrivalNs: 0, promptTokens: 10, outputTokens: 2 })),
        { pipeline: { stages: 2, sendNs: 0 }, stepNs: ms(5), observer: { onStep: (i: StepInfo) => ves.push(i.virtualEngine) } }
      )
      // requests 0, 2 -> VE0, request 1 -> VE1: VE0 runs 2 micro-batches of 2 requests, VE1 2 of 1
      expect(ves).toEqual([0, 1, 0, 1])
    }))
})

describe("KV capacity under PP", () => {
  const cap = (pp: number): KvCapacity => {
    const c = kvCapacity(testModel, testHardware, { ...defaultEngineConfig(4096, 2), pipelineParallelSize: pp })
    if ("_tag" in c) throw new Error(c.reason)
    return c
  }
  it("counts only the stage's layers in KV bytes per token and weights; the most loaded stage sets the blocks", () => {
    // test/tiny: hidden 512, 4 layers, 8 heads, 2 KV heads of 64, FFN 1024 (gated), vocab 1000, untied
    // per layer: attention 512 x 12 x 64 + 512 x 512 = 655,360; norms 1,024; MLP 3 x 512 x 1024 = 1,572,864
    const perLayer = 655_360 + 1_024 + 1_572_864
    const embed = 512 * 1000
    const e = defaultEngineConfig(4096, 2)
    const left = usableMemoryBytes(testHardware) * e.gpuMemoryUtilization - activationReserveBytes(testModel, e)
    const pp1 = cap(1)
    expect(pp1.weightBytes).toBe((4 * perLayer + 2 * embed + 512) * 2)
    expect(pp1.kvBytesPerToken).toBe(2 * 4 * 2 * 64 * 2) // 2,048
    expect(pp1.numBlocks).toBe(Math.floor((left - pp1.weightBytes) / (16 * 2048)))
    const pp2 = cap(2)
    // stage 0: 2 layers + embedding; stage 1: 2 layers + final norm + LM head (512 elements more)
    const w0 = (2 * perLayer + embed) * 2
    const w1 = (2 * perLayer + embed + 512) * 2
    const b0 = Math.floor((left - w0) / (16 * 1024))
    const b1 = Math.floor((left - w1) / (16 * 1024))
    expect(pp2.kvBytesPerToken).toBe(1_024)
    expect(pp2.numBlocks).toBe(Math.min(b0, b1))
    expect(pp2.limitingStage).toBe(b1 < b0 ? 1 : 0)
    expect(pp2.weightBytes).toBe(b1 < b0 ? w1 : w0)
    // the same memory left after weights holds twice the blocks when a GPU keeps half the layers' KV
    const same = Math.floor((left - pp1.weightBytes) / (16 * 1024))
    expect(pp2.numBlocks).toBeGreaterThan(2 * pp1.numBlocks) // and PP2 also frees half the weights
    expect(same).toBeGreaterThanOrEqual(2 * pp1.numBlocks)
    expect(same).toBeLessThanOrEqual(2 * pp1.numBlocks + 1)
  })
})

describe("stage pricing", () => {
  const sends: Array<[number, boolean | undefined]> = []
  const net: Network = {
    allReduceNs: () => 0, allGatherNs: () => 0, reduceScatterNs: () => 0, allToAllNs: () => 0, kvTransferNs: () => 0,
    sendRecvNs: (bytes, cross) => {
      sends.push([bytes, cross])
      return 7_000
    }
  }
  it("stages add up to the full model's step; each send carries hidden_states and residual", () => {
    const e = { ...defaultEngineConfig(4096, 2), pipelineParallelSize: 2 }
    const full = makeRoofline(testModel, testHardware, e, defaultRooflineParams, net)
    const pp = withPipeline(testModel, 2, 1, net, (m) => makeRoofline(m, testHardware, e, defaultRooflineParams, net))
    expect(pp.pipeline?.layers).toEqual([2, 2])
    const b = batchShapeOf([[300, 0]], [100, 200, 300])
    const stageNs = new Float64Array(2)
    const sendNs = new Float64Array(1)
    sends.length = 0
    pp.pipeline!.price(b, stageNs, sendNs)
    expect(sends).toEqual([[303 * 512 * 2 * 2, false]])
    expect(sendNs[0]).toBe(7_000)
    expect(Math.abs(stageNs[0]! + stageNs[1]! - full.stepTimeNs(b))).toBeLessThanOrEqual(2)
    // the last stage also holds the LM head, sampler and step overhead
    expect(stageNs[1]! - stageNs[0]!).toBeGreaterThanOrEqual(defaultRooflineParams.stepOverheadNs)
    expect(pp.stepTimeNs(b)).toBe(stageNs[0]! + stageNs[1]! + 7_000)
  })
})

describe("--pipeline-parallel-size", () => {
  it.effect("is validated and resolved; the default max_model_len fits one virtual engine's blocks", () =>
    Effect.gen(function*() {
      const { resolveConfig } = yield* Effect.promise(() => import("../../src/config/resolve.js"))
      const flags = { model: "meta-llama/Llama-3.1-70B-Instruct", hardware: "H100" }
      const zero = yield* Effect.flip(resolveConfig({ ...flags, pipelineParallelSize: 0 }))
      expect(JSON.stringify(zero)).toContain("--pipeline-parallel-size")
      const tooMany = yield* Effect.flip(resolveConfig({ ...flags, pipelineParallelSize: 81 }))
      expect(JSON.stringify(tooMany)).toContain("80 decoder layers")
      const cfg = yield* resolveConfig({ ...flags, tensorParallelSize: 1, pipelineParallelSize: 4 })
      expect(cfg.engine.pipelineParallelSize).toBe(4)
      const c = kvCapacity(cfg.model, cfg.hardware, cfg.engine) as KvCapacity
      expect(cfg.engine.maxModelLen).toBe(Math.min(131072, Math.floor(c.numBlocks / 4) * 16))
    }))
})

describe("pipeline parallelism under a closed-loop client", () => {
  it.effect("--max-concurrency 1: the second request is sent when the first's last micro-batch ends", () =>
    Effect.gen(function*() {
      // 17 ms per micro-batch alone (stage 0 10 ms, send 1 ms, stage 1 6 ms): R0's tokens at 17, 34, 51;
      // R1 (due at 0) is sent at 51 and joins virtual engine 0 (both have none unfinished): 68, 85, 102
      const { store, summary } = yield* runScenario(
        [{ arrivalNs: 0, promptTokens: 10, outputTokens: 3 }, { arrivalNs: 0, promptTokens: 10, outputTokens: 3 }],
        {
          pipeline: { stages: 2, sendNs: ms(1), stageNs: (_b, s) => (s === 0 ? ms(10) : ms(6)) },
          client: { maxConcurrency: 1, thinkTimeMeanNs: 0, seed: 0, allAtOnce: true }
        }
      )
      const rows = store.requests.map((r) => r.row.split(","))
      // id, instance, ..., arrival_ms (4), first_token_ms (7), finish_ms (8), client_queue_ms (23)
      expect(rows.map((c) => [c[0], c[4], c[7], c[8], c[23]])).toEqual([
        ["0", "0.000000", "17.000000", "51.000000", "0.000000"],
        ["1", "51.000000", "68.000000", "102.000000", "51.000000"]
      ])
      expect(summary.mean_ttft_ms).toBe(17)
    }))
})

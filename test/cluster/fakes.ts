/** Hand-built instance states for router tests: only the fields routers read. */
import { SimRequest } from "../../src/domain/SimRequest.js"
import type { Instance } from "../../src/engine/Instance.js"

export interface FakeState {
  waiting: number
  running: number
  usedBlocks: number
  numBlocks: number
  /** Prompt tokens peekCachedPrefix reports for any request. */
  hit: number
}

/** A mutable fake instance: change `state` between routing calls. */
export const fakeInstance = (id: number, s: Partial<FakeState> = {}): Instance & { state: FakeState } => {
  const state: FakeState = { waiting: 0, running: 0, usedBlocks: 0, numBlocks: 100, hit: 0, ...s }
  const fake = {
    id,
    state,
    scheduler: {
      waiting: { get length() { return state.waiting } },
      running: { get length() { return state.running } },
      kv: {
        get numBlocks() { return state.numBlocks },
        get usedBlocks() { return state.usedBlocks },
        peekCachedPrefix: () => state.hit
      }
    }
  }
  return fake as unknown as Instance & { state: FakeState }
}

/** A request of `prompt` tokens with known content (so prefix lookups run). */
export const req = (id = 0, prompt = 100): SimRequest =>
  new SimRequest(id, 0, prompt, 10, { kind: "tokens", ids: Int32Array.from({ length: prompt }, (_, i) => i) })

/** The pre-serialised token writer emits exactly the bytes of `tokenChunk`, timing fields included. */
import { describe, expect, it } from "@effect/vitest"
import { extraFields, makeTokenWriter, type ResponseMeta, tokenChunk } from "../../src/server/Sse.js"

describe("makeTokenWriter", () => {
  for (const kind of ["chat", "completion"] as const) {
    for (const continuousUsage of [false, true]) {
      it(`${kind}${continuousUsage ? " continuous usage" : ""}: same bytes as tokenChunk`, () => {
        const m: ResponseMeta = { kind, id: "x-\"1", created: 7, model: "m/é", promptTokens: 5, includeUsage: continuousUsage, continuousUsage }
        const w = makeTokenWriter(m)
        const extra = { sim_time_ns: 123, due_mono_ns: 4.5e12, arrival_mono_ns: 99 }
        for (const piece of [" a", "\"q\"\n", "✓"]) {
          for (const finish of [null, "length", "stop"]) {
            expect(w(3, piece, finish)).toBe(tokenChunk(m, 3, piece, finish))
            expect(w(3, piece, finish, extra)).toBe(tokenChunk(m, 3, piece, finish, extra))
            expect(w(3, piece, finish, extraFields(extra))).toBe(tokenChunk(m, 3, piece, finish, extra))
          }
        }
      })
    }
  }
})

/** Whole real traces from ../shared/reference (skipped when it is absent, e.g. outside CI). */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import { runCapture } from "../cli/capture.js"

const ref = "../shared/reference/traces"
const traces: Array<[string, number]> = [
  ["AzureLLMInferenceTrace_conv.csv", 19_366],
  ["AzureLLMInferenceTrace_code.csv", 8_819],
  ["mooncake/conversation_trace.jsonl", 12_031],
  ["llmservingsim/current/sharegpt-llama-3.1-8b-300-sps10.jsonl", 300],
  ["llmservingsim/v1-2024/share-gpt-req100-rate10.tsv", 100]
]

describe.skipIf(!fs.existsSync(ref))("real traces", () => {
  for (const [file, n] of traces) {
    it.effect(`${file}: every request finishes`, () =>
      Effect.gen(function*() {
        const r = yield* runCapture("simulate", "--trace", `${ref}/${file}`, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--hardware", "A100", "--json")
        expect(r.code, r.stderr).toBe(0)
        const s = JSON.parse(r.stdout)
        expect(s.completed).toBe(n)
        expect(s.rejected).toBe(0)
      }))
  }

  it.effect("RTX 4090 reference run: KV capacity equals vLLM's 2,588 blocks", () =>
    Effect.gen(function*() {
      const r = yield* runCapture("simulate", "--trace", `${ref}/llmservingsim/current/sharegpt-llama-3.1-8b-300-sps10.jsonl`,
        "--model", "meta-llama/Llama-3.1-8B", "--hardware", "RTX4090", "--max-model-len", "32768", "--json")
      expect(JSON.parse(r.stdout).kv_cache_blocks).toBe(2588)
    }))
})

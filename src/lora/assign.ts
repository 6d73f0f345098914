/**
 * Which LoRA adapter each arriving request runs with. A trace record's `lora` field names one
 * ("" = the base model); a request without one picks an adapter uniformly at random from
 * `--lora-modules`, seeded, as `vllm bench serve --lora-modules` does (benchmark_serving.py chooses
 * a module at random for each request).
 */
import { Chunk, Effect, Stream } from "effect"
import type { LoraConfig } from "../domain/LoraConfig.js"
import { InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { Rng } from "../workload/Rng.js"

/** Seed stream of the adapter draws (apart from the workload's and the other draws of a run). */
const LORA_SEED_SALT = 0x4c4f5241

/**
 * `arrivals` with `lora` set (1..n into `lora.adapters`, 0 = base model; an arrival that already
 * carries an id keeps it). Without LoRA the arrivals
 * pass unchanged, unless one names an adapter: InvalidOption for `--enable-lora`; with LoRA, an
 * adapter name not among `--lora-modules` fails with InvalidOption for `--lora-modules`.
 */
export const assignLora = <E>(arrivals: Stream.Stream<Arrival, E>, lora: LoraConfig | undefined, seed: number): Stream.Stream<Arrival, E | InvalidOption> =>
  Stream.suspend(() => {
    let index = 0
    const rng = new Rng((seed ^ LORA_SEED_SALT) >>> 0)
    const ids = new Map(lora?.adapters.map((a, i) => [a.name, i + 1]) ?? [])
    return Stream.mapChunksEffect(arrivals, (chunk) =>
      Effect.suspend(() => {
        if (lora === undefined) {
          for (const a of chunk) {
            if (a.loraName !== undefined && a.loraName !== "") {
              return Effect.fail(new InvalidOption({ option: "--enable-lora", reason: `request ${index} of the workload names LoRA adapter ${JSON.stringify(a.loraName)}; serving adapters needs --enable-lora --lora-modules NAME...` }))
            }
            index++
          }
          return Effect.succeed(chunk)
        }
        const out: Array<Arrival> = []
        for (const a of chunk) {
          let id: number
          if (a.lora !== undefined && a.loraName === undefined) id = a.lora
          else if (a.loraName === undefined) id = rng.int(1, lora.adapters.length)
          else if (a.loraName === "") id = 0
          else {
            const known = ids.get(a.loraName)
            if (known === undefined) {
              return Effect.fail(new InvalidOption({ option: "--lora-modules", reason: `request ${index} of the workload names LoRA adapter ${JSON.stringify(a.loraName)}, which is not among ${lora.adapters.map((x) => x.name).join(", ")}` }))
            }
            id = known
          }
          out.push({ ...a, lora: id })
          index++
        }
        return Effect.succeed(Chunk.unsafeFromArray(out))
      }))
  })

/**
 * Which LoRA adapter each arriving request runs with. A trace record's `lora` field names one
 * ("" = the base model); a request without one picks an adapter uniformly at random from
 * `--lora-modules`, seeded, as `vllm bench serve --lora-modules` does (benchmark_serving.py chooses
 * a module at random for each request).
 */
import type { LoraConfig } from "../domain/LoraConfig.js"
import { InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { Rng } from "../workload/Rng.js"

/** Seed stream of the adapter draws (apart from the workload's and the other draws of a run). */
const LORA_SEED_SALT = 0x4c4f5241

/**
 * A function from the workload's arrivals, in order, to the same arrivals with `lora` set (1..n
 * into `lora.adapters`, 0 = base model; an arrival that already carries an id keeps it), or the
 * InvalidOption to fail the run with: without LoRA an arrival naming an adapter (for
 * `--enable-lora`); with LoRA an adapter name not among `--lora-modules`. Called once per arrival
 * in the run's submit loop (no stream stage of its own: the 1M-request path pays one branch).
 */
export const makeLoraAssigner = (lora: LoraConfig | undefined, seed: number): (a: Arrival) => Arrival | InvalidOption => {
  let index = 0
  if (lora === undefined) {
    return (a) => {
      const i = index++
      return a.loraName !== undefined && a.loraName !== ""
        ? new InvalidOption({ option: "--enable-lora", reason: `request ${i} of the workload names LoRA adapter ${JSON.stringify(a.loraName)}; serving adapters needs --enable-lora --lora-modules NAME...` })
        : a
    }
  }
  const rng = new Rng((seed ^ LORA_SEED_SALT) >>> 0)
  const ids = new Map(lora.adapters.map((x, i) => [x.name, i + 1]))
  return (a) => {
    const i = index++
    let id: number
    if (a.loraName === undefined) id = a.lora ?? rng.int(1, lora.adapters.length)
    else if (a.loraName === "") id = 0
    else {
      const known = ids.get(a.loraName)
      if (known === undefined) {
        return new InvalidOption({ option: "--lora-modules", reason: `request ${i} of the workload names LoRA adapter ${JSON.stringify(a.loraName)}, which is not among ${lora.adapters.map((x) => x.name).join(", ")}` })
      }
      id = known
    }
    return { ...a, lora: id }
  }
}

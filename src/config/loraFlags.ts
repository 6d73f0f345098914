/**
 * The LoRA flags (`--enable-lora`, `--max-loras`, `--max-lora-rank`, `--max-cpu-loras`,
 * `--lora-modules`, `--lora-storage-gbps`) checked and turned into a LoraConfig, with vLLM's rules
 * (vllm/config/lora.py): max_lora_rank one of its accepted ranks, max_cpu_loras >= max_loras, an
 * adapter's rank (from its adapter_config.json) at most max_lora_rank. What the simulator does not
 * model is refused: LoRA on MoE experts, with a scheduling policy other than fcfs, pipeline
 * parallelism, multi-step scheduling or speculative decoding.
 */
import { Effect } from "effect"
import { DEFAULT_LORA_STORAGE_GBS, type LoraAdapter, type LoraConfig, MAX_LORA_RANKS } from "../domain/LoraConfig.js"
import { type FileError, InputError, InvalidOption } from "../domain/errors.js"
import type { Hardware } from "../domain/Hardware.js"
import type { ModelShape } from "../domain/Model.js"
import { readJson } from "./catalog.js"

/** The LoRA flags as given (undefined = not given). `loraModules` is the list `--lora-modules` collected. */
export interface LoraFlags {
  readonly enableLora?: boolean | undefined
  readonly maxLoras?: number | undefined
  readonly maxLoraRank?: number | undefined
  readonly maxCpuLoras?: number | undefined
  readonly loraModules?: string | undefined
  readonly loraStorageGbps?: number | undefined
}

/** What else of the configuration the LoRA checks need. */
export interface LoraContext {
  readonly model: ModelShape
  readonly hardware: Hardware
  readonly schedulingPolicy: string
  readonly pipelineParallelSize: number
  readonly numSchedulerSteps: number
  readonly speculative: boolean
}

const fail = (option: string, reason: string) => Effect.fail(new InvalidOption({ option, reason }))

/**
 * `--lora-modules` entries: NAME or NAME=PATH (vLLM's `name=path` form), separated by commas or
 * spaces. Fails with InvalidOption for an empty (`a,,b`) or repeated name.
 */
export const parseLoraModules = (text: string): Effect.Effect<ReadonlyArray<{ name: string; path?: string }>, InvalidOption> =>
  Effect.gen(function*() {
    const out: Array<{ name: string; path?: string }> = []
    for (const item of text.split(/\s+/).filter((x) => x.length > 0).flatMap((x) => x.split(","))) {
      if (item.startsWith("{")) return yield* fail("--lora-modules", `vLLM's JSON form is not read; give NAME or NAME=PATH (got ${item})`)
      const eq = item.indexOf("=")
      const name = eq < 0 ? item : item.slice(0, eq)
      const path = eq < 0 ? undefined : item.slice(eq + 1)
      if (name.length === 0 || path === "") return yield* fail("--lora-modules", `expected NAME or NAME=PATH (got ${JSON.stringify(item)})`)
      if (out.some((m) => m.name === name)) return yield* fail("--lora-modules", `adapter ${JSON.stringify(name)} is given twice`)
      out.push(path === undefined ? { name } : { name, path })
    }
    if (out.length === 0) return yield* fail("--lora-modules", "expected at least one adapter NAME or NAME=PATH")
    return out
  })

/** The rank `r` of the PEFT adapter in directory `dir` (its adapter_config.json). */
const adapterRank = (dir: string): Effect.Effect<number, FileError | InputError> =>
  Effect.gen(function*() {
    const file = `${dir.replace(/\/+$/, "")}/adapter_config.json`
    const raw = yield* readJson(file)
    const r = (raw as { r?: unknown } | null)?.r
    if (typeof r !== "number" || !Number.isInteger(r) || r <= 0) {
      return yield* new InputError({ path: file, field: "r", expected: "the adapter's LoRA rank, a positive integer", got: JSON.stringify(r) })
    }
    return r
  })

/**
 * The LoraConfig of the flags, or undefined when `--enable-lora` is not given. Fails with
 * InvalidOption naming the flag (a LoRA flag without --enable-lora, a bad value, a combination not
 * modelled), FileError / InputError for an adapter directory without a readable rank.
 */
export const loraConfigOf = (f: LoraFlags, ctx: LoraContext): Effect.Effect<LoraConfig | undefined, InvalidOption | FileError | InputError> =>
  Effect.gen(function*() {
    const on = f.enableLora === true
    if (!on) {
      const given = ([["maxLoras", "--max-loras"], ["maxLoraRank", "--max-lora-rank"], ["maxCpuLoras", "--max-cpu-loras"], ["loraModules", "--lora-modules"], ["loraStorageGbps", "--lora-storage-gbps"]] as const)
        .find(([k]) => f[k] !== undefined)
      if (given !== undefined) return yield* fail(given[1], "applies with --enable-lora (LoRA serving is off without it)")
      return undefined
    }
    for (const [v, option] of [[f.maxLoras, "--max-loras"], [f.maxLoraRank, "--max-lora-rank"], [f.maxCpuLoras, "--max-cpu-loras"]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) return yield* fail(option, `expected a positive integer (got ${v})`)
    }
    const maxLoras = f.maxLoras ?? 1
    const maxLoraRank = f.maxLoraRank ?? 16
    if (!(MAX_LORA_RANKS as ReadonlyArray<number>).includes(maxLoraRank)) {
      return yield* fail("--max-lora-rank", `expected one of vLLM's ranks ${MAX_LORA_RANKS.join(", ")} (got ${maxLoraRank})`)
    }
    const maxCpuLoras = f.maxCpuLoras ?? maxLoras
    if (maxCpuLoras < maxLoras) return yield* fail("--max-cpu-loras", `${maxCpuLoras} must be at least --max-loras ${maxLoras} (vLLM refuses it too)`)
    const storage = f.loraStorageGbps ?? DEFAULT_LORA_STORAGE_GBS
    if (!(Number.isFinite(storage) && storage > 0)) return yield* fail("--lora-storage-gbps", `expected GB/s, a number > 0 (got ${f.loraStorageGbps})`)
    if (f.loraModules === undefined) return yield* fail("--enable-lora", "needs --lora-modules NAME[=PATH]... (the adapters requests can name)")
    const m = ctx.model
    if (m.moe !== null) return yield* fail("--enable-lora", `LoRA on ${m.id}'s MoE experts is not modelled (dense models only)`)
    if (ctx.schedulingPolicy !== "fcfs") return yield* fail("--enable-lora", `LoRA is modelled for --scheduling-policy fcfs only (got ${ctx.schedulingPolicy})`)
    if (ctx.pipelineParallelSize > 1) return yield* fail("--enable-lora", "LoRA with --pipeline-parallel-size > 1 is not modelled")
    if (ctx.numSchedulerSteps > 1) return yield* fail("--enable-lora", "LoRA with --num-scheduler-steps > 1 is not modelled")
    if (ctx.speculative) return yield* fail("--enable-lora", "LoRA with --speculative-config is not modelled")
    if (ctx.hardware.hostLinkGBs === undefined) return yield* fail("--enable-lora", `${ctx.hardware.name}'s hardware file gives no hostLinkGBs (the link adapters are loaded over)`)
    const adapters: Array<LoraAdapter> = []
    for (const mod of yield* parseLoraModules(f.loraModules)) {
      if (mod.name === m.id || mod.name === m.path) return yield* fail("--lora-modules", `adapter name ${JSON.stringify(mod.name)} is the base model's; a request naming it would run on the base model`)
      if (mod.path === undefined) {
        adapters.push({ name: mod.name, rank: maxLoraRank })
        continue
      }
      const rank = yield* adapterRank(mod.path)
      if (rank > maxLoraRank) return yield* fail("--lora-modules", `adapter ${mod.name} (${mod.path}) has rank ${rank}, above --max-lora-rank ${maxLoraRank}`)
      adapters.push({ name: mod.name, rank, path: mod.path })
    }
    return { maxLoras, maxLoraRank, maxCpuLoras, adapters, storageGBs: storage }
  })

/**
 * The bundled catalogue: model configs under `resources/models/<org>/<name>/config.json` and
 * hardware under `resources/hardware/<NAME>.json`. Names match case-insensitively (hardware also
 * ignoring '-', '_' and spaces, and by alias); a model may also be a path to any Hugging Face
 * `config.json` (or a folder holding one).
 */
import { Effect, Schema } from "effect"
import { configTextProblem } from "../domain/configText.js"
import { schemaIssue } from "../domain/schemaIssue.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FileError, InputError, UnknownName } from "../domain/errors.js"
import { Hardware } from "../domain/Hardware.js"
import { HfConfig, type ModelShape, shapeOf } from "../domain/Model.js"
import { jsonSyntaxError } from "../domain/jsonSyntax.js"

/** `resources/` of this package (two levels above this module in both `src/` and `dist/`). */
export const resourcesDir: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "resources")

const modelsDir = path.join(resourcesDir, "models")
const hardwareDir = path.join(resourcesDir, "hardware")

/** Ids (`org/name`) of the bundled models, sorted. */
export const listModels = (): ReadonlyArray<string> => {
  const out: Array<string> = []
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), rel === "" ? e.name : `${rel}/${e.name}`)
      else if (e.name === "config.json" && rel !== "") out.push(rel)
    }
  }
  walk(modelsDir, "")
  return out.sort()
}

/** Names of the bundled hardware, sorted. */
export const listHardware = (): ReadonlyArray<string> =>
  fs.readdirSync(hardwareDir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort()

export const readJson = (file: string): Effect.Effect<unknown, FileError | InputError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (e) => new FileError({ path: file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String((e as Error).message) })
  }).pipe(Effect.flatMap((text) =>
    Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new InputError({ path: file, expected: "valid JSON", got: jsonSyntaxError(text, e) })
    }).pipe(Effect.flatMap((value) => {
      const problem = configTextProblem(text)
      return problem === undefined ? Effect.succeed(value) : Effect.fail(new InputError({ path: file, field: problem.path === "" ? undefined : problem.path, expected: problem.expected }))
    }))
  ))

/**
 * Decode `value` read from `file`. A Hugging Face config.json carries many keys the simulator does
 * not read (`ignore`); a hardware file's keys are all read, so an unknown one is a typo (`error`).
 */
export const decodeWith = <A, I>(schema: Schema.Schema<A, I>, file: string, value: unknown, excess: "ignore" | "error" = "ignore"): Effect.Effect<A, InputError> =>
  Schema.decodeUnknown(schema, { onExcessProperty: excess })(value).pipe(
    Effect.mapError((e) => {
      const issue = schemaIssue(e)
      return new InputError({ path: file, field: issue.path === "" ? undefined : issue.path, expected: issue.expected })
    })
  )

export interface LoadedModel {
  readonly shape: ModelShape
  /** The config.json that was read. */
  readonly path: string
}

const looksLikePath = (s: string) => s.endsWith(".json") || s.startsWith(".") || s.startsWith("/") || fs.existsSync(s)

/**
 * Resolve a model by bundled id (case-insensitive, with or without the org prefix) or by a path to
 * a Hugging Face `config.json` or its folder. Fails with UnknownName (listing the known ids),
 * FileError or InputError (the config field that is missing or wrong).
 */
export const loadModel = (name: string): Effect.Effect<LoadedModel, UnknownName | FileError | InputError> =>
  Effect.gen(function*() {
    let file: string
    let id: string
    const fromPath = looksLikePath(name) && !listModels().some((m) => m.toLowerCase() === name.toLowerCase())
    if (fromPath) {
      file = fs.existsSync(name) && fs.statSync(name).isDirectory() ? path.join(name, "config.json") : name
      id = name
    } else {
      const known = listModels()
      const lower = name.toLowerCase()
      const match = known.find((m) => m.toLowerCase() === lower) ??
        known.find((m) => m.toLowerCase().split("/").pop() === lower)
      if (match === undefined) return yield* new UnknownName({ kind: "model", name, known })
      file = path.join(modelsDir, match, "config.json")
      id = match
    }
    const raw = yield* readJson(file)
    const cfg = yield* decodeWith(HfConfig, file, raw)
    // a config read from a path is reported under that path (it may be an edited copy), with the
    // model it says it came from; profiles are still looked up under that model's name
    const origin = fromPath && cfg._name_or_path !== undefined && cfg._name_or_path.trim() !== "" ? cfg._name_or_path : undefined
    const shape = fromPath
      ? shapeOf(origin === undefined ? name : `${origin} (from ${name})`, cfg, origin ?? name, name)
      : shapeOf(id, cfg)
    // grouped-query attention shares each KV head among heads / kv_heads query heads
    if (!(Number.isInteger(shape.kvHeads) && shape.kvHeads >= 1 && shape.heads % shape.kvHeads === 0)) {
      return yield* new InputError({ path: file, field: "num_key_value_heads", expected: `a divisor of num_attention_heads ${shape.heads}`, got: String(shape.kvHeads) })
    }
    // MoE fields go together: how many experts a token is routed to is not guessed
    const experts = cfg.num_local_experts ?? cfg.num_experts
    if (experts !== undefined && experts > 1) {
      const k = cfg.num_experts_per_tok
      if (k === undefined) {
        return yield* new InputError({ path: file, field: "num_experts_per_tok", expected: `the experts each token is routed to (the config gives ${experts} experts)`, got: "missing" })
      }
      if (k > experts) {
        return yield* new InputError({ path: file, field: "num_experts_per_tok", expected: `at most the ${experts} experts`, got: String(k) })
      }
    }
    return { shape, path: file }
  })

const normalize = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "")

/**
 * Resolve hardware by bundled name or alias (case-insensitive, ignoring '-', '_' and spaces) or by
 * a path to a hardware JSON file of the same shape. Fails with UnknownName listing the known names.
 */
export const loadHardware = (name: string): Effect.Effect<Hardware, UnknownName | FileError | InputError> =>
  Effect.gen(function*() {
    if (name.endsWith(".json")) return yield* decodeWith(Hardware, name, yield* readJson(name), "error")
    if (fs.existsSync(name) && fs.statSync(name).isDirectory()) {
      return yield* new FileError({ path: name, reason: "is a folder; --hardware takes a bundled name (see `llmservingsim hardware`) or a hardware JSON file" })
    }
    if (name.includes("/") || name.includes("\\")) {
      return yield* new FileError({ path: name, reason: "no such hardware file (--hardware takes a bundled name or a path to a .json file)" })
    }
    const known = listHardware()
    const key = normalize(name)
    let match = known.find((h) => normalize(h) === key)
    if (match === undefined) {
      for (const h of known) {
        const file = path.join(hardwareDir, `${h}.json`)
        const hw = yield* decodeWith(Hardware, file, yield* readJson(file), "error")
        if (hw.aliases.some((a) => normalize(a) === key) || normalize(hw.fullName) === key) match = h
      }
    }
    if (match === undefined) return yield* new UnknownName({ kind: "hardware", name, known })
    const file = path.join(hardwareDir, `${match}.json`)
    return yield* decodeWith(Hardware, file, yield* readJson(file), "error")
  })

/**
 * Server launch commands that a published benchmark's page records but its rows may not
 * (`resources/reproduce/launch-commands.json`): e.g. SGLang's vLLM 0.6.0 comparison started every
 * vLLM server with `--num-scheduler-steps 10 --max_model_len 4096`, while only some of its rows
 * say so in `engine_version`. `reproduce` applies a matching command's flags and reports them
 * with the command they come from.
 */
import { Effect, Schema } from "effect"
import * as path from "node:path"
import type { FileError, InputError } from "../domain/errors.js"
import { decodeWith, readJson, resourcesDir } from "../config/catalog.js"

const Launch = Schema.Struct({
  engine: Schema.NonEmptyString,
  model: Schema.NonEmptyString,
  /** The command as the source prints it. */
  command: Schema.NonEmptyString,
  /** The command's engine settings as simulator flag names (kebab-case) and values. */
  flags: Schema.Record({ key: Schema.String, value: Schema.String })
})

const Source = Schema.Struct({
  /** Rows whose url starts with this come from the source. */
  url: Schema.NonEmptyString,
  note: Schema.optional(Schema.String),
  launches: Schema.Array(Launch)
})

const LaunchFile = Schema.Struct({ _doc: Schema.optional(Schema.String), sources: Schema.Array(Source) })

/** The sources of a launch-command file. */
export type LaunchSources = ReadonlyArray<typeof Source.Type>

/** One launch command of a source. */
export interface LaunchCommand {
  readonly url: string
  readonly command: string
  readonly flags: ReadonlyArray<readonly [string, string]>
}

/** The bundled launch-command file. */
export const launchCommandsFile: string = path.join(resourcesDir, "reproduce", "launch-commands.json")

/**
 * Read a launch-command file (default the bundled one). Fails with FileError, or InputError
 * naming the field that does not match the schema.
 */
export const readLaunchCommands = (file: string = launchCommandsFile): Effect.Effect<LaunchSources, FileError | InputError> =>
  readJson(file).pipe(
    Effect.flatMap((raw) => decodeWith(LaunchFile, file, raw, "error")),
    Effect.map((f) => f.sources)
  )

/** The launch command recorded for rows of `url`, `engine` and `model` (case-insensitive), if any. */
export const launchCommandFor = (
  sources: LaunchSources,
  url: string,
  engine: string,
  model: string
): LaunchCommand | undefined => {
  const eq = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase()
  for (const s of sources) {
    if (!url.trim().startsWith(s.url)) continue
    const l = s.launches.find((x) => eq(x.engine, engine) && eq(x.model, model))
    if (l !== undefined) return { url: s.url, command: l.command, flags: Object.entries(l.flags) }
  }
  return undefined
}

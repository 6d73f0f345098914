/**
 * Output files named by a flag (`--output`, `-o`, `--probes-output`, `--trace-events`): checked
 * before the work that fills them, so a typo in a folder name costs nothing (calibrate fitted for
 * seconds before saying ENOENT), and failures worded the same everywhere:
 * `FILE: cannot write --output: its folder could not be made (...)`. Missing parent folders are
 * made, as `--output-dir` and `report --output` make theirs.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { FileError } from "../domain/errors.js"
import { mkdirs } from "../domain/mkdirs.js"

/** The reason a write of a file failed, in words (ENOENT, EISDIR, EACCES, ENOSPC named plainly). */
export const writeReason = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  if (code === "EISDIR") return "it is a folder"
  if (code === "EACCES" || code === "EPERM") return "permission denied"
  if (code === "ENOSPC") return "no space left on the device (ENOSPC)"
  if (code === "ENOENT") return "its folder does not exist"
  return (e as Error).message
}

/** The FileError of a failed write of `file` (named by `flag`). */
export const writeFailure = (flag: string, file: string, e: unknown): FileError =>
  new FileError({ path: file, reason: `cannot write ${flag}: ${writeReason(e)}` })

/**
 * Make `file`'s folder if missing and check that `file` can be written (not a folder, the folder
 * writable). Fails with FileError naming `flag`.
 */
export const prepareOutputFile = (flag: string, file: string): Effect.Effect<void, FileError> =>
  Effect.try({
    try: () => {
      const dir = path.dirname(path.resolve(file))
      try {
        mkdirs(dir)
      } catch (e) {
        throw Object.assign(new Error(`its folder ${dir} could not be made (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`), { code: "MKDIR" })
      }
      if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw Object.assign(new Error("it is a folder"), { code: "EISDIR" })
      fs.accessSync(dir, fs.constants.W_OK)
    },
    catch: (e) => writeFailure(flag, file, e)
  })

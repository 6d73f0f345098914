/**
 * Create a directory and its missing parents, one level at a time. Node's own
 * `mkdirSync(dir, { recursive: true })` never returns for some paths (e.g. under /proc, where
 * mkdir answers ENOENT for a parent that exists), so the CLI would hang instead of failing.
 * Throws the underlying system error (ENOENT, EACCES, ENOTDIR, ...).
 */
import * as fs from "node:fs"
import * as path from "node:path"

export const mkdirs = (dir: string): void => {
  const abs = path.resolve(dir)
  const missing: Array<string> = []
  let p = abs
  while (!fs.existsSync(p)) {
    missing.push(p)
    const parent = path.dirname(p)
    if (parent === p) break
    p = parent
  }
  for (let i = missing.length - 1; i >= 0; i--) fs.mkdirSync(missing[i]!)
  if (!fs.statSync(abs).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: "ENOTDIR" })
}

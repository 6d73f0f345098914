#!/usr/bin/env node
// Launcher: runs the compiled CLI (built by `npm run build`, which `npm ci` runs through `prepare`).
import("../dist/bin.js").catch((err) => {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/bin.js")) {
    console.error("error: the CLI is not built; run `npm run build` (npm ci does it through `prepare`)")
    process.exit(1)
  }
  throw err
})

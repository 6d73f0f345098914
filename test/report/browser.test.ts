/**
 * report.html in headless Chromium (Debian's `chromium`, driven by playwright-core): the page of
 * the Azure conversation run (or, without ../shared/reference, of a small generated run) loads with
 * no console error and no failed request, every figure holds an <svg> with marks, and a screenshot
 * is saved ($REPORT_SCREENSHOT, default the OS temp dir). Without a chromium binary the test is
 * skipped, saying so, unless REQUIRE_CHROMIUM=1 (CI), where a missing browser fails it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { runCapture } from "../cli/capture.js"

/** The chromium binary: $CHROMIUM_PATH when set (only it), else Debian's paths or `chromium` on the PATH. */
const findChromium = (): string | undefined => {
  const given = process.env["CHROMIUM_PATH"]
  if (given !== undefined && given !== "") return fs.existsSync(given) ? given : undefined
  for (const c of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/snap/bin/chromium"]) if (fs.existsSync(c)) return c
  for (const name of ["chromium", "chromium-browser"]) {
    try {
      const p = execFileSync("which", [name], { encoding: "utf8" }).trim()
      if (p !== "") return p
    } catch {
      // not on the PATH
    }
  }
  return undefined
}

const executablePath = findChromium()
const required = process.env["REQUIRE_CHROMIUM"] === "1"
const AZURE = path.resolve("..", "shared", "reference", "traces", "AzureLLMInferenceTrace_conv.csv")

if (executablePath === undefined && !required) {
  console.warn("report browser test skipped: no chromium found (apt-get install -y chromium, or set CHROMIUM_PATH; REQUIRE_CHROMIUM=1 makes this a failure)")
}

describe("report in headless Chromium", () => {
  it.skipIf(executablePath === undefined && !required)("opens with no console errors, every chart rendered with marks; screenshot saved", { timeout: 180_000 }, async () => {
    if (executablePath === undefined) throw new Error("REQUIRE_CHROMIUM=1 but no chromium binary was found (apt-get install -y chromium, or set CHROMIUM_PATH)")
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "llmsim-report-browser-"))
    const workload = fs.existsSync(AZURE)
      ? ["--trace", AZURE, "--model", "meta-llama/Llama-3.1-8B-Instruct", "--hardware", "A100"]
      : ["--num-requests", "200", "--num-instances", "2"]
    const r = await Effect.runPromise(runCapture("simulate", ...workload, "--output-dir", dir, "--report", "--quiet"))
    expect(r.code, r.stderr).toBe(0)
    const file = path.join(dir, "report.html")
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const errors: Array<string> = []
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text())
      })
      page.on("pageerror", (e) => errors.push(e.message))
      page.on("requestfailed", (q) => errors.push(`request failed: ${q.url()}`))
      const remote: Array<string> = []
      page.on("request", (q) => {
        if (!q.url().startsWith("file:")) remote.push(q.url())
      })
      await page.goto(`file://${file}`, { waitUntil: "load" })
      const charts = await page.$$eval("figure.chart", (figs) =>
        figs.map((f) => {
          const svg = f.querySelector("svg")
          const box = svg?.getBoundingClientRect()
          return {
            id: f.getAttribute("data-chart"),
            marks: svg === null ? 0 : svg.querySelectorAll("g.role-mark path, g.role-mark rect, g.role-mark text, g.mark-symbol.role-mark path").length,
            width: box?.width ?? 0,
            height: box?.height ?? 0
          }
        }))
      expect(charts.map((c) => c.id)).toEqual(["cdf-ttft", "cdf-tpot", "cdf-itl", "cdf-e2e", "throughput", "running-waiting", "kv-cache"])
      for (const c of charts) {
        expect(c.marks, `${c.id}: marks`).toBeGreaterThan(0)
        expect(c.width, `${c.id}: width`).toBeGreaterThan(100)
        expect(c.height, `${c.id}: height`).toBeGreaterThan(100)
      }
      expect(await page.locator("table.summary").count()).toBeGreaterThanOrEqual(1)
      expect(errors).toEqual([])
      expect(remote).toEqual([])
      const shot = process.env["REPORT_SCREENSHOT"] ?? path.join(os.tmpdir(), "report-screenshot.png")
      await page.screenshot({ path: shot, fullPage: true })
      expect(fs.statSync(shot).size).toBeGreaterThan(10_000)
      console.log(`report screenshot: ${shot}`)
    } finally {
      await browser.close()
    }
  })
})

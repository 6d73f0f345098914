/**
 * The report page: one self-contained HTML file (inline CSS and SVG, no script, no external
 * resource), so it opens offline and from an e-mail attachment. Sections: the inputs, the summary
 * table (every key of summary.json, nested objects as their own tables, so keys added later appear
 * without code changes), the figures, the per-instance table, the notes on what was left out.
 */
import { mean, quantile, sortedFinite } from "./cdf.js"
import type { RunData } from "./load.js"

/** `s` with the five HTML special characters escaped. */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/** A summary value as table text: integers as is, other numbers to 6 significant digits. */
export const formatValue = (v: unknown): string => {
  if (v === undefined) return ""
  if (v === null) return "null"
  if (typeof v === "number") return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Number(v.toPrecision(6)))
  if (typeof v === "string") return v
  if (typeof v === "boolean") return String(v)
  const json = JSON.stringify(v)
  return json.length > 200 ? `${json.slice(0, 197)}...` : json
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** `obj` flattened to dotted keys (arrays of scalars stay one value; arrays of objects by index). */
export const flatten = (obj: Readonly<Record<string, unknown>>, prefix = "", out: Map<string, unknown> = new Map()): Map<string, unknown> => {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === "" ? k : `${prefix}.${k}`
    if (isObject(v)) flatten(v, key, out)
    else if (Array.isArray(v) && v.some(isObject)) v.forEach((x, i) => (isObject(x) ? flatten(x, `${key}[${i}]`, out) : out.set(`${key}[${i}]`, x)))
    else out.set(key, v)
  }
  return out
}

/** Union of keys in first-seen order. */
const keysOf = (maps: ReadonlyArray<ReadonlyMap<string, unknown>>): Array<string> => {
  const seen = new Set<string>()
  for (const m of maps) for (const k of m.keys()) seen.add(k)
  return [...seen]
}

const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>, cls = ""): string =>
  `<table${cls === "" ? "" : ` class="${cls}"`}><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>` +
  rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join("")}</tr>`).join("") +
  "</tbody></table>"

/**
 * The summary tables of `runs`, one column per run: first the top-level scalar keys, then one
 * table per nested object (e.g. `config`, `sensitivity`), flattened to dotted keys; a table with
 * more than 30 rows is folded (`<details>`).
 */
export const summaryTables = (runs: ReadonlyArray<RunData>): string => {
  const head = ["metric", ...runs.map((r) => r.label)]
  const top = runs.map((r) => new Map(Object.entries(r.summary).filter(([, v]) => !isObject(v) && !(Array.isArray(v) && v.some(isObject)))))
  const rows = keysOf(top).map((k) => [k, ...top.map((m) => formatValue(m.get(k)))])
  // side by side in up to three blocks when there are few runs, so the page stays short
  const blocks = runs.length === 1 ? 3 : runs.length === 2 ? 2 : 1
  const per = Math.max(1, Math.ceil(rows.length / blocks))
  const chunks = Array.from({ length: Math.ceil(rows.length / per) }, (_, i) => rows.slice(i * per, (i + 1) * per))
  const parts = [`<div class="summary-blocks">${chunks.map((c) => table(head, c, "summary")).join("")}</div>`]
  const sections = keysOf(runs.map((r) => new Map(Object.entries(r.summary).filter(([, v]) => isObject(v) || (Array.isArray(v) && v.some(isObject))))))
  for (const s of sections) {
    const flat = runs.map((r) => {
      const v = r.summary[s]
      return isObject(v) ? flatten(v) : Array.isArray(v) ? flatten(Object.fromEntries(v.map((x, i) => [`[${i}]`, x]))) : new Map<string, unknown>()
    })
    const keys = keysOf(flat)
    const body = table([s, ...runs.map((r) => r.label)], keys.map((k) => [k, ...flat.map((m) => formatValue(m.get(k)))]))
    parts.push(`<details${keys.length <= 30 ? " open" : ""}><summary>summary.json · ${escapeHtml(s)} (${keys.length} fields)</summary>${body}</details>`)
  }
  return parts.join("\n")
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "")

/**
 * Per run and instance (requests.csv's `instance`): finished, aborted and rejected requests,
 * output tokens, and mean/p50/p99 of TTFT, TPOT and E2E latency (ms) of the finished ones.
 */
export const instanceTable = (runs: ReadonlyArray<RunData>): string | undefined => {
  const withInst = runs.filter((r) => r.hasInstance && r.requests !== undefined)
  if (withInst.length === 0) return undefined
  const head = ["instance", ...(runs.length > 1 ? ["run"] : []), "finished", "aborted", "rejected", "output tokens",
    "mean TTFT", "p50 TTFT", "p99 TTFT", "mean TPOT", "p99 TPOT", "mean E2E", "p99 E2E"]
  const rows: Array<Array<string>> = []
  for (const r of withInst) {
    const by = new Map<number, Array<(typeof r.requests & object)[number]>>()
    for (const q of r.requests!) {
      const l = by.get(q.instance)
      if (l === undefined) by.set(q.instance, [q])
      else l.push(q)
    }
    for (const [inst, qs] of [...by.entries()].sort(([a], [b]) => a - b)) {
      const fin = qs.filter((q) => q.status === "finished")
      const col = (f: (q: (typeof fin)[number]) => number) => sortedFinite(fin.map(f))
      const ttft = col((q) => q.ttft_ms)
      const tpot = col((q) => q.tpot_ms)
      const e2e = col((q) => q.e2e_ms)
      rows.push([String(inst), ...(runs.length > 1 ? [r.label] : []), String(fin.length), String(qs.filter((q) => q.status === "aborted").length),
        String(qs.filter((q) => q.status === "rejected").length), String(fin.reduce((s, q) => s + (Number.isFinite(q.output_tokens) ? q.output_tokens : 0), 0)),
        ms(mean(ttft)), ms(quantile(ttft, 0.5)), ms(quantile(ttft, 0.99)), ms(mean(tpot)), ms(quantile(tpot, 0.99)), ms(mean(e2e)), ms(quantile(e2e, 0.99))])
    }
  }
  return table(head, rows, "instances")
}

/** A rendered figure for the page. */
export interface Figure {
  readonly id: string
  readonly title: string
  readonly note?: string
  readonly svg: string
}

const figure = (f: Figure) =>
  `<figure class="chart" id="chart-${escapeHtml(f.id)}" data-chart="${escapeHtml(f.id)}"><figcaption>${escapeHtml(f.title)}</figcaption>${f.svg}` +
  `${f.note === undefined ? "" : `<p class="note">${escapeHtml(f.note)}</p>`}</figure>`

const CSS = `body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:12.5px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
thead th{background:#f4f4f4;text-align:center}tbody th{text-align:left;font-weight:normal;font-family:ui-monospace,monospace}
.summary-blocks{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}details{margin:6px 0}summary{cursor:pointer;color:#333}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px}
figure.chart{margin:0;border:1px solid #e4e4e4;border-radius:4px;padding:8px}figure.chart svg{max-width:100%;height:auto}
figcaption{font-weight:600;margin-bottom:4px}.note{color:#555;font-size:12px;margin:4px 0 0}ul.notes li{color:#555}code{font-family:ui-monospace,monospace}`

/** The whole page. `inputs` are the arguments with their kind; `sections` the figures by heading. */
export const reportHtml = (o: {
  readonly title: string
  readonly inputs: ReadonlyArray<{ readonly label: string; readonly path: string; readonly kind: string }>
  readonly summary: string | undefined
  readonly sections: ReadonlyArray<{ readonly heading: string; readonly figures: ReadonlyArray<Figure>; readonly extra?: string }>
  readonly notes: ReadonlyArray<string>
}): string => {
  const body = [
    `<h1>${escapeHtml(o.title)}</h1>`,
    `<ul class="inputs">${o.inputs.map((i) => `<li><b>${escapeHtml(i.label)}</b>: ${escapeHtml(i.kind)} <code>${escapeHtml(i.path)}</code></li>`).join("")}</ul>`,
    ...(o.summary === undefined ? [] : ["<h2>Summary</h2>", o.summary]),
    ...o.sections.filter((s) => s.figures.length > 0 || s.extra !== undefined).map((s) =>
      `<h2>${escapeHtml(s.heading)}</h2>${s.extra ?? ""}<div class="grid">${s.figures.map(figure).join("\n")}</div>`),
    ...(o.notes.length === 0 ? [] : ["<h2>Notes</h2>", `<ul class="notes">${o.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`])
  ]
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(o.title)}</title><style>${CSS}</style></head><body>\n${body.join("\n")}\n</body></html>\n`
}

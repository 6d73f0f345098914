/**
 * Vega-Lite specifications to static images, headless: compiled with vega-lite, laid out by a
 * vega View with no renderer (`renderer: "none"`) and serialised with `View.toSVG()`, so the SVG
 * needs no script, no CDN and no browser to view. PNG goes through @resvg/resvg-js (Rust resvg,
 * system fonts). Several SVGs inline in one HTML page share one id space, so each figure's ids
 * (clip paths, gradients) get a per-figure prefix.
 */
import { Resvg } from "@resvg/resvg-js"
import { Effect } from "effect"
import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"

/** Make the `id="…"` and `url(#…)` references of `svg` unique by prefixing them with `prefix`. */
export const prefixSvgIds = (svg: string, prefix: string): string =>
  svg
    .replace(/\bid="([^"]+)"/g, (_, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${prefix}${id})`)
    .replace(/(xlink:href|href)="#([^"]+)"/g, (_, attr: string, id: string) => `${attr}="#${prefix}${id}"`)

/** The SVG text of a Vega-Lite spec (fails with the vega error's message as a defect: a bug here). */
export const renderSvg = (spec: TopLevelSpec): Effect.Effect<string> =>
  Effect.promise(async () => {
    const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
    try {
      return await view.toSVG()
    } finally {
      view.finalize()
    }
  })

/** PNG bytes of an SVG, at `scale` × its size (2: sharp on high-density screens). */
export const svgToPng = (svg: string, scale = 2): Uint8Array =>
  new Resvg(svg, { fitTo: { mode: "zoom", value: scale }, background: "white", font: { loadSystemFonts: true } }).render().asPng()

/**
 * Sweep jobs and rows as text for the cluster (a message payload stored in Postgres, a reply): JSON
 * that keeps the non-finite numbers JSON cannot hold (`request-rate=inf` is Infinity in a job; a
 * metric may be NaN), as `{"$num":"Infinity"}`. Properties that are undefined are dropped, as the
 * local worker pool's IPC (JSON) drops them.
 */

const NUM = "$num"

/** `value` as wire text (JSON, non-finite numbers kept). */
export const toWire = (value: unknown): string =>
  JSON.stringify(value, (_key, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? { [NUM]: String(x) } : x))

const isNumBox = (x: unknown): x is { readonly [NUM]: string } =>
  typeof x === "object" && x !== null && !Array.isArray(x) && Object.keys(x).length === 1 && typeof (x as Record<string, unknown>)[NUM] === "string"

/** The value of wire text written by toWire. */
export const fromWire = (text: string): unknown => JSON.parse(text, (_key, x: unknown) => (isNumBox(x) ? Number(x[NUM]) : x))

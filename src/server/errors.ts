/**
 * OpenAI-format errors for every route: `{"error": {message, type, param, code}}` with vLLM's
 * `type` names and the HTTP status as `code`, the `Reject` failure handlers raise, and the request
 * checks shared by all API families (API key, body decoding).
 */
import { HttpApp, type HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect, ParseResult, Schema } from "effect"
import type { AdmissionTicket } from "./admission.js"
import type { ServeState } from "./ServeContext.js"

/** An OpenAI-format error response. */
export const openAiError = (status: number, message: string, param: string | null = null, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(
    { error: { message, type: errorType(status), param, code: status } },
    { status, headers }
  )

/**
 * Unknown routes and bodies the platform cannot even parse (e.g. JSON nested too deeply) would
 * answer with an empty 404/500; clients expect OpenAI's error body, so give them one.
 */
export const withOpenAiFallbacks = <E, R>(
  app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
  /** The API's methods per path: a path served for another method answers 405 with `Allow`, as vLLM's FastAPI does. */
  methods: ReadonlyMap<string, ReadonlyArray<string>> = new Map()
) =>
  // a pre-response handler sees every response, including those the platform makes from errors
  HttpApp.withPreResponseHandler(app, (req, res) =>
    Effect.succeed(
      res.body._tag !== "Empty" ? res
        : res.status === 404 ? notFound(req, methods)
        : res.status >= 500 ? openAiError(400, "the request could not be parsed")
        : res
    ))

const notFound = (req: HttpServerRequest.HttpServerRequest, methods: ReadonlyMap<string, ReadonlyArray<string>>) => {
  const allowed = methods.get(req.url.split("?")[0]!)
  return allowed === undefined || allowed.includes(req.method)
    ? openAiError(404, `no route ${req.method} ${req.url}`)
    : openAiError(405, `Method Not Allowed: ${req.method} ${req.url} (allowed: ${allowed.join(", ")})`, null, { allow: allowed.join(", ") })
}

/** The methods per path of an HttpApi's endpoints (for withOpenAiFallbacks' 405). */
export const methodsByPath = (api: { readonly groups: Record<string, { readonly endpoints: Record<string, { readonly method: string; readonly path: string }> }> }) => {
  const m = new Map<string, Array<string>>()
  for (const g of Object.values(api.groups)) {
    for (const e of Object.values(g.endpoints)) m.set(e.path, [...(m.get(e.path) ?? []), e.method])
  }
  return m
}

const errorType = (status: number): string =>
  status === 400 ? "BadRequestError" : status === 401 ? "AuthenticationError" : status === 404 ? "NotFoundError" : status === 405 ? "MethodNotAllowedError" :
  status === 429 ? "RateLimitError" : status === 503 ? "ServiceUnavailableError" : "InternalServerError"

/** A request refused with a ready response (handlers catch it and answer with it). */
export class Reject {
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}
/** Fail with an OpenAI-format error response. */
export const reject = (status: number, message: string, param: string | null = null, headers: Record<string, string> = {}) =>
  Effect.fail(new Reject(openAiError(status, message, param, headers)))

/**
 * Refuse with 401 unless the request carries `Authorization: Bearer <--api-key>` (when one is set).
 * Only the /v1 routes call it (vLLM: the key guards /v1 only; /health, /metrics, /tokenize are open).
 */
export const checkAuth = (st: ServeState, request: HttpServerRequest.HttpServerRequest) => {
  const key = st.options.apiKey
  if (key === undefined) return Effect.void
  const h = request.headers["authorization"] ?? ""
  return h === `Bearer ${key}` ? Effect.void : reject(401, "Unauthorized: a valid API key is required (Authorization: Bearer <key>)")
}

/**
 * The start of every generation request: the API key (401), the queue limit (`--max-waiting`: 503 or
 * `--queue-full-status`, with Retry-After), then the body read and parsed as JSON (400 when it cannot be).
 * The limit counts the engine's waiting requests plus those admitted and not yet submitted
 * (admission.ts); passing it takes `ticket`, which the caller releases at submission.
 */
export const admitJsonBody = (st: ServeState, request: HttpServerRequest.HttpServerRequest, ticket: AdmissionTicket) =>
  Effect.gen(function*() {
    const o = st.options
    yield* checkAuth(st, request)
    // no yield between the check and the take: a burst's requests see each other's tickets
    const waiting = st.engine.load().waiting + st.admission.inFlight()
    if (waiting >= o.maxWaiting) {
      return yield* reject(o.queueFullStatus, `The server is overloaded: ${waiting} requests waiting or being admitted (--max-waiting ${o.maxWaiting}); retry later`, null, { "retry-after": "1" })
    }
    ticket.take()
    const text = yield* request.text.pipe(Effect.catchAll(() => reject(400, "Could not read the request body")))
    try {
      return JSON.parse(text) as unknown
    } catch (e) {
      return yield* reject(400, `Invalid JSON body: ${(e as Error).message}`)
    }
  })

/**
 * A union's members each fail at the same path ("Expected string, actual 5", "Expected a list ...,
 * actual 5"): one message naming every alternative, so a client is not told only the first.
 */
const unionMessage = (issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>, first: ParseResult.ArrayFormatterIssue): string => {
  const key = first.path.join("\u0000")
  const at = issues.filter((i) => i.path.join("\u0000") === key)
  const parts = at.map((i) => /^Expected ([\s\S]*), actual ([\s\S]*)$/.exec(i.message))
  if (parts.some((m) => m === null)) return first.message
  const expected = [...new Set(parts.map((m) => m![1]!))].filter((x) => x !== "null" && x !== "undefined").map((x) => PRIMITIVE[x] ?? x)
  return `Expected ${expected.join(" or ")}, actual ${parts[0]![2]}`
}

/** Schema's primitive names as a client reads them. */
const PRIMITIVE: Record<string, string> = { string: "a string", number: "a number", Int: "an integer", boolean: "a boolean" }

/** A body field's path as OpenAI writes it in `param`: `messages[2].content`, `tools[0].function.name`. */
export const fieldPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => typeof k === "number" ? `${acc}[${k}]` : acc === "" ? String(k) : `${acc}.${String(k)}`, "")

/** Decode a JSON body with `schema`; a bad field is a 400 naming its path (fieldPath). */
export const decodeBody = <A, I>(schema: Schema.Schema<A, I>, body: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "ignore" })(body).pipe(
    Effect.catchAll((e) => {
      const issues = ParseResult.ArrayFormatter.formatErrorSync(e)
      const issue = issues[0]
      const where = issue === undefined || issue.path.length === 0 ? "body" : fieldPath(issue.path)
      return reject(400, `Invalid request: ${where}: ${issue === undefined ? "malformed" : unionMessage(issues, issue)}`, issue === undefined || issue.path.length === 0 ? null : String(issue.path[0]))
    })
  )

/**
 * Arrival stamps: the Node server marks each request with process.hrtime when its headers are
 * parsed, so the simulated arrival is the socket arrival, not when a handler got to run.
 */
import { type HttpServerRequest } from "@effect/platform"
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect } from "effect"
import { createServer, type IncomingMessage } from "node:http"

const ARRIVED = Symbol.for("llmservingsim/arrivedHrNs")

/**
 * A Node HTTP server that stamps every request with process.hrtime when its headers are parsed,
 * before the HTTP stack's own work, so the simulated arrival is the socket arrival.
 */
export const stampingServer = () => {
  const server = createServer()
  server.prependListener("request", (req: IncomingMessage) => {
    ;(req as unknown as Record<symbol, bigint>)[ARRIVED] = process.hrtime.bigint()
  })
  return server
}

/** The request's arrival on the Effect Clock (ns), when the server stamped it. */
export const arrivedAt = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.clockWith((c) =>
    Effect.sync(() => {
      let stamp: bigint | undefined
      try {
        stamp = (NodeHttpServerRequest.toIncomingMessage(request) as unknown as Record<symbol, bigint | undefined>)[ARRIVED]
      } catch {
        stamp = undefined
      }
      if (stamp === undefined) return undefined
      const elapsed = Number(process.hrtime.bigint() - stamp)
      return Number(c.unsafeCurrentTimeNanos()) - Math.max(0, elapsed)
    })
  )

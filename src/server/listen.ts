/**
 * The listening socket of `serve`: Node's HTTP server with arrival stamps (arrival.ts) whose close
 * does not wait on stalled clients. Node's `server.close()` waits for every connection with a
 * request in progress: a client that sent its headers and part of its body, then stalled, kept
 * the process alive on SIGTERM until Node's request timeout (5 min). On close the server now gives
 * open requests a short grace to finish (the engine has already ended every stream with an error
 * chunk and [DONE]), then drops the connections still open.
 */
import { NodeHttpServer } from "@effect/platform-node"
import type { Server } from "node:http"
import { stampingServer } from "./arrival.js"

/** Wall ms that shutdown waits for open connections to finish before it closes them. */
export const SHUTDOWN_GRACE_MS = 1000

/**
 * Make `server.close()` also close, `graceMs` after it was called, the connections still open
 * (idle keep-alive connections are closed at once by Node itself). Returns `server`.
 */
export const closingPromptly = (server: Server, graceMs: number = SHUTDOWN_GRACE_MS): Server => {
  const close = server.close.bind(server)
  server.close = ((callback?: (err?: Error) => void) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs)
    // the timer alone must not keep the process alive
    timer.unref()
    close((err?: Error) => {
      clearTimeout(timer)
      callback?.(err)
    })
    return server
  }) as Server["close"]
  return server
}

/** The Node HTTP server layer of `serve` on host:port: arrival stamps, a prompt close on shutdown. */
export const listenLayer = (host: string, port: number, graceMs: number = SHUTDOWN_GRACE_MS) =>
  NodeHttpServer.layer(() => closingPromptly(stampingServer(), graceMs), { port, host })

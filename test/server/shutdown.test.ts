/**
 * Shutdown does not wait on stalled clients: a client that sent its headers and part of its body,
 * then stalled, used to keep `serve` alive on SIGTERM until Node's request timeout (5 minutes).
 * In-process: closing the server's scope (what SIGTERM / SIGINT do) ends within a few seconds.
 * Child process: `serve` itself, SIGTERM, exit 143 within a few seconds (runs the built CLI,
 * dist/, skipped when it is not built).
 */
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { httpLayer } from "../../src/server/Http.js"
import { listenLayer, SHUTDOWN_GRACE_MS } from "../../src/server/listen.js"
import { engineServices, serveOptions, serverConfig } from "./serverHelpers.js"

/** A socket that sends a POST's headers (Content-Length 100) and 10 bytes of its body, then stalls. */
const stalledPost = (port: number) =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.write("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\":")
      resolve(s)
    })
    s.on("error", reject)
  })

const closed = (s: net.Socket) => new Promise<void>((ok) => (s.closed ? ok() : s.on("close", () => ok())))

describe("shutdown with a stalled client", () => {
  it.live("closing the server's scope drops a stalled partial body after the grace, within a few seconds", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      const layer = httpLayer(cfg, yield* serveOptions(cfg, { timeScale: 1000 }), engineServices(cfg, 10_000_000)).pipe(
        Layer.provideMerge(listenLayer("127.0.0.1", 0))
      )
      const scope = yield* Scope.make()
      const ctx = yield* Layer.buildWithScope(layer, scope)
      const port = ((ctx.unsafeMap.get(HttpServer.HttpServer.key) as HttpServer.HttpServer).address as HttpServer.TcpAddress).port
      const stalled = yield* Effect.promise(() => stalledPost(port))
      stalled.on("error", () => undefined)
      // an idle keep-alive connection too
      const idle = yield* Effect.promise(() => new Promise<net.Socket>((ok) => {
        const s = net.connect(port, "127.0.0.1", () => ok(s))
      }))
      idle.on("error", () => undefined)
      yield* Effect.sleep("200 millis") // the server has the partial request
      const t0 = performance.now()
      // a daemon: if the close hangs, the failed test must not wait for it
      const closing = yield* Effect.forkDaemon(Scope.close(scope, Exit.void))
      const done = yield* Fiber.await(closing).pipe(Effect.timeout(Duration.seconds(6)), Effect.option)
      const ms = performance.now() - t0
      expect(Option.isSome(done), "the server's scope closed").toBe(true)
      expect(ms).toBeLessThan(SHUTDOWN_GRACE_MS + 2000)
      yield* Effect.promise(() => Promise.all([closed(stalled), closed(idle)]))
    }))
})


const built = fs.existsSync("dist/bin.js")

describe.skipIf(!built)("serve: SIGTERM with a stalled client", () => {
  it("exits 143 within a few seconds although a client stalls mid-body", async () => {
    const child = spawn(process.execPath, ["bin/llmservingsim.js", "serve", "--port", "0", "--disable-log-stats"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (b: Buffer) => {
        out += String(b)
        const m = /Listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
        if (m) resolve(Number(m[1]))
      }
      child.stdout.on("data", onData)
      child.stderr.on("data", onData)
      child.on("exit", (code) => reject(new Error(`serve exited ${code} before listening: ${out}`)))
    })
    const s = await stalledPost(port)
    s.on("error", () => undefined)
    await new Promise((ok) => setTimeout(ok, 300))
    const t0 = performance.now()
    child.kill("SIGTERM")
    const code = await new Promise<number | null | "still running">((resolve) => {
      const timer = setTimeout(() => resolve("still running"), 10_000)
      child.on("exit", (c) => {
        clearTimeout(timer)
        resolve(c)
      })
    })
    const ms = performance.now() - t0
    if (code === "still running") child.kill("SIGKILL")
    s.destroy()
    expect(code).toBe(143)
    expect(ms).toBeLessThan(SHUTDOWN_GRACE_MS + 3000)
    expect(out).toContain("interrupted by SIGTERM")
  }, 30_000)
})

/**
 * `--max-waiting N` holds under a burst: requests admitted but not yet submitted to the engine count
 * against the limit, so a simultaneous burst cannot all slip past the check while their bodies are
 * still being read; a request refused after admission (bad model, bad field) gives its place back.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as net from "node:net"
import { MODEL, serveOptions, serverConfig, startServer } from "./serverHelpers.js"

const MAX_WAITING = 5

interface RawAnswer {
  readonly status: number
  readonly headers: string
  readonly body: string
}

/**
 * A POST over a raw socket: the headers at once, the body only when `gate` resolves (a burst whose
 * bodies are still on their way when every request has passed the admission check). Resolves at
 * the response headers for a 200 (a stream: they come with its first token), else at the end of the
 * error body.
 */
const rawPost = (port: number, path: string, body: string, gate: Promise<void>, sockets: Array<net.Socket>) =>
  new Promise<RawAnswer>((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1")
    sockets.push(s)
    let buf = ""
    let done = false
    s.on("connect", () => {
      s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`)
      void gate.then(() => {
        if (!s.destroyed) s.write(body)
      })
    })
    s.on("data", (d) => {
      buf += String(d)
      const end = buf.indexOf("\r\n\r\n")
      if (done || end < 0) return
      const headers = buf.slice(0, end)
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(headers)![1])
      const len = /content-length: (\d+)/i.exec(headers)
      const rest = buf.slice(end + 4)
      if (status === 200 || (len !== null && Buffer.byteLength(rest) >= Number(len[1]))) {
        done = true
        resolve({ status, headers, body: rest })
      }
    })
    // a refused request's unsent body may hit a closed socket: only an error before the answer counts
    s.on("error", (e) => {
      if (!done) reject(e)
    })
  })

describe("--max-waiting under a burst", () => {
  it.live("20 simultaneous requests with --max-waiting 5: exactly 5 get in, the rest 503 at once; places freed by refusals", () =>
    Effect.gen(function*() {
      const cfg = serverConfig()
      // 50 ms steps in real time: an admitted request (1000 tokens) runs for 50 s, past the test's end
      const base = yield* startServer(cfg, yield* serveOptions(cfg, { timeScale: 1, maxWaiting: MAX_WAITING }), 50_000_000)
      const port = Number(new URL(base).port)
      const sockets: Array<net.Socket> = []
      const body = JSON.stringify({ model: MODEL, prompt: "hello there", max_tokens: 1000, stream: true })
      yield* Effect.promise(async () => {
        try {
          // refused after the admission check (unknown model, bad field): each gives its place back
          for (let i = 0; i < 2 * MAX_WAITING; i++) {
            const bad = i % 2 === 0 ? { model: "nope", prompt: "x" } : { model: MODEL, prompt: "x", top_p: 7 }
            const r = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(bad) })
            expect(r.status).toBe(i % 2 === 0 ? 404 : 400)
          }
          let open!: () => void
          const gate = new Promise<void>((ok) => {
            open = ok
          })
          const burst = Array.from({ length: 20 }, () => rawPost(port, "/v1/completions", body, gate, sockets))
          // every request's headers are in (and its admission decided) before any body is sent
          await new Promise((ok) => setTimeout(ok, 300))
          open()
          const answers = await Promise.all(burst)
          const accepted = answers.filter((r) => r.status === 200)
          expect(accepted.length).toBe(MAX_WAITING)
          for (const r of answers.filter((a) => a.status !== 200)) {
            expect(r.status).toBe(503)
            expect(r.headers).toMatch(/retry-after: 1/i)
            const e = (JSON.parse(r.body) as { error: { message: string; code: number } }).error
            expect(e.code).toBe(503)
            expect(e.message).toContain("--max-waiting 5")
          }
          // the accepted streams go away: their requests leave the queue and the server admits again
          for (const s of sockets) s.destroy()
          let waiting = -1
          for (let i = 0; i < 100 && waiting !== 0; i++) {
            await new Promise((ok) => setTimeout(ok, 20))
            waiting = ((await (await fetch(`${base}/status`)).json()) as { waiting: number }).waiting
          }
          expect(waiting).toBe(0)
          const again = await rawPost(port, "/v1/completions", body, Promise.resolve(), sockets)
          expect(again.status).toBe(200)
        } finally {
          for (const s of sockets) s.destroy()
        }
      })
    }).pipe(Effect.scoped))
})

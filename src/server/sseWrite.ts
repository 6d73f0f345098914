/**
 * Writing SSE text to a Node response at the lowest cost per chunk. `res.write` on a chunked
 * response costs, per call, a byte count, four buffered pieces (size line, CRLF, data, CRLF), a
 * socket cork and a `process.nextTick` uncork that flushes them with one `writev`. At 1,000 streams
 * that is ~20,000 calls per second on one event loop. Once the response's headers are on the wire
 * and nothing of it is buffered, the same bytes (HTTP/1.1 chunked framing, RFC 9112 section 7.1)
 * can go to the socket as one string in one `write`, which is what this does; in every other state
 * (headers not yet sent, output queued behind a pipelined response, not chunked) it uses `res.write`.
 */
import type { ServerResponse } from "node:http"
import type { Socket } from "node:net"

/** The undocumented OutgoingMessage fields the fast path checks (Node 18 to 22 have them). */
interface OutgoingState {
  readonly _headerSent?: boolean
  readonly chunkedEncoding?: boolean
  readonly outputData?: ReadonlyArray<unknown>
}

/**
 * A writer of SSE text to `res` (any string, e.g. several `data:` events at once; "" is skipped).
 * Nothing is written after the response ended or its socket closed. Each call is one socket write.
 */
export const makeSseWriter = (res: ServerResponse): ((s: string) => void) => (s) => {
  if (s === "" || res.writableEnded || res.destroyed) return
  const st = res as unknown as OutgoingState
  const sock = res.socket as (Socket & { _httpMessage?: unknown }) | null
  if (
    sock !== null && st._headerSent === true && st.chunkedEncoding === true && st.outputData !== undefined && st.outputData.length === 0 &&
    sock._httpMessage === res && sock.writable
  ) {
    sock.write(Buffer.byteLength(s).toString(16) + "\r\n" + s + "\r\n")
  } else res.write(s)
}

/**
 * A buffered append-only file written as bytes: rows are encoded straight into one reused 1 MiB
 * buffer (integers and ns-as-ms digit by digit, ASCII names from a small cache), which is written
 * with one synchronous `writeSync` when full. A row costs no allocation beyond the few texts that
 * have no byte form here (a float printed with `toFixed`, a rejection reason).
 *
 * A write that fails (a full disk: ENOSPC) is kept in `error` and later rows are dropped, so the
 * run goes on and the sink's `writeSummary` fails with a FileError naming this file.
 */
import * as fs from "node:fs"
import { FileError } from "../domain/errors.js"

const CAPACITY = 1 << 20
/** Room always left for one row of numbers before a flush is forced (longer texts ensure their own). */
const ROW_ROOM = 4096

const COMMA = 44
const DOT = 46
const NEWLINE = 10
const ZERO = 48
const MINUS = 45
/** "00" "01" ... "99" as byte pairs. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => ZERO + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)))

export class ByteFile {
  private readonly buf: Buffer
  /** Bytes in `buf` not yet written. */
  pos = 0
  /** Bytes handed to the file so far (written or pending in the buffer). */
  bytes = 0
  error: Error | undefined = undefined
  private lastText: string | undefined = undefined
  private lastBytes: Buffer | undefined = undefined

  /**
   * @param file the path (for error messages)
   * @param fd an open descriptor, or -1 for a file that only counts bytes (benchmarks, tests)
   */
  constructor(readonly file: string, private readonly fd: number, capacity = CAPACITY) {
    this.buf = Buffer.allocUnsafe(capacity + ROW_ROOM)
  }

  /** Open `file` for writing (truncated); throws on failure. */
  static open(file: string): ByteFile {
    return new ByteFile(file, fs.openSync(file, "w"))
  }

  /** Make room for a row: flush when fewer than ROW_ROOM bytes are left. */
  beginRow(): void {
    if (this.pos >= this.buf.length - ROW_ROOM) this.flush()
  }

  /** Append a byte (an ASCII character code). */
  byte(c: number): void {
    this.buf[this.pos++] = c
  }

  /** Append ",". */
  comma(): void {
    this.buf[this.pos++] = COMMA
  }

  /** Append "\n". */
  newline(): void {
    this.buf[this.pos++] = NEWLINE
  }

  /** Append an integer as `String(n)` would; any other number goes through `String`. */
  int(n: number): void {
    if ((n | 0) === n && n >= 0) {
      this.uint31(n)
      return
    }
    if (!Number.isSafeInteger(n)) {
      this.text(String(n))
      return
    }
    const buf = this.buf
    if (n < 0) {
      buf[this.pos++] = MINUS
      n = -n
    }
    let digits = 1
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
    let p = this.pos + digits
    this.pos = p
    while (n >= 10) {
      const q = Math.floor(n / 10)
      buf[--p] = ZERO + (n - q * 10)
      n = q
    }
    buf[--p] = ZERO + n
  }

  /** An integer in [0, 2^31). */
  private uint31(n: number): void {
    const buf = this.buf
    if (n < 10) {
      buf[this.pos++] = ZERO + n
      return
    }
    const digits = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10
    let p = this.pos + digits
    this.pos = p
    while (n >= 100) {
      const q = (n / 100) | 0
      const r = (n - q * 100) << 1
      buf[--p] = PAIRS[r + 1]!
      buf[--p] = PAIRS[r]!
      n = q
    }
    if (n >= 10) {
      const r = n << 1
      buf[--p] = PAIRS[r + 1]!
      buf[--p] = PAIRS[r]!
    } else buf[--p] = ZERO + n
  }

  /** Append an integer in [0, 10^6) as six digits, zero-padded. */
  private six(n: number): void {
    const buf = this.buf
    const p = this.pos
    this.pos = p + 6
    let q = (n / 100) | 0
    let r = (n - q * 100) << 1
    buf[p + 5] = PAIRS[r + 1]!
    buf[p + 4] = PAIRS[r]!
    n = q
    q = (n / 100) | 0
    r = (n - q * 100) << 1
    buf[p + 3] = PAIRS[r + 1]!
    buf[p + 2] = PAIRS[r]!
    r = (q - ((q / 100) | 0) * 100) << 1
    buf[p + 1] = PAIRS[r + 1]!
    buf[p] = PAIRS[r]!
  }

  /**
   * Append integer ns as ms with six decimals, exactly as format.ts `nsToMs` ("12.000345"), nothing
   * for a negative (unset) time; a non-integer goes through the text form.
   */
  ms(ns: number): void {
    if (ns < 0) return
    const whole = Math.floor(ns / 1e6)
    const frac = ns - whole * 1e6
    if ((frac | 0) !== frac || !Number.isSafeInteger(whole)) {
      this.text(`${whole}.${String(frac).padStart(6, "0")}`)
      return
    }
    this.int(whole)
    this.buf[this.pos++] = DOT
    this.six(frac)
  }

  /**
   * Append `x.toFixed(6)`, byte for byte: digits from `Math.round(x·1e6)` where that is provably
   * the exactly rounded value (x·1e6 is not within its rounding error of a tie), else `toFixed`.
   */
  fixed6(x: number): void {
    if (!(x >= 0 && x < 2147483647)) {
      this.text(x.toFixed(6))
      return
    }
    const y = x * 1e6
    const fl = Math.floor(y)
    if (Math.abs(y - fl - 0.5) <= y * 2.3e-16) {
      this.text(x.toFixed(6))
      return
    }
    const r = y - fl > 0.5 ? fl + 1 : fl
    const whole = Math.floor(r / 1e6)
    this.uint31(whole)
    this.buf[this.pos++] = DOT
    this.six(r - whole * 1e6)
  }

  /** Append bytes encoded once (an ASCII constant). */
  raw(b: Uint8Array): void {
    if (this.pos + b.length > this.buf.length) this.flush()
    if (b.length > this.buf.length) return this.writeDirect(Buffer.from(b))
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  /** Append a name that repeats from row to row (a pool): its UTF-8 bytes are cached while it repeats. */
  name(s: string): void {
    if (s !== this.lastText) {
      this.lastText = s
      this.lastBytes = Buffer.from(s, "utf8")
    }
    this.raw(this.lastBytes!)
  }

  /** Append a text (UTF-8). */
  text(s: string): void {
    if (s.length === 0) return
    const max = s.length * 3
    if (this.pos + max > this.buf.length) this.flush()
    if (max > this.buf.length) return this.writeDirect(Buffer.from(s, "utf8"))
    this.pos += this.buf.write(s, this.pos, "utf8")
  }

  private writeDirect(b: Buffer): void {
    this.flush()
    this.bytes += b.length
    if (this.error !== undefined || this.fd < 0) return
    try {
      fs.writeSync(this.fd, b)
    } catch (e) {
      this.error = e as Error
    }
  }

  /** Write what is buffered. */
  flush(): void {
    const n = this.pos
    if (n === 0) return
    this.pos = 0
    this.bytes += n
    if (this.error !== undefined || this.fd < 0) return
    try {
      let off = 0
      while (off < n) off += fs.writeSync(this.fd, this.buf, off, n - off)
    } catch (e) {
      this.error = e as Error
    }
  }

  /** The FileError of a failed write, if one failed. */
  failure(): FileError | undefined {
    return this.error === undefined ? undefined : new FileError({ path: this.file, reason: `cannot write: ${this.error.message}` })
  }

  /** Flush and close (errors are reported through failure()). */
  close(): void {
    this.flush()
    if (this.fd < 0) return
    try {
      fs.closeSync(this.fd)
    } catch {
      // already reported through failure()
    }
  }
}

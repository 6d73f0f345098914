/**
 * Admission under `--max-waiting`: a request that passed the queue check but is not yet submitted
 * to the engine (its body still being read, parsed, tokenized) is not in the engine's waiting
 * queue, so a burst would all pass the check before any of them is counted. The server counts
 * those requests here and adds them to the engine's waiting count when it checks the limit.
 */
import { Effect } from "effect"

/** The server's count of admitted, not yet submitted, requests. */
export interface Admission {
  /** Requests admitted past the --max-waiting check and not yet submitted (nor refused). */
  readonly inFlight: () => number
  /** A ticket for one request: not counted until taken. */
  readonly ticket: () => AdmissionTicket
}

/** One request's place in the admission count; `take` and `release` are idempotent. */
export interface AdmissionTicket {
  /** Count the request (at the admission check). */
  readonly take: () => void
  /** Stop counting it (it was submitted, refused or failed). */
  readonly release: () => void
}

/** A fresh admission count (one per server). */
export const makeAdmission = (): Admission => {
  let inFlight = 0
  return {
    inFlight: () => inFlight,
    ticket: () => {
      let held = false
      return {
        take: () => {
          if (!held) {
            held = true
            inFlight++
          }
        },
        release: () => {
          if (held) {
            held = false
            inFlight--
          }
        }
      }
    }
  }
}

/**
 * Run `f` with a fresh ticket of `admission`, released when `f` ends however it ends (refused,
 * failed, interrupted); `f` releases it itself once the request is submitted.
 */
export const withTicket = <A, E, R>(admission: Admission, f: (ticket: AdmissionTicket) => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const t = admission.ticket()
    return f(t).pipe(Effect.ensuring(Effect.sync(t.release)))
  })

/**
 * A client abort, the same under every scheduling policy: take `r` out of the waiting queue or the
 * running set (wherever its status says it is), free its KV blocks and mark it finished. False when
 * it is in neither (already finished, rejected or handed off).
 */
import { RequestStatus, type SimRequest } from "../domain/SimRequest.js"
import type { KvCache } from "../memory/KvCache.js"

export const abortRequest = (
  r: SimRequest,
  waiting: { remove(r: SimRequest): boolean },
  running: { remove(r: SimRequest): boolean },
  kv: KvCache
): boolean => {
  if (r.status === RequestStatus.Waiting) {
    if (!waiting.remove(r)) return false
  } else if (r.status === RequestStatus.Running) {
    if (!running.remove(r)) return false
  } else {
    return false
  }
  kv.release(r, true)
  r.status = RequestStatus.Finished
  return true
}

/**
 * `serve`'s periodic stats line, as vLLM's LoggingStatLogger prints it (vllm/v1/metrics/loggers.py):
 *
 *   Engine 000: Avg prompt throughput: 512.0 tokens/s, Avg generation throughput: 96.3 tokens/s,
 *   Running: 4 reqs, Waiting: 0 reqs, GPU KV cache usage: 3.1%, Prefix cache hit rate: 42.0%
 *
 * every `intervalS` seconds of wall time (vLLM: VLLM_LOG_STATS_INTERVAL, 10 s), throughputs over the
 * interval (tokens per wall second), the rest as the engine stands; off with --disable-log-stats, as
 * in vLLM. A line is skipped while the server is idle (no tokens in the interval, nothing running or
 * waiting), so an unused server stays quiet.
 */
import { Clock, Console, Duration, Effect } from "effect"
import type { EngineLoad } from "./Metrics.js"

/** One stats line from the token totals at the interval's start and end and the current load. */
export const statsLine = (
  before: { readonly prompt: number; readonly generation: number },
  now: { readonly prompt: number; readonly generation: number },
  load: EngineLoad,
  seconds: number
): string => {
  const rate = (a: number, b: number) => (seconds > 0 ? (b - a) / seconds : 0).toFixed(1)
  const kv = load.kvTotal === 0 ? 0 : (100 * load.kvUsed) / load.kvTotal
  const hit = load.prefixQueries === 0 ? 0 : (100 * load.prefixHits) / load.prefixQueries
  return `Engine 000: Avg prompt throughput: ${rate(before.prompt, now.prompt)} tokens/s, Avg generation throughput: ${rate(before.generation, now.generation)} tokens/s, ` +
    `Running: ${load.running} reqs, Waiting: ${load.waiting} reqs, GPU KV cache usage: ${kv.toFixed(1)}%, Prefix cache hit rate: ${hit.toFixed(1)}%`
}

/** Forever: every `intervalS` s log a stats line (skipped while idle). Fork it in the server's scope. */
export const logStatsEvery = (
  intervalS: number,
  totals: () => { readonly prompt: number; readonly generation: number },
  load: () => EngineLoad
): Effect.Effect<never> =>
  Effect.gen(function*() {
    let before = totals()
    let t0 = yield* Clock.currentTimeMillis
    for (;;) {
      yield* Effect.sleep(Duration.seconds(intervalS))
      const now = totals()
      const l = load()
      const t1 = yield* Clock.currentTimeMillis
      if (now.prompt !== before.prompt || now.generation !== before.generation || l.running > 0 || l.waiting > 0) {
        yield* Console.log(statsLine(before, now, l, (t1 - t0) / 1000))
      }
      before = now
      t0 = t1
    }
  })

/**
 * `llmservingsim serve` (alias `server`): an OpenAI-compatible HTTP server whose answers come from
 * the live simulated engine, time-scaled to wall time.
 */
import { routerOf } from "../cluster/RouterSpec.js"
import { Command, Options } from "@effect/cli"
import { Console, Effect, Layer, Option } from "effect"
import { resolveConfig } from "../config/resolve.js"
import { InvalidOption } from "../domain/errors.js"
import { defaultOutputLen } from "../server/OutputLen.js"
import { engineOptions, toEngineFlags } from "./options.js"

export const serveOptions = {
  host: Options.text("host").pipe(Options.withDefault("127.0.0.1"), Options.withDescription("Address to listen on (default 127.0.0.1)")),
  port: Options.integer("port").pipe(Options.withDefault(8000), Options.withDescription("Port to listen on, 0 = any free port (default 8000)")),
  servedModelName: Options.text("served-model-name").pipe(Options.optional, Options.withDescription("Model name clients send (default: the model id, or the --model path as vLLM)")),
  timeScale: Options.float("time-scale").pipe(Options.withDefault(1), Options.withDescription("Simulated seconds per wall second: 1 = real time, 10 = ten times faster than the simulated hardware (default 1)")),
  maxWaiting: Options.integer("max-waiting").pipe(Options.optional, Options.withDescription("Refuse new requests (503, or --queue-full-status) while this many are waiting (default: unbounded)")),
  queueFullStatus: Options.choice("queue-full-status", ["503", "429"]).pipe(Options.withDefault("503" as const), Options.withDescription("HTTP status when the queue is full (default 503)")),
  apiKey: Options.text("api-key").pipe(Options.optional, Options.withDescription("Require `Authorization: Bearer <key>` on /v1 endpoints (default: no key)")),
  tokenizer: Options.text("tokenizer").pipe(Options.optional, Options.withDescription("Path to a Hugging Face tokenizer.json for exact prompt token counts (default: the model's bundled tokenizer or an estimate)")),
  outputLen: Options.integer("output-len").pipe(Options.withDefault(defaultOutputLen.len), Options.withDescription(`Output tokens of requests without max_tokens (median with --length-dist lognormal; default ${defaultOutputLen.len})`)),
  lengthDist: Options.choice("length-dist", ["fixed", "uniform", "lognormal"]).pipe(Options.withDefault("fixed" as const), Options.withDescription("Distribution of output lengths of requests without max_tokens (default fixed)")),
  rangeRatio: Options.float("range-ratio").pipe(Options.withDefault(defaultOutputLen.rangeRatio), Options.withDescription(`Uniform output lengths in [len x (1-r), len x (1+r)] (default ${defaultOutputLen.rangeRatio})`)),
  lengthSigma: Options.float("length-sigma").pipe(Options.withDefault(defaultOutputLen.sigma), Options.withDescription(`Lognormal sigma of ln(output length) (default ${defaultOutputLen.sigma})`)),
  echo: Options.boolean("echo").pipe(Options.withDescription("Answer with the prompt's tokens (in a loop) instead of filler text")),
  timingFields: Options.boolean("timing-fields").pipe(Options.withDescription("Add sim_time_ns and due_mono_ns to every token chunk (for benchmarks)")),
  disableLogStats: Options.boolean("disable-log-stats").pipe(Options.withDescription("vLLM's flag: no periodic stats line (throughput, running, waiting, KV use) on stdout (default: one every --log-stats-interval-s)")),
  logStatsIntervalS: Options.float("log-stats-interval-s").pipe(Options.withDefault(10), Options.withDescription("Seconds of wall time between two stats lines (vLLM's VLLM_LOG_STATS_INTERVAL; default 10)"))
}

export const serveCommand = Command.make("serve", { ...engineOptions, ...serveOptions }, (o) =>
  Effect.gen(function*() {
    const flags = toEngineFlags(o)
    const frontEndFlag = ([["--frontend-ingress-us", flags.frontendIngressUs], ["--frontend-tokenize-us-per-token", flags.frontendTokenizeUsPerToken], ["--frontend-egress-us", flags.frontendEgressUs]] as const)
      .find(([, v]) => v !== undefined)
    if (frontEndFlag !== undefined) {
      return yield* new InvalidOption({ option: frontEndFlag[0], reason: "serve's front end is its real HTTP server, so the modelled API-server delays apply to simulate and sweep only" })
    }
    if (flags.priorityLevels !== undefined) {
      return yield* new InvalidOption({ option: "--priority-levels", reason: "serve takes each request's priority from its body's priority field (vLLM's); --priority-levels applies to simulate and sweep only" })
    }
    const cfg = yield* resolveConfig(flags)
    if (cfg.engine.pipelineParallelSize > 1) {
      return yield* new InvalidOption({ option: "--pipeline-parallel-size", reason: "serve does not model pipeline parallelism yet (its live engine has no virtual engines); use simulate" })
    }
    if (!(Number.isFinite(o.timeScale) && o.timeScale > 0)) return yield* new InvalidOption({ option: "--time-scale", reason: `expected a number > 0 (got ${o.timeScale})` })
    if (!(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) return yield* new InvalidOption({ option: "--port", reason: `expected 0..65535 (got ${o.port})` })
    const maxWaiting = Option.getOrElse(o.maxWaiting, () => Infinity)
    if (!(maxWaiting >= 0)) return yield* new InvalidOption({ option: "--max-waiting", reason: `expected an integer >= 0 (got ${maxWaiting})` })
    if (!(Number.isFinite(o.logStatsIntervalS) && o.logStatsIntervalS > 0)) return yield* new InvalidOption({ option: "--log-stats-interval-s", reason: `expected a number of seconds > 0 (got ${o.logStatsIntervalS})` })
    if (!(o.outputLen > 0)) return yield* new InvalidOption({ option: "--output-len", reason: `expected a positive integer (got ${o.outputLen})` })
    const router = yield* routerOf(o.router)
    // the HTTP stack and tokenizers load only when serving (keeps every other command's start-up short)
    const { makeTokenizer } = yield* Effect.promise(() => import("../server/Tokenizer.js"))
    const { serverLayer } = yield* Effect.promise(() => import("../server/Http.js"))
    const tokenizer = yield* makeTokenizer(cfg.model, Option.getOrUndefined(o.tokenizer))
    const servedModelName = Option.getOrElse(o.servedModelName, () => cfg.model.path ?? cfg.model.id)
    if (cfg.engine.lora?.adapters.some((a) => a.name === servedModelName) === true) {
      return yield* new InvalidOption({ option: "--lora-modules", reason: `adapter name ${JSON.stringify(servedModelName)} is the --served-model-name; a request naming it would run on the base model` })
    }
    yield* Console.warn(
      `starting: ${servedModelName} (${cfg.model.id} on ${cfg.hardware.name}${cfg.numInstances > 1 ? ` x ${cfg.numInstances}` : ""}), ` +
        `max_model_len ${cfg.engine.maxModelLen}, time scale ${o.timeScale}, tokenizer ${tokenizer.name}`
    )
    return yield* Layer.launch(serverLayer(cfg, {
      servedModelName,
      timeScale: o.timeScale,
      maxWaiting,
      queueFullStatus: o.queueFullStatus === "429" ? 429 : 503,
      apiKey: Option.getOrUndefined(o.apiKey),
      outputLen: { dist: o.lengthDist, len: o.outputLen, rangeRatio: o.rangeRatio, sigma: o.lengthSigma },
      echo: o.echo,
      tokenizer,
      timingFields: o.timingFields,
      logStatsIntervalS: o.disableLogStats ? undefined : o.logStatsIntervalS,
      router
    }, o.host, o.port)).pipe(
      // the listener could not start (port in use, address not available): a user's problem, one line
      Effect.catchTag("ServeError", (e) => {
        const code = (e.cause as { code?: string } | undefined)?.code
        return new InvalidOption({
          option: code === "EADDRINUSE" || code === "EACCES" ? "--port" : "--host",
          reason: code === "EADDRINUSE" ? `${o.host}:${o.port} is already in use` : `cannot listen on ${o.host}:${o.port}: ${code ?? String((e.cause as Error | undefined)?.message ?? e.cause)}`
        })
      })
    )
  })
).pipe(Command.withDescription("OpenAI-compatible server on the live simulated engine (time-scaled): /v1/completions, /v1/chat/completions, /v1/models, /metrics, /health, /status, /docs"))

/** The same command under the seed's name. */
export const serverCommand = Command.make("server", { ...engineOptions, ...serveOptions }, (o) => serveCommand.handler(o)).pipe(
  Command.withDescription("Alias of `serve`")
)

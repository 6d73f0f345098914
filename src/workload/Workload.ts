/**
 * A workload from flags: a trace file (streamed) or the built-in generator. Checks every flag's
 * range (InvalidOption naming it) and opens the trace (FileError / InputError).
 */
import { Effect, type Stream } from "effect"
import { InvalidOption } from "../domain/errors.js"
import type { Arrival } from "../engine/Engine.js"
import { type GeneratorSpec, generatorStream, type LengthDist } from "./generator.js"
import type { TraceFormat } from "./traces/formats.js"
import { openTrace, type TraceError } from "./traces/TraceReader.js"

export interface WorkloadFlags {
  readonly trace?: string | undefined
  readonly traceFormat?: TraceFormat | undefined
  readonly numRequests?: number | undefined
  readonly rateScale?: number | undefined
  /** A number or "inf". */
  readonly requestRate?: string | undefined
  readonly burstiness?: number | undefined
  readonly inputLen?: number | undefined
  readonly outputLen?: number | undefined
  readonly lengthDist?: LengthDist | undefined
  readonly rangeRatio?: number | undefined
  readonly lengthSigma?: number | undefined
}

export interface Workload {
  /** One line describing it (console report). */
  readonly description: string
  /** The same as data (summary.json). */
  readonly spec: Record<string, unknown>
  readonly arrivals: Stream.Stream<Arrival, TraceError>
}

export const DEFAULT_GENERATOR = { numRequests: 1000, requestRate: 10, burstiness: 1, inputLen: 1024, outputLen: 256, lengthDist: "fixed", rangeRatio: 0.5, lengthSigma: 0.5 } as const

const bad = (option: string, reason: string) => Effect.fail(new InvalidOption({ option, reason }))

export const resolveWorkload = (f: WorkloadFlags, seed: number): Effect.Effect<Workload, InvalidOption | TraceError> =>
  Effect.gen(function*() {
    if (f.numRequests !== undefined && !(Number.isInteger(f.numRequests) && f.numRequests > 0)) {
      return yield* bad("--num-requests", `expected a positive integer (got ${f.numRequests})`)
    }
    if (f.trace !== undefined) {
      const generatorOnly = ([
        ["--request-rate", f.requestRate], ["--burstiness", f.burstiness], ["--input-len", f.inputLen], ["--output-len", f.outputLen],
        ["--length-dist", f.lengthDist], ["--range-ratio", f.rangeRatio], ["--length-sigma", f.lengthSigma]
      ] as const).filter(([, v]) => v !== undefined).map(([k]) => k)
      if (generatorOnly.length > 0) return yield* bad(generatorOnly[0]!, "applies to generated workloads, not to --trace (use --rate-scale to change a trace's rate)")
      const rateScale = f.rateScale ?? 1
      if (!(Number.isFinite(rateScale) && rateScale > 0)) return yield* bad("--rate-scale", `expected a number > 0 (got ${rateScale})`)
      const t = yield* openTrace(f.trace, { format: f.traceFormat, numRequests: f.numRequests, rateScale })
      return {
        description: `${f.trace} (${t.format}${f.numRequests === undefined ? "" : `, first ${f.numRequests}`}${rateScale === 1 ? "" : `, rate x${rateScale}`})`,
        spec: { trace: f.trace, format: t.format, num_requests: f.numRequests ?? null, rate_scale: rateScale },
        arrivals: t.arrivals
      }
    }
    if (f.traceFormat !== undefined) return yield* bad("--trace-format", "needs --trace")
    if (f.rateScale !== undefined) return yield* bad("--rate-scale", "applies to --trace; use --request-rate for generated workloads")
    const rateText = (f.requestRate ?? String(DEFAULT_GENERATOR.requestRate)).trim().toLowerCase()
    const requestRate = rateText === "inf" || rateText === "infinity" ? Infinity : Number(rateText)
    if (!(requestRate > 0) || Number.isNaN(requestRate)) return yield* bad("--request-rate", `expected a number > 0 or inf (got ${f.requestRate})`)
    const spec: GeneratorSpec = {
      numRequests: f.numRequests ?? DEFAULT_GENERATOR.numRequests,
      requestRate,
      burstiness: f.burstiness ?? DEFAULT_GENERATOR.burstiness,
      inputLen: f.inputLen ?? DEFAULT_GENERATOR.inputLen,
      outputLen: f.outputLen ?? DEFAULT_GENERATOR.outputLen,
      lengthDist: f.lengthDist ?? DEFAULT_GENERATOR.lengthDist,
      rangeRatio: f.rangeRatio ?? DEFAULT_GENERATOR.rangeRatio,
      lengthSigma: f.lengthSigma ?? DEFAULT_GENERATOR.lengthSigma,
      seed
    }
    if (!(Number.isFinite(spec.burstiness) && spec.burstiness > 0)) return yield* bad("--burstiness", `expected a number > 0 (got ${spec.burstiness})`)
    if (!(Number.isInteger(spec.inputLen) && spec.inputLen > 0)) return yield* bad("--input-len", `expected a positive integer (got ${spec.inputLen})`)
    if (!(Number.isInteger(spec.outputLen) && spec.outputLen > 0)) return yield* bad("--output-len", `expected a positive integer (got ${spec.outputLen})`)
    if (f.rangeRatio !== undefined && spec.lengthDist !== "uniform") return yield* bad("--range-ratio", `applies to --length-dist uniform (got --length-dist ${spec.lengthDist})`)
    if (f.lengthSigma !== undefined && spec.lengthDist !== "lognormal") return yield* bad("--length-sigma", `applies to --length-dist lognormal (got --length-dist ${spec.lengthDist})`)
    if (!(spec.rangeRatio >= 0 && spec.rangeRatio < 1)) return yield* bad("--range-ratio", `expected a number in [0, 1) (got ${spec.rangeRatio})`)
    if (!(Number.isFinite(spec.lengthSigma) && spec.lengthSigma >= 0)) return yield* bad("--length-sigma", `expected a number >= 0 (got ${spec.lengthSigma})`)
    const rate = Number.isFinite(requestRate) ? `${requestRate} req/s` : "all at t=0"
    const arrivalsKind = spec.burstiness === 1 ? "Poisson" : `gamma(burstiness ${spec.burstiness})`
    return {
      description: `generated: ${spec.numRequests} requests, ${rate} ${Number.isFinite(requestRate) ? arrivalsKind : ""}, ` +
        `input ${spec.inputLen} / output ${spec.outputLen} tokens (${spec.lengthDist}), seed ${seed}`,
      spec: { generator: { ...spec, requestRate: Number.isFinite(requestRate) ? requestRate : "inf" } },
      arrivals: generatorStream(spec)
    }
  })

/**
 * `llmservingsim sweep-runner --database-url URL`: one @effect/cluster runner for
 * `sweep --cluster-database URL` (see sweep/cluster.ts). Start one per machine (or several, on
 * different ports), all on the same Postgres database; it runs until SIGINT/SIGTERM, when it gives
 * its shards back so the other runners take over its unfinished configurations.
 */
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import * as os from "node:os"
import { InvalidOption } from "../domain/errors.js"
import { setInterruptNote } from "./interrupt.js"

const DEFAULT_PORT = 34431

const runnerOptions = {
  databaseUrl: Options.text("database-url").pipe(Options.withDescription("The Postgres database shared by the runners and the sweep, postgres://user[:password]@host[:port]/db")),
  host: Options.text("host").pipe(Options.optional, Options.withDescription("The address the sweep and the other runners reach this runner at (default: this machine's hostname)")),
  port: Options.integer("port").pipe(Options.withDefault(DEFAULT_PORT), Options.withDescription(`The port this runner listens on (default ${DEFAULT_PORT})`)),
  listenHost: Options.text("listen-host").pipe(Options.withDefault("0.0.0.0"), Options.withDescription("The interface to listen on (default 0.0.0.0: all)")),
  workers: Options.integer("workers").pipe(Options.optional, Options.withDescription("Worker processes for the configurations (default: the number of CPUs; 1 = one at a time in the runner process)"))
}

/** The `sweep-runner` subcommand: validates its flags, then runs the runner until a signal stops it. */
export const sweepRunnerCommand = Command.make("sweep-runner", runnerOptions, (o) =>
  Effect.gen(function*() {
    // loaded only here: the cluster and Postgres stack is not needed by the other commands
    const cluster = yield* Effect.promise(() => import("../sweep/cluster.js"))
    const bad = cluster.checkDatabaseUrl("--database-url", o.databaseUrl)
    if (bad !== undefined) return yield* bad
    if (!(Number.isInteger(o.port) && o.port >= 1 && o.port <= 65535)) return yield* new InvalidOption({ option: "--port", reason: `expected a port 1-65535 (got ${o.port})` })
    const workers = o.workers._tag === "Some" ? o.workers.value : os.availableParallelism()
    if (!(Number.isInteger(workers) && workers >= 1)) return yield* new InvalidOption({ option: "--workers", reason: `expected a positive integer (got ${workers})` })
    yield* setInterruptNote("the runner stopped; its unfinished configurations stay in the database for the other runners")
    return yield* cluster.runSweepRunner({
      databaseUrl: o.databaseUrl,
      host: o.host._tag === "Some" ? o.host.value : os.hostname(),
      port: o.port,
      listenHost: o.listenHost,
      workers
    })
  })).pipe(Command.withDescription("Run sweep configurations as an @effect/cluster runner on a shared Postgres (sweep --cluster-database)"))

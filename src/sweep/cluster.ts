/**
 * Sweeps across machines on @effect/cluster with Postgres as the shared storage. Every
 * configuration is one `SweepJob` entity (id `<sweep uuid>/<index>`) whose one message, `Run`,
 * carries the job and replies with its row; the message is persisted, so it waits in Postgres until
 * a runner holding its shard runs it, and a runner that dies mid-run leaves it to the next holder.
 *
 * - Runners (`llmservingsim sweep-runner --database-url URL`): each registers in the database,
 *   takes its share of the shards (advisory locks) and serves the entity over a socket; a job runs
 *   through the same `runJob` as a local sweep, in the runner process or on its worker processes.
 * - The client (`sweep --cluster-database URL`): client-only Sharding over the same database; it
 *   sends every job at once and collects the rows in grid order.
 *
 * The layers are composed here rather than taken from NodeClusterSocket.layer, which reads its
 * ShardingConfig from the environment (HOST, PORT, ...) and would pick up unrelated variables.
 * Storage tables (`cluster_*`) are created on first use, under an advisory lock so that runners
 * started together do not race on CREATE TABLE.
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as ShardId from "@effect/cluster/ShardId"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { layerClientProtocol, layerSocketServer } from "@effect/platform-node/NodeClusterSocket"
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Cause, Console, Deferred, Effect, Exit, Layer, Option, Queue, Redacted, Schedule, Schema, Scope } from "effect"
import { InvalidOption } from "../domain/errors.js"
import type { SweepJob } from "./grid.js"
import { errorRow, runJob, type SweepRow } from "./job.js"
import { makeWorkerPool } from "./pool.js"
import { fromWire, toWire } from "./wire.js"

const PG_QUEUE_WARNING = "Calling client.query() when the client is already executing a query"
let warningFiltered = false

/**
 * Drop node-postgres's one deprecation warning about queued queries: SqlRunnerStorage overlaps
 * queries on its shard-lock connection, which pg 8 still queues correctly, and the warning would
 * alarm whoever reads a runner's stderr. Every other warning still prints.
 */
const quietPgQueueWarning = Effect.sync(() => {
  if (warningFiltered) return
  warningFiltered = true
  const emit = process.emitWarning.bind(process)
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if ((typeof warning === "string" ? warning : warning.message).startsWith(PG_QUEUE_WARNING)) return
    return (emit as (w: string | Error, ...r: Array<unknown>) => void)(warning, ...rest)
  }) as typeof process.emitWarning
})

/** The one message of a sweep configuration: the job (wire text) in, its row and the runner that ran it out. */
export const RunConfiguration = Rpc.make("Run", {
  payload: { job: Schema.String },
  success: Schema.Struct({ row: Schema.String, runner: Schema.String })
})

/** A sweep configuration as a cluster entity; its messages are persisted in the shared storage. */
export const SweepJobEntity = Entity.make("SweepJob", [RunConfiguration]).annotateRpcs(ClusterSchema.Persisted, true)

/** `url` with its password masked, for messages. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    return u.toString()
  } catch {
    return url
  }
}

/** Check a `--cluster-database`/`--database-url` value: a postgres:// or postgresql:// URL. */
export const checkDatabaseUrl = (option: string, url: string): InvalidOption | undefined => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return new InvalidOption({ option, reason: `expected a Postgres URL like postgres://user@host:5432/db (got '${url}')` })
  }
  return u.protocol === "postgres:" || u.protocol === "postgresql:"
    ? undefined
    : new InvalidOption({ option, reason: `expected a postgres:// URL (got '${redactUrl(url)}')` })
}

const pgLayer = (url: string, option: string) =>
  PgClient.layer({ url: Redacted.make(url), applicationName: "llmservingsim" }).pipe(
    Layer.mapError((e) => new InvalidOption({ option, reason: `cannot connect to ${redactUrl(url)}: ${e.message}${e.cause instanceof Error ? ` (${e.cause.message})` : ""}` }))
  )

// pg_advisory_lock(int4, int4): a key space apart from the single-bigint shard locks of SqlRunnerStorage
const SETUP_LOCK = "7405531, 1"

/**
 * Message and runner storage in Postgres; the first process to get here creates the tables while
 * the others wait on an advisory lock (concurrent CREATE TABLE IF NOT EXISTS can fail in Postgres).
 */
const storageLayer: Layer.Layer<MessageStorage.MessageStorage | RunnerStorage.RunnerStorage, never, SqlClient.SqlClient | ShardingConfig.ShardingConfig> =
  Layer.scopedContext(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const lockScope = yield* Scope.make()
    const setup = Effect.gen(function*() {
      const conn = yield* sql.reserve.pipe(Scope.extend(lockScope))
      yield* conn.executeRaw(`SELECT pg_advisory_lock(${SETUP_LOCK})`, [])
      return yield* Layer.build(Layer.merge(SqlMessageStorage.layer, SqlRunnerStorage.layer)).pipe(
        Effect.ensuring(conn.executeRaw(`SELECT pg_advisory_unlock(${SETUP_LOCK})`, []).pipe(Effect.ignore))
      )
    })
    return yield* setup.pipe(Effect.ensuring(Scope.close(lockScope, Exit.void)), Effect.orDie)
  }))

/** The sharding settings every process of a sweep cluster uses (runners and clients alike). */
const shardingConfig = (self: Option.Option<{ readonly host: string; readonly port: number; readonly listenHost: string }>) =>
  ShardingConfig.layer({
    runnerAddress: Option.map(self, (s) => RunnerAddress.make(s.host, s.port)),
    runnerListenAddress: Option.map(self, (s) => RunnerAddress.make(s.listenHost, s.port)),
    // messages are pushed to their runner; this poll only picks up ones sent while no runner held the shard
    entityMessagePollInterval: "1 second",
    // one message per entity: free it soon after its reply
    entityMaxIdleTime: "10 seconds"
  })

/** Options of one runner process. */
export interface RunnerOptions {
  readonly databaseUrl: string
  /** The address other runners and clients reach this runner at. */
  readonly host: string
  readonly port: number
  /** The interface to listen on. */
  readonly listenHost: string
  /** Worker processes for the jobs (1: run them in the runner process, one at a time). */
  readonly workers: number
}

/** A runner's Sharding (with the socket server) over Postgres storage. */
const runnerLayer = (o: RunnerOptions) =>
  SocketRunner.layer.pipe(
    Layer.provide([layerSocketServer, layerClientProtocol]),
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(layerClientProtocol))),
    Layer.provideMerge(storageLayer),
    Layer.provide(shardingConfig(Option.some(o))),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provide(pgLayer(o.databaseUrl, "--database-url"))
  )

/** A client-only Sharding (sends messages, hosts no entities) over Postgres storage, with the SqlClient. */
const clientLayer = (databaseUrl: string) =>
  SocketRunner.layerClientOnly.pipe(
    Layer.provide(layerClientProtocol),
    Layer.provideMerge(storageLayer),
    Layer.provide(shardingConfig(Option.none())),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provideMerge(pgLayer(databaseUrl, "--cluster-database"))
  )

/** The runner's side of SweepJob: run the job with `run`, reply with the row and this runner's address. */
const sweepJobHandlers = (run: (job: SweepJob) => Effect.Effect<SweepRow>) =>
  SweepJobEntity.toLayer(Effect.gen(function*() {
    const self = yield* Entity.CurrentRunnerAddress
    const runner = `${self.host}:${self.port}`
    return SweepJobEntity.of({
      Run: (request) => {
        const job = fromWire(request.payload.job) as SweepJob
        // a defect would restart the entity and retry the message forever: it becomes the row's error
        return run(job).pipe(
          Effect.catchAllDefect((d) => Effect.succeed(errorRow(job, `runner ${runner}: ${Cause.pretty(Cause.die(d)).split("\n")[0]}`))),
          Effect.map((row) => ({ row: toWire(row), runner }))
        )
      }
    })
  }), { maxIdleTime: "10 seconds" })

/**
 * A FIFO of jobs that `consumers` fibers take one at a time and run with `runOne`; `run(job)` waits
 * for its row. O(1) per job however many wait, where an Effect Semaphore (or the worker pool's own
 * queue) would wake every waiter on each release. A job whose request is interrupted is skipped if
 * it has not started, and interrupted if it has.
 */
const makeJobQueue = (consumers: number, runOne: (job: SweepJob) => Effect.Effect<SweepRow>) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<readonly [SweepJob, Deferred.Deferred<SweepRow>]>()
    const consume = Effect.gen(function*() {
      const [job, done] = yield* Queue.take(queue)
      if (yield* Deferred.isDone(done)) return
      yield* Effect.raceFirst(Effect.flatMap(runOne(job), (row) => Deferred.succeed(done, row)), Deferred.await(done)).pipe(Effect.exit)
    })
    for (let i = 0; i < Math.max(1, consumers); i++) yield* Effect.forkScoped(Effect.forever(consume))
    return (job: SweepJob): Effect.Effect<SweepRow> =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<SweepRow>()
        yield* Queue.offer(queue, [job, done])
        return yield* Deferred.await(done).pipe(Effect.onInterrupt(() => Deferred.interrupt(done)))
      })
  })

/** Print the runner's shard count whenever it changes (how a user, or a test, sees the cluster settle). */
const reportShards = (label: string) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const total = ShardingConfig.defaults.shardsPerGroup
    let last = -1
    const check = Effect.gen(function*() {
      let held = 0
      for (let i = 1; i <= total; i++) if (sharding.hasShardId(ShardId.make("default", i))) held++
      if (held !== last) {
        last = held
        yield* Console.warn(`sweep-runner ${label}: holds ${held} of ${total} shards`)
      }
    })
    yield* Effect.forkScoped(Effect.repeat(check, Schedule.spaced("500 millis")))
  }))

/**
 * Run a sweep runner until interrupted: register in the database at `databaseUrl`, take a share of
 * the shards, run the SweepJob messages sent to them. Prints `sweep-runner HOST:PORT: ready` once
 * serving, then its shard count whenever it changes. Fails with InvalidOption when the database
 * cannot be reached or the port cannot be opened.
 */
export const runSweepRunner = (o: RunnerOptions): Effect.Effect<never, InvalidOption> =>
  Effect.gen(function*() {
    yield* quietPgQueueWarning
    const label = `${o.host}:${o.port}`
    const runOne: (job: SweepJob) => Effect.Effect<SweepRow> = o.workers <= 1
      ? runJob
      : yield* makeWorkerPool(o.workers).pipe(
        Effect.orDie,
        Effect.map((pool) => (job: SweepJob) => pool.run(job).pipe(Effect.catchAll((e) => Effect.succeed(errorRow(job, `runner ${label}: worker failed: ${e.message}`)))))
      )
    const run = yield* makeJobQueue(o.workers, runOne)
    const ready = Layer.effectDiscard(Console.warn(
      `sweep-runner ${label}: ready (listening on ${o.listenHost}:${o.port}, storage ${redactUrl(o.databaseUrl)}, ${o.workers <= 1 ? "jobs run in this process" : `${o.workers} worker processes`})`
    ))
    return yield* Layer.launch(Layer.mergeAll(sweepJobHandlers(run), reportShards(label), ready).pipe(Layer.provide(runnerLayer(o))))
  }).pipe(
    Effect.scoped,
    Effect.catchTag("SocketServerError", (e) => new InvalidOption({ option: "--port", reason: `cannot listen on ${o.listenHost}:${o.port}: ${e.cause instanceof Error ? e.cause.message : e.reason}` }))
  )

/** What a cluster sweep gives: the rows in configuration order and how many each runner ran. */
export interface ClusterSweepResult {
  readonly rows: ReadonlyArray<SweepRow>
  /** Runner address -> configurations it ran. */
  readonly runners: ReadonlyMap<string, number>
}

/**
 * Run `jobs` on the runners registered in the database at `databaseUrl` and give their rows in
 * configuration order, calling `onDone` as each arrives. Waits (saying so on stderr) until at least
 * one runner is registered. A job whose message cannot be stored or delivered after a few tries gets
 * a row with the error. When interrupted, the runners are told to stop the unfinished jobs. The
 * sweep's messages are deleted from the database at the end. Fails with InvalidOption when the
 * database cannot be reached.
 */
export const runClusterSweep = (
  jobs: ReadonlyArray<SweepJob>,
  databaseUrl: string,
  onDone: (row: SweepRow) => void = () => {}
): Effect.Effect<ClusterSweepResult, InvalidOption> =>
  Effect.gen(function*() {
    const runnerStorage = yield* RunnerStorage.RunnerStorage
    let told = false
    const waitForRunner: Effect.Effect<void> = Effect.gen(function*() {
      const runners = yield* runnerStorage.getRunners.pipe(Effect.orElseSucceed(() => []))
      if (runners.some(([, healthy]) => healthy)) return
      if (!told) {
        told = true
        yield* Console.warn(`sweep: no runner is registered in ${redactUrl(databaseUrl)} yet; waiting for one (llmservingsim sweep-runner --database-url URL)`)
      }
      yield* Effect.sleep("1 second")
      return yield* waitForRunner
    })
    yield* waitForRunner
    const client = yield* SweepJobEntity.client
    const sweepId = crypto.randomUUID()
    const counts = new Map<string, number>()
    const rows = yield* Effect.forEach(jobs, (job) =>
      client(`${sweepId}/${job.index}`).Run({ job: toWire(job) }).pipe(
        Effect.retry({ times: 4, schedule: Schedule.exponential("250 millis") }),
        Effect.map(({ row, runner }) => {
          counts.set(runner, (counts.get(runner) ?? 0) + 1)
          return fromWire(row) as SweepRow
        }),
        Effect.catchAll((e) => Effect.succeed(errorRow(job, `cluster: ${e.message}`))),
        Effect.tap((row) => Effect.sync(() => onDone(row)))
      ), { concurrency: "unbounded" })
    // the sweep's messages and replies have served their purpose
    const sql = yield* SqlClient.SqlClient
    const pattern = `${sweepId}/%`
    yield* sql`DELETE FROM cluster_replies WHERE request_id IN (SELECT id FROM cluster_messages WHERE entity_type = 'SweepJob' AND entity_id LIKE ${pattern})`.pipe(
      Effect.zipRight(sql`DELETE FROM cluster_messages WHERE entity_type = 'SweepJob' AND entity_id LIKE ${pattern}`),
      Effect.ignore
    )
    return { rows, runners: counts }
  }).pipe(Effect.provide(clientLayer(databaseUrl)), (self) => Effect.zipRight(quietPgQueueWarning, self))

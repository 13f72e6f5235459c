/**
 * An ingest worker: consumes QUEUE_EXECUTIONS, QUEUE_METRICS and QUEUE_RUNS (under the configured
 * key prefix) into the executions, windows and runs tables, acknowledging each job only once its row is stored.
 * Any number of ingest workers, in one process or many, can consume the same queues: BullMQ hands
 * each job to one of them, and a re-delivered job is stored idempotently.
 *
 * `startIngest` does not wait for Redis: the workers connect (and reconnect) in the background, so
 * an embedded process never blocks on Redis being away. `close()` is the graceful shutdown: stop
 * taking jobs, store everything in flight, acknowledge it, disconnect. If in-flight rows cannot be
 * stored within the shutdown timeout (ClickHouse away), they are abandoned unacknowledged and
 * BullMQ re-delivers their jobs later: nothing is lost, nothing is marked failed.
 */
import { Queue } from 'bullmq';
import { createRedis } from '../common/redis-client.js';
import { QUEUE_EXECUTIONS, QUEUE_METRICS, QUEUE_RUNS } from '../common/contracts.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { ClickHouseClient } from '../clickhouse/client.js';
import {
  toExecutionRow,
  toRunRow,
  toWindowRow,
  type ExecutionRow,
  type RunRow,
  type WindowRow,
} from '../clickhouse/rows.js';
import { ClickHouseStore, type RowSink } from '../clickhouse/store.js';
import { QueueConsumer, type ConsumerStats } from './consumer.js';
import { DeadLetterQueue } from './dead-letter.js';
import { describeInsertFailure } from './insert-health.js';
import type { IngestOptions } from './options.js';

export type IngestState = 'starting' | 'running' | 'draining' | 'closed';

export interface StartIngestOptions {
  clickhouse: ClickHouseClient;
  /** Database of the product tables (default `spike`); migrations must have been applied. */
  database?: string;
  options: IngestOptions;
  logger?: Logger;
  /** Replaces the inserts, e.g. to inject faults in tests. Default: a ClickHouseStore. */
  sink?: RowSink;
}

/**
 * Degraded: the ingest runs, but some records cannot be stored now (ClickHouse away, or refusing
 * every record after a schema change); they are held and retried, and stored once the cause is gone.
 */
export interface IngestHealth {
  status: 'ok' | 'degraded';
  /** One line per queue whose inserts fail: how, since when, how many records wait, and why. */
  reasons: string[];
}

export interface IngestStats {
  state: IngestState;
  health: IngestHealth;
  executions: ConsumerStats;
  metrics: ConsumerStats;
  freshness: IngestFreshness;
}

/** How fresh the stored executions are, as this process stored them. */
export interface IngestFreshness {
  /** Execution time (epoch ms) of the newest execution stored; null before the first. */
  newestExecutedAt: number | null;
  /** For the last batch stored: its newest execution's execution time to stored, in ms. */
  lastBatchLagMs: number | null;
}

export interface CloseResult {
  /** False when the timeout hit: the rows not stored by then were left to be re-delivered. */
  drained: boolean;
  /** Records left unstored (their jobs stay unacknowledged). */
  abandoned: number;
}

export interface IngestHandle {
  readonly state: IngestState;
  stats(): IngestStats;
  health(): IngestHealth;
  /** Resolves once both workers are connected to Redis. */
  ready(): Promise<void>;
  /**
   * Waits until both queues hold no job waiting, delayed or in flight — everything handed to Redis
   * so far is stored — or `timeoutMs` passed. Returns the jobs still queued (0: empty). The embedded
   * system calls it on stop, after capture drained its outbox, so the last ticks are not left in Redis.
   */
  waitUntilEmpty(timeoutMs: number): Promise<number>;
  /** Graceful shutdown (idempotent). `timeoutMs` defaults to the `shutdownTimeoutMs` option. */
  close(options?: { timeoutMs?: number }): Promise<CloseResult>;
}

/** Metrics are one window per second: a small, fixed number of jobs in flight is plenty. */
const METRICS_CONCURRENCY = 1000;

export function startIngest(params: StartIngestOptions): IngestHandle {
  const { options } = params;
  const log = (params.logger ?? silentLogger).child({ component: 'ingest' });
  const sink = params.sink ?? new ClickHouseStore(params.clickhouse, { database: params.database ?? 'spike' });
  // One connection for the workers' commands and the dead-letter queue (BullMQ duplicates it for
  // each worker's blocking fetch). maxRetriesPerRequest null: BullMQ's workers require it, and a
  // command waits for the reconnection instead of failing while Redis restarts.
  const connection = createRedis(options.redis.url, { maxRetriesPerRequest: null, connectionName: 'spike-ingest' });
  connection.on('error', () => undefined); // reported by the workers' 'error' events, rate-limited
  const deadLetters = new DeadLetterQueue(connection, options.redis.prefix);
  const deps = { connection, options, deadLetters, logger: log };

  const freshness: IngestFreshness = { newestExecutedAt: null, lastBatchLagMs: null };
  const executions = new QueueConsumer<ExecutionRow>(
    {
      queue: QUEUE_EXECUTIONS,
      toRow: toExecutionRow,
      insert: async (rows) => {
        await sink.insertExecutionRows(rows);
        let newest = Number.NEGATIVE_INFINITY;
        for (const row of rows) if (row.executed_at > newest) newest = row.executed_at;
        if (rows.length === 0) return;
        freshness.lastBatchLagMs = Math.max(0, Date.now() - newest);
        freshness.newestExecutedAt = Math.max(freshness.newestExecutedAt ?? newest, newest);
      },
      concurrency: options.worker.concurrency,
    },
    deps,
  );
  const metrics = new QueueConsumer<WindowRow>(
    {
      queue: QUEUE_METRICS,
      toRow: toWindowRow,
      insert: (rows) => sink.insertWindowRows(rows),
      concurrency: Math.min(options.worker.concurrency, METRICS_CONCURRENCY),
    },
    deps,
  );
  // Two records per run: a tiny consumer. A test sink without run inserts gets a plain store's.
  const runSink = sink.insertRunRows
    ? sink
    : new ClickHouseStore(params.clickhouse, { database: params.database ?? 'spike' });
  const runs = new QueueConsumer<RunRow>(
    { queue: QUEUE_RUNS, toRow: toRunRow, insert: (rows) => runSink.insertRunRows!(rows), concurrency: 4 },
    deps,
  );
  const consumers = [executions, metrics, runs];

  let state: IngestState = 'starting';
  const ready = Promise.all(consumers.map((c) => c.worker.waitUntilReady())).then(() => undefined);
  void ready.then(
    () => {
      if (state !== 'starting') return;
      state = 'running';
      log.info(
        { prefix: options.redis.prefix, batch: options.batch, concurrency: options.worker.concurrency },
        'ingest running',
      );
    },
    (err: unknown) => log.warn({ err: String(err) }, 'ingest workers did not start'),
  );

  const health = (): IngestHealth => {
    const reasons = consumers.flatMap((c) => {
      const s = c.stats();
      return s.failure ? [describeInsertFailure(c.queue, s.failure, s.pending)] : [];
    });
    return { status: reasons.length > 0 ? 'degraded' : 'ok', reasons };
  };
  const stats = (): IngestStats => ({
    state,
    health: health(),
    executions: executions.stats(),
    metrics: metrics.stats(),
    freshness: { ...freshness },
  });
  const statsTimer = options.statsIntervalMs > 0 ? startStatsLog(stats, options.statsIntervalMs, log) : undefined;

  const waitUntilEmpty = async (timeoutMs: number): Promise<number> => {
    const queues = consumers.map((c) => new Queue(c.queue, { connection, prefix: options.redis.prefix }));
    const deadline = Date.now() + timeoutMs;
    let left = Number.POSITIVE_INFINITY;
    try {
      for (;;) {
        // With Redis away the commands wait for it (maxRetriesPerRequest null): bound each round.
        const counts = await Promise.race([
          Promise.all(
            queues.map((q) => q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children')),
          ),
          new Promise<null>((r) => setTimeout(() => r(null), Math.max(100, deadline - Date.now())).unref()),
        ]);
        if (counts === null) break;
        left = counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
        if (left === 0 || Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (err) {
      log.warn({ err: String(err) }, 'could not read the queues; not waiting for them to empty');
    } finally {
      await Promise.all(queues.map((q) => bounded(q.close(), 1000, log, 'queue close')));
    }
    if (left > 0)
      log.warn({ left, timeoutMs }, 'queues not empty at shutdown; their jobs are stored after the next start');
    return left;
  };

  let closing: Promise<CloseResult> | undefined;
  const close = async (timeoutMs: number): Promise<CloseResult> => {
    state = 'draining';
    log.info({ timeoutMs }, 'ingest draining');
    const deadline = Date.now() + timeoutMs;
    // Every step is bounded: with Redis away, BullMQ's pause/close wait for a connection forever.
    await bounded(Promise.all(consumers.map((c) => c.pause())), timeoutMs, log, 'pause');
    const drained = await Promise.all(consumers.map((c) => c.drain(Math.max(0, deadline - Date.now()))));
    const abandoned = consumers.reduce((sum, c, i) => sum + (drained[i] ? 0 : c.stats().pending), 0);
    // Acknowledging the drained jobs needs Redis; give it the rest of the timeout (at least 1 s).
    const closed = Promise.all(consumers.map((c, i) => c.close(!drained[i])));
    if (!(await bounded(closed, Math.max(1000, deadline - Date.now()), log, 'worker close'))) {
      for (const c of consumers) c.abandon(); // stop waiting on Redis; unacknowledged jobs get re-delivered
    }
    clearInterval(statsTimer);
    await bounded(deadLetters.close(), 1000, log, 'dead-letter queue close');
    if (connection.status === 'ready') await bounded(connection.quit(), 1000, log, 'redis quit');
    connection.disconnect();
    state = 'closed';
    const result = { drained: drained.every(Boolean), abandoned };
    log.info({ ...result, executions: executions.stats().stored, windows: metrics.stats().stored }, 'ingest closed');
    return result;
  };

  return {
    get state() {
      return state;
    },
    stats,
    health,
    ready: () => ready,
    waitUntilEmpty,
    close: (o = {}) => (closing ??= close(o.timeoutMs ?? options.shutdownTimeoutMs)),
  };
}

/** Waits for `promise` at most `ms`; true when it settled in time (a rejection is logged, not thrown). */
async function bounded(promise: Promise<unknown>, ms: number, log: Logger, what: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(
    () => true,
    (err: unknown) => {
      log.warn({ err: String(err), step: what }, 'shutdown step failed');
      return true;
    },
  );
  try {
    const done = await Promise.race([settled, timeout]);
    if (!done) log.warn({ step: what, ms }, 'shutdown step timed out');
    return done;
  } finally {
    clearTimeout(timer);
  }
}

/** Logs the counters and rates every `intervalMs`. */
function startStatsLog(stats: () => IngestStats, intervalMs: number, log: Logger): NodeJS.Timeout {
  let last = stats();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const now = stats();
    const at = performance.now();
    const perSecond = (a: number, b: number) => Math.round(((a - b) * 1000) / (at - lastAt));
    log.info(
      {
        state: now.state,
        executionsPerSecond: perSecond(now.executions.stored, last.executions.stored),
        executions: summary(now.executions),
        windows: summary(now.metrics),
      },
      'ingest stats',
    );
    last = now;
    lastAt = at;
  }, intervalMs);
  timer.unref();
  return timer;
}

function summary(s: ConsumerStats) {
  const { stored, deadLettered, pending, held, batches, retries, failing } = s;
  return { stored, deadLettered, pending, held, batches, retries, failing };
}

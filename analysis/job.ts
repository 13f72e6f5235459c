/**
 * The periodic analysis job. A BullMQ job scheduler (`Queue.upsertJobScheduler`, id `estimates`,
 * every `intervalMs`) adds one job per interval to the `analysis` queue under the Redis prefix; every
 * instance upserts the same scheduler (idempotent: one schedule, however many instances) and runs a
 * worker on the queue. Each job runs one estimation (run.ts), then announces the committed version
 * on `<prefix>:estimates` and calls `afterRun` (reports).
 *
 * One run at a time across instances, by three layers, because each alone has a gap:
 *  - worker concurrency 1 and the queue's global concurrency 1 (BullMQ: at most one active job of
 *    the queue across all workers) keep scheduled jobs from overlapping;
 *  - but BullMQ hands a job whose lock expired (its worker stalled, e.g. a long GC pause or a
 *    blocked event loop) to another worker while the first may still be running, and `runNow()` does
 *    not go through the queue; so every run also takes a Redis lock (lock.ts), and a run that finds
 *    it taken is skipped;
 *  - and before committing, the run checks it still holds that lock (fencing).
 * In one process, runs are also serialized locally (a promise chain).
 *
 * A failed run (any step) is logged and counted; nothing it wrote becomes current, so the previous
 * version stays in force, and the next interval tries again.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { createRedis } from '../common/redis-client.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { ClickHouseClient } from '../clickhouse/client.js';
import { publishEstimates } from '../common/estimates-channel.js';
import { AnalysisClosedError, AnalysisRunError } from './errors.js';
import { ClickHouseEstimatesSink, type EstimatesSink } from './estimates-writer.js';
import { RedisLock } from './lock.js';
import type { AnalysisOptions } from './options.js';
import { runEstimation } from './run.js';
import type { SolveCostsFn } from './estimator/estimate.js';

export const QUEUE_ANALYSIS = 'analysis';
export const JOB_SCHEDULER_ID = 'estimates';

export interface StartAnalysisParams {
  clickhouse: ClickHouseClient;
  /** Database of the product tables; migrations must have been applied. */
  database: string;
  options: AnalysisOptions;
  logger?: Logger;
  /** Called after each committed version (e.g. to generate reports); its failure is only logged. */
  afterRun?: (version: number) => Promise<void>;
  /** Replaces the estimate inserts, e.g. to inject faults in tests. Default: ClickHouse. */
  sink?: EstimatesSink;
  /** Where the solve runs, e.g. a worker thread (embedded mode); default in process, time-sliced. */
  solve?: SolveCostsFn;
}

export type RunResult =
  | { status: 'committed'; version: number; queries: number; durationMs: number }
  | { status: 'empty'; durationMs: number }
  | { status: 'skipped'; reason: 'locked' };

export interface AnalysisStats {
  state: 'running' | 'closing' | 'closed';
  runs: number;
  committed: number;
  empty: number;
  skipped: number;
  failed: number;
  lastVersion: number | null;
  lastDurationMs: number | null;
  lastError: string | null;
}

export interface AnalysisHandle {
  /** Runs one estimation now (outside the schedule, same lock). Rejects with the run's error. */
  runNow(): Promise<RunResult>;
  /** Resolves once the queue, scheduler and worker are set up in Redis. */
  ready(): Promise<void>;
  stats(): AnalysisStats;
  /** Stops the worker (waiting for a run in progress, up to the shutdown timeout) and disconnects. */
  close(): Promise<void>;
}

export function startAnalysis(params: StartAnalysisParams): AnalysisHandle {
  const { options, database } = params;
  const log = (params.logger ?? silentLogger).child({ component: 'analysis' });
  const prefix = options.redis.prefix;
  const sink = params.sink ?? new ClickHouseEstimatesSink(params.clickhouse, database);
  // BullMQ needs maxRetriesPerRequest null on its connections (it waits for reconnection).
  const connection = createRedis(options.redis.url, { maxRetriesPerRequest: null, connectionName: 'spike-analysis' });
  connection.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
  // Lock and publish fail fast instead, so a run does not hang while Redis is away.
  const commands = createRedis(options.redis.url, { maxRetriesPerRequest: 2, connectionName: 'spike-analysis-lock' });
  commands.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
  const lock = new RedisLock(commands, `${prefix}:analysis-run-lock`, options.lockTtlMs, log);

  const stats: AnalysisStats = {
    state: 'running',
    runs: 0,
    committed: 0,
    empty: 0,
    skipped: 0,
    failed: 0,
    lastVersion: null,
    lastDurationMs: null,
    lastError: null,
  };

  const runOnce = async (trigger: string): Promise<RunResult> => {
    if (stats.state !== 'running') throw new AnalysisClosedError();
    let held;
    try {
      held = await lock.acquire();
    } catch (err) {
      stats.failed++;
      stats.lastError = `could not take the analysis lock: ${err instanceof Error ? err.message : String(err)}`;
      log.error({ trigger, err: stats.lastError }, 'analysis run failed; the previous estimates stay in force');
      throw new AnalysisRunError('taking the lock', stats.lastError, { cause: err });
    }
    if (!held) {
      stats.skipped++;
      log.info({ trigger }, 'analysis run skipped: another instance is running');
      return { status: 'skipped', reason: 'locked' };
    }
    stats.runs++;
    try {
      const outcome = await runEstimation({
        client: params.clickhouse,
        database,
        estimator: options.estimator,
        sink,
        logger: log,
        beforeCommit: () => held.assertHeld(),
        ...(params.solve ? { solve: params.solve } : {}),
      });
      stats.lastDurationMs = Math.round(outcome.durationMs);
      if (outcome.status === 'empty') {
        stats.empty++;
        log.info({ trigger }, 'analysis run: nothing to estimate yet');
        return { status: 'empty', durationMs: outcome.durationMs };
      }
      stats.committed++;
      stats.lastVersion = outcome.version;
      stats.lastError = null;
      const s = outcome.result.solution;
      log.info(
        {
          trigger,
          version: outcome.version,
          queries: outcome.queries,
          windows: s.windows,
          inconsistentWindows: s.inconsistentWindows,
          noiseSd: s.noise.sd,
          blocks: outcome.result.blocks,
          durationMs: Math.round(outcome.durationMs),
          collectMs: Math.round(outcome.result.timings.collectMs),
          solveMs: Math.round(outcome.result.timings.solveMs),
          solveCpuMs: Math.round(outcome.result.timings.solveCpuMs),
          steps: Object.fromEntries(Object.entries(outcome.result.timings.steps).map(([k, v]) => [k, Math.round(v)])),
        },
        'estimates committed',
      );
      await announce(outcome.version, outcome.computedAt, outcome.queries);
      if (params.afterRun) {
        try {
          await params.afterRun(outcome.version);
        } catch (err) {
          log.warn({ err: String(err), version: outcome.version }, 'afterRun failed');
        }
      }
      return {
        status: 'committed',
        version: outcome.version,
        queries: outcome.queries,
        durationMs: outcome.durationMs,
      };
    } catch (err) {
      stats.failed++;
      stats.lastError = err instanceof Error ? err.message : String(err);
      log.error(
        { trigger, code: (err as { code?: unknown }).code, err: stats.lastError },
        'analysis run failed; the previous estimates stay in force',
      );
      throw err;
    } finally {
      await held
        .release()
        .catch((err: unknown) => log.warn({ err: String(err) }, 'could not release the analysis lock'));
    }
  };

  const announce = async (version: number, computedAt: number, queries: number) => {
    try {
      await publishEstimates(commands, prefix, { version, computedAt, queries });
    } catch (err) {
      // The version is committed; subscribers reload on reconnection or at the next announcement.
      log.warn({ err: String(err), version }, 'could not announce the new estimates version');
    }
  };

  // Local serialization: one run at a time in this process, in call order.
  let chain: Promise<unknown> = Promise.resolve();
  const serialized = (trigger: string): Promise<RunResult> => {
    const next = chain.then(() => runOnce(trigger));
    chain = next.catch(() => undefined);
    return next;
  };

  const queue = new Queue(QUEUE_ANALYSIS, { connection, prefix });
  queue.on('error', (err: Error) => log.debug({ err: err.message }, 'analysis queue error'));
  const worker = new Worker(QUEUE_ANALYSIS, async (job: Job) => serialized(`scheduled:${job.id ?? '?'}`), {
    connection,
    prefix,
    concurrency: 1,
    lockDuration: options.lockTtlMs,
    // A run that failed is not retried: the next interval runs anyway.
    maxStalledCount: 1,
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 100 },
  });
  worker.on('error', (err: Error) => log.debug({ err: err.message }, 'analysis worker error'));
  worker.on('failed', (job, err) => log.debug({ job: job?.id, err: err.message }, 'analysis job failed'));

  const setup = (async () => {
    await queue.setGlobalConcurrency(1);
    // BullMQ keeps a scheduler's phase offset (computed from its first interval) across upserts, so
    // after an interval change the next runs would be aligned to the old interval's phase (minutes
    // away). A scheduler with another interval is therefore removed before it is upserted.
    const existing = await queue.getJobScheduler(JOB_SCHEDULER_ID);
    if (existing && Number(existing.every) !== options.intervalMs) {
      log.info({ from: existing.every, to: options.intervalMs }, 'analysis interval changed: schedule replaced');
      await queue.removeJobScheduler(JOB_SCHEDULER_ID);
    }
    await queue.upsertJobScheduler(
      JOB_SCHEDULER_ID,
      // The start date is always set: an upsert only overwrites the fields it names, so a start date
      // left by an earlier upsert (an instance started with a delayed first run) would otherwise stay.
      { every: options.intervalMs, startDate: Date.now() + (options.runAtStart ? 0 : options.intervalMs) },
      { name: 'estimate', data: {}, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
    // The cold start's early solves: one-off runs through the same serialized worker.
    for (const delay of options.earlySolvesMs) {
      await queue.add('estimate', {}, { delay, removeOnComplete: 100, removeOnFail: 100 });
    }
    await worker.waitUntilReady();
    log.info({ prefix, intervalMs: options.intervalMs, estimator: options.estimator }, 'analysis running');
  })();
  setup.catch((err: unknown) => log.warn({ err: String(err) }, 'analysis scheduler setup failed (Redis away?)'));

  let closing: Promise<void> | undefined;
  const close = async () => {
    stats.state = 'closing';
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), options.shutdownTimeoutMs).unref(),
    );
    const done = await Promise.race([Promise.all([worker.close(), chain]).then(() => 'closed' as const), timeout]);
    if (done === 'timeout') {
      log.warn(
        { timeoutMs: options.shutdownTimeoutMs },
        'analysis run still going at shutdown: abandoned (it will not commit)',
      );
      await worker.close(true).catch(() => undefined);
    }
    await queue.close().catch(() => undefined);
    for (const r of [connection, commands]) {
      if (r.status === 'ready') await r.quit().catch(() => undefined);
      r.disconnect();
    }
    stats.state = 'closed';
    log.info({ committed: stats.committed, failed: stats.failed, skipped: stats.skipped }, 'analysis closed');
  };

  return {
    runNow: () => serialized('manual'),
    ready: () => setup,
    stats: () => ({ ...stats }),
    close: () => (closing ??= close()),
  };
}

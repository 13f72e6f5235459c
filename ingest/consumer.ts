/**
 * One queue's consumer: a BullMQ Worker whose processor validates the job's record, hands its row
 * to a Batcher and awaits that row's fate. The Worker runs many jobs at once (`concurrency`), each
 * waiting for its batch: that is how single-record jobs become large inserts, and why a job is
 * acknowledged (moved to completed) only after its row is stored.
 *
 * Redelivery: a worker renews its jobs' locks while it lives. If it dies (SIGKILL), the locks
 * expire after `lockMs` and any worker's stalled check (every `stalledIntervalMs`) puts the jobs
 * back in the queue, up to `maxStalledCount` times; they are then stored again, and ClickHouse
 * keeps one row per execution. Completed jobs are trimmed to the last `keepCompleted`: BullMQ
 * ignores a re-added job id only while its completed job is kept, but storage dedups anyway, so
 * Redis need not hold a long history (about 1 KB per job).
 */
import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../common/redis-client.js';
import type { Logger } from '../common/logger.js';
import { InvalidRecordError } from '../clickhouse/errors.js';
import { Batcher, type BatcherStats } from './batcher.js';
import { replaysOf, type DeadLetterQueue } from './dead-letter.js';
import type { IngestOptions } from './options.js';

export interface ConsumerSpec<Row> {
  queue: string;
  /** Validates a job's record and maps it to its row; throws InvalidRecordError when it cannot. */
  toRow(data: unknown): Row;
  /** Inserts a batch of rows. */
  insert(rows: Row[]): Promise<void>;
  /** Jobs in flight at once. */
  concurrency: number;
}

export interface ConsumerStats extends BatcherStats {
  /** Jobs whose records were all stored or dead-lettered (acknowledged or about to be). */
  jobs: number;
  /** Records refused before batching (invalid), included in `deadLettered`. */
  invalid: number;
}

interface Item<Row> {
  jobId: string;
  data: unknown;
  /** Times the record was replayed from the dead-letter queue (its job name says). */
  replays: number;
  /** null for a record that failed validation: it is only ever dead-lettered. */
  row: Row | null;
}

export class QueueConsumer<Row> {
  readonly worker: Worker;
  private readonly batcher: Batcher<Item<Row>>;
  private readonly log: Logger;
  private jobs = 0;
  private invalid = 0;

  constructor(
    private readonly spec: ConsumerSpec<Row>,
    deps: { connection: RedisClient; options: IngestOptions; deadLetters: DeadLetterQueue; logger: Logger },
  ) {
    const { options, deadLetters } = deps;
    this.log = deps.logger.child({ queue: spec.queue });
    this.batcher = new Batcher<Item<Row>>({
      name: spec.queue,
      maxSize: options.batch.maxSize,
      flushMs: options.batch.flushMs,
      insertConcurrency: options.batch.insertConcurrency,
      retry: options.retry,
      store: (items) => spec.insert(items.map((i) => i.row as Row)),
      reject: ({ jobId, data, replays }, reason) =>
        deadLetters.park({ queue: spec.queue, jobId, data, reason, replays }),
      logger: this.log,
    });
    this.worker = new Worker(spec.queue, this.process, {
      connection: deps.connection,
      prefix: options.redis.prefix,
      concurrency: spec.concurrency,
      lockDuration: options.worker.lockMs,
      stalledInterval: options.worker.stalledIntervalMs,
      maxStalledCount: options.worker.maxStalledCount,
      removeOnComplete: { count: options.worker.keepCompleted },
      // Failed jobs are kept: the only way here is a job that stalled more than maxStalledCount times.
      autorun: true,
    });
    this.worker.on('error', (err) => this.onWorkerError(err));
    this.worker.on('failed', (job, err) =>
      this.log.error({ jobId: job?.id, err: err.message }, 'job failed (kept in the failed set)'),
    );
  }

  /**
   * The processor. A job holds one record (the usual case: job id = record id) or an array of
   * records (a chunk of several executions in one job, which divides BullMQ's per-job cost).
   */
  private readonly process = async (job: Job): Promise<void> => {
    const jobId = job.id ?? 'unknown';
    const data: unknown = job.data;
    const replays = replaysOf(job.name);
    if (Array.isArray(data)) {
      await Promise.all(data.map((record: unknown, i) => this.accept(`${jobId}[${i}]`, record, replays)));
    } else {
      await this.accept(jobId, data, replays);
    }
    this.jobs++;
  };

  private async accept(jobId: string, data: unknown, replays: number): Promise<void> {
    let row: Row;
    try {
      row = this.spec.toRow(data);
    } catch (err) {
      if (!(err instanceof InvalidRecordError)) throw err;
      this.invalid++;
      await this.batcher.reject({ jobId, data, replays, row: null }, `invalid record: ${err.message}`);
      return;
    }
    await this.batcher.add({ jobId, data, replays, row });
  }

  private lastErrorLog = 0;
  private onWorkerError(err: Error): void {
    // Redis being away makes the worker report every failed command; one line per 5 s is enough.
    const now = Date.now();
    if (now - this.lastErrorLog < 5000) return;
    this.lastErrorLog = now;
    this.log.warn({ err: err.message }, 'worker error');
  }

  get queue(): string {
    return this.spec.queue;
  }

  stats(): ConsumerStats {
    return { ...this.batcher.stats(), jobs: this.jobs, invalid: this.invalid };
  }

  /** Stops taking jobs (jobs in flight continue). */
  async pause(): Promise<void> {
    await this.worker.pause(true);
  }

  drain(timeoutMs: number): Promise<boolean> {
    return this.batcher.drain(timeoutMs);
  }

  /** Closes the worker: waits for in-flight jobs to be acknowledged, unless `force`. */
  async close(force: boolean): Promise<void> {
    if (force) this.batcher.abandon();
    await this.worker.close(force);
  }

  /** Gives up on everything in flight (after a shutdown timeout): nothing is acknowledged any more. */
  abandon(): void {
    this.batcher.abandon();
  }
}

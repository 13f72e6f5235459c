/**
 * Turns an outbox batch into BullMQ jobs: executions into QUEUE_EXECUTIONS (job id = execution id),
 * windows into QUEUE_METRICS (job id = `window-<id>`), run records into QUEUE_RUNS, lines that are not valid records into
 * QUEUE_DEAD_LETTER with the reason. BullMQ pipelines the adds of one `addBulk`, so a batch costs a
 * few round trips whatever its size; but building the jobs of one `addBulk` is one synchronous
 * burst of CPU on the event loop the ticks share, so a batch is submitted in slices of
 * `addBulkSize` jobs with a yield between slices (all slices are in flight together). `send`
 * resolves only once Redis has answered every add of the batch; anything else rejects and the
 * whole batch is sent again.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Queue, type JobsOptions } from 'bullmq';
import {
  QUEUE_DEAD_LETTER,
  QUEUE_EXECUTIONS,
  QUEUE_METRICS,
  QUEUE_RUNS,
  executionGroupJobId,
  executionJobId,
  runJobId,
  windowJobId,
  type ExecutionJobData,
  type DeadLetterJobData,
  type RunEvent,
  type WindowEvent,
} from '../../common/contracts.js';
import type { OutboxBatch } from './outbox-batch.js';
import { formatPosition } from './position-file.js';
import type { RedisLink } from './redis-link.js';

export interface BullmqSinkOptions {
  prefix: string;
  /** Jobs per `addBulk` call: bounds how long one call holds the event loop. */
  addBulkSize: number;
  /** Completed / failed jobs BullMQ keeps per queue. */
  keepCompleted: number;
  keepFailed: number;
  /** Extra default job options (e.g. `attempts` and `backoff` for the ingest workers' retries). */
  jobOptions?: JobsOptions;
}

export interface SendResult {
  /** Execution records sent (a group counts its executions). */
  executions: number;
  windows: number;
  deadLetters: number;
}

type Bulk = { name: string; data: object; opts: JobsOptions }[];

/** Dead-letter payloads keep at most this much of a bad line. */
const MAX_DEAD_LINE = 10_000;

interface Queues {
  epoch: number;
  executions: Queue<ExecutionJobData>;
  metrics: Queue<WindowEvent>;
  runs: Queue<RunEvent>;
  deadLetter: Queue<DeadLetterJobData>;
}

export class BullmqSink {
  private queues: Queues | undefined;
  private readonly defaultJobOptions: JobsOptions;

  constructor(
    private readonly link: RedisLink,
    private readonly options: BullmqSinkOptions,
  ) {
    // Why not keep completed jobs forever: BullMQ deduplicates a re-sent job id only while the job's
    // key exists, so keeping completed jobs would make re-sends no-ops, but Redis would grow by about
    // 1 KB per execution (tens of MB per minute at the target rate). Re-sends are rare (a crash or a
    // lost reply between addBulk and the position write) and bounded by the batches in flight, and the ingest
    // side stores rows idempotently (keyed by execution / window id), so we keep only a small tail
    // of completed jobs (for inspection, and to absorb immediate re-sends) and more failed ones.
    this.defaultJobOptions = {
      removeOnComplete: options.keepCompleted === 0 ? true : { count: options.keepCompleted },
      removeOnFail: options.keepFailed === 0 ? true : { count: options.keepFailed },
      ...options.jobOptions,
    };
  }

  /**
   * BullMQ binds a queue to its connection's first readiness (it loads scripts and checks the
   * server version once, and an interrupted check leaves the queue unusable), so queues are made
   * afresh for each connection epoch. They share the link's client, which they never close.
   */
  private current(): Queues {
    const epoch = this.link.epoch;
    if (this.queues?.epoch === epoch) return this.queues;
    this.closeQueues();
    const opts = {
      connection: this.link.client,
      prefix: this.options.prefix,
      defaultJobOptions: this.defaultJobOptions,
    };
    this.queues = {
      epoch,
      executions: new Queue<ExecutionJobData>(QUEUE_EXECUTIONS, opts),
      metrics: new Queue<WindowEvent>(QUEUE_METRICS, opts),
      runs: new Queue<RunEvent>(QUEUE_RUNS, opts),
      deadLetter: new Queue<DeadLetterJobData>(QUEUE_DEAD_LETTER, opts),
    };
    // Errors surface through the rejected addBulk; the listener keeps EventEmitter from throwing.
    for (const q of [this.queues.executions, this.queues.metrics, this.queues.runs, this.queues.deadLetter])
      q.on('error', () => undefined);
    return this.queues;
  }

  async send(batch: OutboxBatch): Promise<SendResult> {
    const q = this.current();
    const executions: Bulk = [];
    const windows: Bulk = [];
    const runs: Bulk = [];
    for (const r of batch.records) {
      if (r.type === 'executed') executions.push({ name: 'execution', data: r, opts: { jobId: executionJobId(r) } });
      else if (r.type === 'executions') {
        executions.push({ name: 'executions', data: r.executions, opts: { jobId: executionGroupJobId(r) } });
      } else if (r.type === 'run') runs.push({ name: 'run', data: r, opts: { jobId: runJobId(r) } });
      else windows.push({ name: 'window', data: r, opts: { jobId: windowJobId(r) } });
    }
    const now = Date.now();
    const dead = batch.invalid.map((bad) => {
      const jobId = `outbox-${formatPosition(bad.position).replace(':', '-')}`;
      const data: DeadLetterJobData = {
        queue: 'outbox',
        jobId,
        data: bad.line.length > MAX_DEAD_LINE ? `${bad.line.slice(0, MAX_DEAD_LINE)}…` : bad.line,
        reason: bad.reason,
        failedAt: now,
      };
      return { name: 'invalid-outbox-line', data, opts: { jobId } };
    });
    // Every add gets its handler at once (a rejection must not go unhandled while we yield), and
    // all of them settle before `send` reports: a failed batch is re-sent as a whole, and the
    // re-send must not overlap with adds of the same batch still in flight.
    const sends: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    const submit = async (queue: Queue, jobs: Bulk) => {
      for (let i = 0; i < jobs.length && !failure; i += this.options.addBulkSize) {
        if (sends.length > 0) await yieldToEventLoop();
        const add = queue.addBulk(jobs.slice(i, i + this.options.addBulkSize));
        const settled = add.then(
          () => undefined,
          (error: unknown) => {
            failure ??= { error };
          },
        );
        sends.push(settled);
      }
    };
    await submit(q.executions, executions);
    await submit(q.metrics, windows);
    await submit(q.runs, runs);
    await submit(q.deadLetter, dead);
    await Promise.all(sends);
    if (failure) throw failure.error;
    const executionCount = executions.reduce((n, j) => n + (Array.isArray(j.data) ? j.data.length : 1), 0);
    return { executions: executionCount, windows: windows.length, deadLetters: dead.length };
  }

  private closeQueues(): void {
    if (!this.queues) return;
    const { executions, metrics, runs, deadLetter } = this.queues;
    this.queues = undefined;
    // Closing a queue on a shared client only detaches its listeners; it never waits on Redis.
    for (const q of [executions, metrics, runs, deadLetter]) void q.close().catch(() => undefined);
  }

  close(): void {
    this.closeQueues();
  }
}

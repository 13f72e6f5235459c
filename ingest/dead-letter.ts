/**
 * The dead-letter queue: records that can never be stored, parked with the reason so that nothing
 * disappears silently. Nobody consumes it automatically; an operator lists it and, once the cause is
 * fixed, replays records onto their queue (`npm run dead-letter`). The entries wait in BullMQ's
 * `wait` list of QUEUE_DEAD_LETTER.
 *
 * Ids: derived from the source queue and job id, so a record delivered twice is parked once. A
 * replayed record travels under its original job id (BullMQ and ClickHouse dedup hold) with the job
 * name `replay-<n>`; if it fails again it is parked under a new id (`…-r<n>`), so the replay that
 * removes the old entry can never remove the new one. Replay removes an entry only after Redis has
 * the re-queued job.
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../common/redis-client.js';
import {
  QUEUE_DEAD_LETTER,
  QUEUE_EXECUTIONS,
  QUEUE_METRICS,
  QUEUE_RUNS,
  type DeadLetterJobData,
} from '../common/contracts.js';
import { SpikeError } from '../common/errors.js';

export interface Unstorable {
  /** Source queue, its job id (with `[i]` for the i-th record of a multi-record job), the payload. */
  queue: string;
  jobId: string;
  data: unknown;
  reason: string;
  /** Times the record was replayed before this failure (0: never). */
  replays: number;
}

/** A parked record as listed: its dead-letter id and what was parked. */
export interface DeadLetter extends DeadLetterJobData {
  id: string;
}

/** The queues whose records can be replayed (the others, e.g. corrupt outbox lines, have no queue to go back to). */
const REPLAYABLE = new Set([QUEUE_EXECUTIONS, QUEUE_METRICS, QUEUE_RUNS]);

/** An id that is not in the dead-letter queue. */
export class UnknownDeadLetterError extends SpikeError {
  constructor(readonly ids: string[]) {
    super('DEAD_LETTER_UNKNOWN', `not in the dead-letter queue: ${ids.join(', ')} (npm run dead-letter -- list)`);
  }
}

/** A record that cannot be replayed now, or at all; it stays in the dead-letter queue. */
export class ReplayRefusedError extends SpikeError {
  constructor(
    readonly id: string,
    reason: string,
  ) {
    super('DEAD_LETTER_REPLAY_REFUSED', `${id}: ${reason}`);
  }
}

/** Whether a parked record has a queue to go back to (a corrupt outbox line, for one, has none). */
export function isReplayable(entry: Pick<DeadLetter, 'queue'>): boolean {
  return REPLAYABLE.has(entry.queue);
}

/** BullMQ refuses custom ids containing ':'. */
export function deadLetterJobId(queue: string, jobId: string, replays = 0): string {
  return `${queue}-${jobId}${replays > 0 ? `-r${replays}` : ''}`.replaceAll(':', '_');
}

/** The job name of a record replayed `replays` times; the consumer reads it back with `replaysOf`. */
export function replayJobName(replays: number): string {
  return `replay-${replays}`;
}

export function replaysOf(jobName: string): number {
  const m = /^replay-(\d{1,9})$/.exec(jobName);
  return m ? Number(m[1]) : 0;
}

export class DeadLetterQueue {
  private readonly queue: Queue<DeadLetterJobData>;
  private readonly sources = new Map<string, Queue>();

  /** `asTool`: for command-line tools, which must not write BullMQ's queue metadata just by looking. */
  constructor(
    private readonly connection: RedisClient,
    private readonly prefix: string,
    private readonly options: { asTool?: boolean } = {},
  ) {
    this.queue = this.open<DeadLetterJobData>(QUEUE_DEAD_LETTER);
  }

  /** Resolves once Redis has the record; rejects when it could not be written (the caller retries). */
  async park(record: Unstorable): Promise<void> {
    const data: DeadLetterJobData = { ...record, failedAt: Date.now() };
    const jobId = deadLetterJobId(record.queue, record.jobId, record.replays);
    await this.queue.add('unstorable-record', data, { jobId });
  }

  /** Every parked record, oldest first, or those of `ids` (UnknownDeadLetterError if one is not parked). */
  async list(ids?: readonly string[]): Promise<DeadLetter[]> {
    if (ids) return this.get(ids);
    const jobs = await this.queue.getJobs(['wait'], 0, -1, true);
    return jobs.filter((j) => j?.id).map((j) => ({ id: j.id!, ...j.data }));
  }

  /**
   * Puts a parked record back on its queue under its original job id, then removes it from here —
   * only once Redis has the re-queued job. A finished job under that id (the one whose record was
   * parked) is removed first, or BullMQ would ignore the re-queue. Throws ReplayRefusedError, leaving
   * everything as it was, when the record has no queue to go back to or its job id is still queued.
   */
  async replay(entry: DeadLetter): Promise<void> {
    if (!isReplayable(entry)) {
      throw new ReplayRefusedError(
        entry.id,
        `records of "${entry.queue}" cannot be replayed (no queue takes them back)`,
      );
    }
    const source = this.source(entry.queue);
    const existing = await source.getJob(entry.jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') {
        throw new ReplayRefusedError(entry.id, `job ${entry.jobId} is still ${state} in "${entry.queue}"; retry later`);
      }
      await existing.remove();
    }
    // Resolves once Redis ran the add: the acknowledgement after which the entry may go.
    await source.add(replayJobName((entry.replays ?? 0) + 1), entry.data, { jobId: entry.jobId });
    const parked = await this.queue.getJob(entry.id);
    await parked?.remove();
  }

  async close(): Promise<void> {
    await Promise.all([this.queue, ...this.sources.values()].map((q) => q.close()));
  }

  private async get(ids: readonly string[]): Promise<DeadLetter[]> {
    const jobs = await Promise.all(ids.map((id) => this.queue.getJob(id)));
    const unknown = ids.filter((_, i) => !jobs[i]);
    if (unknown.length > 0) throw new UnknownDeadLetterError(unknown);
    return jobs.map((j) => ({ id: j!.id!, ...j!.data }));
  }

  private source(name: string): Queue {
    let q = this.sources.get(name);
    if (!q) this.sources.set(name, (q = this.open(name)));
    return q;
  }

  private open<T>(name: string): Queue<T> {
    const skipMetasUpdate = this.options.asTool ?? false;
    const q = new Queue<T>(name, { connection: this.connection, prefix: this.prefix, skipMetasUpdate });
    // Errors surface through the rejected calls (the batcher retries); without a listener an
    // 'error' event would crash the process.
    q.on('error', () => undefined);
    return q;
  }
}

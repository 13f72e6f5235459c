/**
 * The dead-letter queue: records that can never be stored, parked with the reason so that nothing
 * disappears silently. Nobody consumes it automatically; an operator inspects it (the jobs wait in
 * BullMQ's `wait` list of QUEUE_DEAD_LETTER) and can replay a fixed record to its queue.
 *
 * The job id is derived from the source queue and job id, so a record delivered twice is parked once.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_DEAD_LETTER, type DeadLetterJobData } from '../common/contracts.js';

export interface Unstorable {
  /** Source queue, its job id (with `[i]` for the i-th record of a multi-record job), the payload. */
  queue: string;
  jobId: string;
  data: unknown;
  reason: string;
}

/** BullMQ refuses custom ids containing ':'. */
export function deadLetterJobId(queue: string, jobId: string): string {
  return `${queue}-${jobId}`.replaceAll(':', '_');
}

export class DeadLetterQueue {
  private readonly queue: Queue<DeadLetterJobData>;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue<DeadLetterJobData>(QUEUE_DEAD_LETTER, { connection, prefix });
    // Errors surface through the rejected add (and the batcher retries); without a listener an
    // 'error' event would crash the process.
    this.queue.on('error', () => undefined);
  }

  /** Resolves once Redis has the record; rejects when it could not be written (the caller retries). */
  async park(record: Unstorable): Promise<void> {
    const data: DeadLetterJobData = { ...record, failedAt: Date.now() };
    await this.queue.add('unstorable-record', data, { jobId: deadLetterJobId(record.queue, record.jobId) });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

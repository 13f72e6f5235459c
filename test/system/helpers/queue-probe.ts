/**
 * The test's own view of the BullMQ queues under the run's prefix: counts, jobs, pause/resume and
 * re-adding records as new jobs. A fresh connection per use, because the Redis under test restarts
 * and BullMQ binds a queue to its connection's first readiness.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_DEAD_LETTER, QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../../common/contracts.js';

export const PIPELINE_QUEUES = [QUEUE_EXECUTIONS, QUEUE_METRICS] as const;
type QueueName = typeof QUEUE_EXECUTIONS | typeof QUEUE_METRICS | typeof QUEUE_DEAD_LETTER;

/** Job states that still wait for an ingest worker. */
const UNFINISHED = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const;

export class QueueProbe {
  private readonly connection: Redis;
  private readonly queues = new Map<QueueName, Queue>();

  constructor(url: string, prefix: string) {
    this.connection = new Redis(url, { maxRetriesPerRequest: null });
    for (const name of [QUEUE_EXECUTIONS, QUEUE_METRICS, QUEUE_DEAD_LETTER] as const) {
      this.queues.set(name, new Queue(name, { connection: this.connection, prefix }));
    }
  }

  static async use<T>(url: string, prefix: string, fn: (probe: QueueProbe) => Promise<T>): Promise<T> {
    const probe = new QueueProbe(url, prefix);
    try {
      return await fn(probe);
    } finally {
      await probe.close();
    }
  }

  queue(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  async counts(name: QueueName): Promise<Record<string, number>> {
    return this.queue(name).getJobCounts();
  }

  /** Jobs not finished yet (waiting, paused, delayed, active…) in a queue. */
  async unfinished(name: QueueName): Promise<number> {
    const counts = await this.queue(name).getJobCounts(...UNFINISHED);
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Jobs waiting to be fetched (a paused queue's jobs wait too): only an ingest worker takes them away. */
  async waiting(name: QueueName): Promise<number> {
    const counts = await this.queue(name).getJobCounts('waiting', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async jobs(name: QueueName, state: 'completed' | 'active' | 'failed' | 'wait', count = 1000): Promise<Job[]> {
    return this.queue(name).getJobs([state], 0, count - 1);
  }

  async state(name: QueueName, jobId: string): Promise<string> {
    return this.queue(name).getJobState(jobId);
  }

  /** Re-adds the records of `jobs` as new jobs (ids `<tag>-<old id>`): the same records delivered again. */
  async redeliver(name: QueueName, jobs: Job[], tag: string): Promise<string[]> {
    const added = await this.queue(name).addBulk(
      jobs.map((j) => ({ name: j.name, data: j.data as unknown, opts: { jobId: `${tag}-${j.id}` } })),
    );
    return added.map((j) => j.id!);
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) await q.close();
    await this.connection.quit().catch(() => undefined);
    this.connection.disconnect();
  }

  /** Removes every key of the prefix (the queues and whatever else BullMQ left). */
  static async obliterate(url: string, prefix: string): Promise<void> {
    const connection = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await connection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await connection.del(...keys);
      } while (cursor !== '0');
    } finally {
      connection.disconnect();
    }
  }
}

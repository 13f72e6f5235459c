/**
 * Reads back what the relay put into BullMQ, and removes it: every test uses its own random
 * prefix and obliterates its queues at the end.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_DEAD_LETTER, QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../../common/contracts.js';
import { ALLOW_VOLATILE_REDIS, REDIS_URL } from '../../helpers/shared-redis.js';

export const SHARED_REDIS_URL = REDIS_URL;
/** What a capture needs to relay to the shared (volatile) Redis. */
export const SHARED_REDIS = { redisUrl: REDIS_URL, allowVolatileRedis: ALLOW_VOLATILE_REDIS };

export function randomPrefix(): string {
  return `test-capture-${randomBytes(4).toString('hex')}`;
}

export interface StoredJob {
  id: string;
  name: string;
  data: unknown;
  opts: JobsOptions;
}

export class JobReader {
  private readonly connection: Redis;
  private readonly queues: Queue[];

  constructor(url: string, prefix: string) {
    this.connection = new Redis(url, { maxRetriesPerRequest: null });
    this.queues = [QUEUE_EXECUTIONS, QUEUE_METRICS, QUEUE_DEAD_LETTER].map(
      (name) => new Queue(name, { connection: this.connection, prefix }),
    );
  }

  private queue(name: string): Queue {
    return this.queues.find((q) => q.name === name)!;
  }

  /** Every job of a queue, in any state. */
  async jobs(name: string): Promise<StoredJob[]> {
    const jobs = await this.queue(name).getJobs(
      ['wait', 'active', 'completed', 'failed', 'delayed', 'prioritized'],
      0,
      -1,
    );
    return jobs.map((j) => ({ id: j.id!, name: j.name, data: j.data as unknown, opts: j.opts }));
  }

  /** Completes every waiting job of a queue with a no-op worker (as an ingest worker would). */
  async complete(name: string, url: string, prefix: string): Promise<void> {
    const total = await this.count(name);
    let done = 0;
    const connection = new Redis(url, { maxRetriesPerRequest: null });
    const worker = new Worker(name, () => Promise.resolve(), { connection, prefix, concurrency: 50 });
    worker.on('completed', () => done++);
    const deadline = Date.now() + 10_000;
    while (done < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await worker.close();
    await connection.quit();
  }

  async counts(name: string): Promise<Record<string, number>> {
    return this.queue(name).getJobCounts();
  }

  async count(name: string): Promise<number> {
    const counts = await this.queue(name).getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Obliterates the test's queues and closes the connection. */
  async cleanup(): Promise<void> {
    for (const q of this.queues) await q.obliterate({ force: true });
    for (const q of this.queues) await q.close();
    await this.connection.quit();
  }
}

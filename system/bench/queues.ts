/**
 * The benchmark's view of the pipeline's queues on the shared Redis, under its own prefix: backlog
 * counts, waiting until the ingest has consumed everything, and removing every key of the prefix
 * at the end (the shared Redis is left as it was found).
 */
import { Queue } from 'bullmq';
import { createRedis, masterNodes, type RedisClient } from '../../common/redis-client.js';
import { QUEUE_DEAD_LETTER, QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../common/contracts.js';

export interface Backlog {
  /** Jobs not yet taken by a worker, and jobs taken but not acknowledged. */
  waiting: number;
  active: number;
  failed: number;
  deadLetters: number;
}

export class PipelineQueues {
  private readonly connection: RedisClient;
  private readonly executions: Queue;
  private readonly metrics: Queue;
  private readonly deadLetter: Queue;

  constructor(
    readonly url: string,
    readonly prefix: string,
  ) {
    this.connection = createRedis(url, { maxRetriesPerRequest: null });
    this.executions = new Queue(QUEUE_EXECUTIONS, { connection: this.connection, prefix });
    this.metrics = new Queue(QUEUE_METRICS, { connection: this.connection, prefix });
    this.deadLetter = new Queue(QUEUE_DEAD_LETTER, { connection: this.connection, prefix });
  }

  async backlog(): Promise<Backlog> {
    const b: Backlog = { waiting: 0, active: 0, failed: 0, deadLetters: 0 };
    for (const q of [this.executions, this.metrics]) {
      const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
      b.waiting += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
      b.active += c.active ?? 0;
      b.failed += c.failed ?? 0;
    }
    b.deadLetters = await this.deadLetter.count();
    return b;
  }

  /** Waits until no job waits or is in flight; false when `timeoutMs` ran out first. */
  async waitUntilEmpty(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = await this.backlog();
      if (b.waiting + b.active === 0) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    for (const q of [this.executions, this.metrics, this.deadLetter]) await q.close();
    await this.connection.quit();
  }
}

/** Deletes every key under `prefix:` (SCAN, never KEYS: the Redis is shared). */
export async function removePrefix(url: string, prefix: string): Promise<number> {
  const connection = createRedis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  let removed = 0;
  try {
    await connection.connect();
    // On a cluster each master holds its own keys (a prefix's keys share one slot: one DEL each).
    for (const node of masterNodes(connection)) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) removed += await node.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    connection.disconnect();
  }
  return removed;
}

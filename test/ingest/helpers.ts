/** Test helpers for the ingest workers: a random key prefix on the shared Redis, producers, cleanup. */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  QUEUE_DEAD_LETTER,
  QUEUE_EXECUTIONS,
  QUEUE_METRICS,
  executionJobId,
  windowJobId,
} from '../../common/contracts.js';
import type { DeadLetterJobData, ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

export { REDIS_URL, waitFor };

/** Producers for one test, under a fresh prefix; `cleanup` removes every key of that prefix. */
export class TestQueues {
  readonly prefix = `test-${randomUUID()}`;
  readonly connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  readonly executions = new Queue<ExecutedEvent>(QUEUE_EXECUTIONS, {
    connection: this.connection,
    prefix: this.prefix,
  });
  readonly metrics = new Queue<WindowEvent>(QUEUE_METRICS, { connection: this.connection, prefix: this.prefix });
  readonly deadLetter = new Queue<DeadLetterJobData>(QUEUE_DEAD_LETTER, {
    connection: this.connection,
    prefix: this.prefix,
  });

  /** As the server's relay does: job id = execution id, bulk adds. */
  async addExecutions(events: ExecutedEvent[], jobId: (e: ExecutedEvent) => string = executionJobId): Promise<void> {
    for (let i = 0; i < events.length; i += 1000) {
      await this.executions.addBulk(
        events.slice(i, i + 1000).map((e) => ({ name: 'execution', data: e, opts: { jobId: jobId(e) } })),
      );
    }
  }

  async addWindows(windows: WindowEvent[]): Promise<void> {
    await this.metrics.addBulk(windows.map((w) => ({ name: 'window', data: w, opts: { jobId: windowJobId(w) } })));
  }

  async counts(queue: Queue = this.executions): Promise<Record<string, number>> {
    return queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  }

  async cleanup(): Promise<void> {
    for (const q of [this.executions, this.metrics, this.deadLetter]) {
      await q.obliterate({ force: true });
      await q.close();
    }
    // Anything BullMQ left outside the queues (e.g. a worker's stalled-check key).
    await removePrefixAndQuit(this.connection, this.prefix);
  }
}

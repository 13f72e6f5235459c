/**
 * The reference the pipeline is compared with: raw BullMQ `addBulk` on the same Redis, in the same
 * run — how many single-record jobs per second BullMQ itself accepts here, with nothing else
 * around it (no outbox, no ingest). Each job carries one execution record with its id as job id,
 * as the relay's single-record jobs do; chunks are sent one after another.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { createRedis } from '../../common/redis-client.js';
import type { ExecutedEvent } from '../../common/contracts.js';
import { removePrefix } from './queues.js';

export interface AddBulkRun {
  jobs: number;
  ms: number;
  jobsPerSecond: number;
}

function record(i: number, now: number): ExecutedEvent {
  return {
    type: 'executed',
    executionId: randomUUID(),
    queryId: randomUUID(),
    queuedTick: 1_000_000 + i,
    executedTick: 1_000_001 + i,
    addedDelay: 0,
    delayCount: 0,
    delayedBy: null,
    queuedAt: now,
    executedAt: now + 100,
  };
}

/** One timed run of `jobs` jobs in `chunk`-sized addBulk calls, into a fresh queue that is then removed. */
export async function measureAddBulk(p: {
  url: string;
  prefix: string;
  jobs: number;
  chunk: number;
}): Promise<AddBulkRun> {
  const connection = createRedis(p.url, { maxRetriesPerRequest: null });
  const queue = new Queue('reference', { connection, prefix: p.prefix });
  try {
    await queue.waitUntilReady();
    const now = Date.now();
    // Payloads are built before the clock starts: the reference is BullMQ and Redis, not our records.
    const chunks: { name: string; data: ExecutedEvent; opts: { jobId: string } }[][] = [];
    for (let i = 0; i < p.jobs; i += p.chunk) {
      chunks.push(
        Array.from({ length: Math.min(p.chunk, p.jobs - i) }, (_, k) => {
          const data = record(i + k, now);
          return { name: 'execution', data, opts: { jobId: data.executionId } };
        }),
      );
    }
    const t0 = performance.now();
    for (const c of chunks) await queue.addBulk(c);
    const ms = performance.now() - t0;
    return { jobs: p.jobs, ms: Math.round(ms), jobsPerSecond: Math.round((p.jobs / ms) * 1000) };
  } finally {
    await queue.close();
    await connection.quit();
    await removePrefix(p.url, p.prefix);
  }
}

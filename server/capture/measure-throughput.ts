/**
 * Throwaway measurement: relay throughput (records/s into BullMQ). Commits a backlog of simulated
 * records at a high probability scale while the relay points at an unreachable Redis, then starts
 * a relay against the real Redis and times how fast the outbox drains; also reports how long the
 * relay's synchronous slices held the event loop (what a tick timer would have waited).
 *   npx tsx server/capture/measure-throughput.ts [--ticks 1000] [--scale 1000] [--batch 1000]
 *     [--concurrency 2] [--slice 250] [--redis-url redis://127.0.0.1:6379]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { createRedis } from '../../common/redis-client.js';
import { QUEUE_DEAD_LETTER, QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../common/contracts.js';
import { Database } from '../database.js';
import { simulationOptions } from '../options.js';
import { startCapture } from './capture.js';

const { values } = parseArgs({
  options: {
    ticks: { type: 'string', default: '1000' },
    scale: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '2' },
    slice: { type: 'string', default: '250' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
  },
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-throughput-'));
const prefix = `measure-${process.pid}`;
const redisUrl = values['redis-url'];
const db = new Database(simulationOptions({ seed: 'throughput', probabilityScale: Number(values.scale) }));

// Phase 1: commit the backlog with an unreachable Redis, so the relay cannot start draining.
const filling = startCapture({ db, outboxDir: dir, redisUrl: 'redis://127.0.0.1:1', prefix, drainTimeoutMs: 0 });
const t0 = performance.now();
for (let i = 0; i < Number(values.ticks); i++) {
  db.tick();
  filling.commit();
}
const fillMs = performance.now() - t0;
await filling.close();
const { executedTotal, windowsTotal } = db.stats();
const records = executedTotal + windowsTotal;

// Phase 2: relay it to the real Redis and time the drain.
const capture = startCapture({
  db,
  outboxDir: dir,
  redisUrl,
  prefix,
  allowVolatileRedis: true, // throwaway records under this run's own prefix
  batchSize: Number(values.batch),
  concurrency: Number(values.concurrency),
  addBulkSize: Number(values.slice),
});
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();
const t1 = performance.now();
while (capture.stats().outbox.pendingRecords > 0) await new Promise((r) => setTimeout(r, 5));
const drainMs = performance.now() - t1;
loopDelay.disable();
const stats = capture.stats();
await capture.close();

const connection = createRedis(redisUrl, { maxRetriesPerRequest: null });
const counts: Record<string, number> = {};
for (const name of [QUEUE_EXECUTIONS, QUEUE_METRICS, QUEUE_DEAD_LETTER]) {
  const q = new Queue(name, { connection, prefix });
  counts[name] = await q.getWaitingCount();
  await q.obliterate({ force: true });
  await q.close();
}
await connection.quit();
fs.rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    records,
    fill: { ms: Math.round(fillMs), recordsPerSecond: Math.round((records / fillMs) * 1000) },
    relay: {
      ms: Math.round(drainMs),
      recordsPerSecond: Math.round((records / drainMs) * 1000),
      batches: stats.relay.relayed.batches,
    },
    jobsInRedis: counts,
    // How long the relay's synchronous slices held the event loop (what a tick timer would wait).
    eventLoopDelayMs: {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    },
  }),
);

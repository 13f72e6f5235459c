/**
 * Redis stopped, restarted or hung while the database keeps ticking (a private redis-server on a
 * free port; the shared one is never touched): ticks are not slowed, the backlog grows on disk,
 * and once Redis is back the outbox drains to zero with every record in BullMQ exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../../common/contracts.js';
import { startCapture, type Capture, type StartCaptureParams } from '../../../server/capture/capture.js';
import type { Database } from '../../../server/database.js';
import { JobReader, randomPrefix } from './bullmq-jobs.js';
import { TestRedis } from '../../helpers/redis-server.js';
import { ALLOW_VOLATILE_REDIS } from '../../helpers/shared-redis.js';
import { expectExecutionJobs, expectWindowJobs, recordedRun, sleep, waitFor } from './simulation.js';

let dir: string;
let redis: TestRedis;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-outage-'));
  redis = await TestRedis.start({ persistence: 'none' });
});
afterEach(async () => {
  await redis.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Ticks every `intervalMs` for `ms`, timing `db.tick(); capture.commit()`. */
async function tickFor(
  db: Database,
  capture: Capture,
  ms: number,
  durations: number[],
  intervalMs = 20,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = performance.now();
    db.tick();
    capture.commit();
    durations.push(performance.now() - t);
    await sleep(intervalMs);
  }
}

/**
 * `tick + commit` is synchronous and never touches Redis, so an outage cannot lengthen it; what
 * is left is the disk's fdatasync latency and CPU contention. On a quiet machine p99 is about
 * 1–3 ms; the bounds leave room for a shared, loaded CI machine (measured there: p99 up to ~45 ms
 * under full CPU pressure) while still failing for any tick that waited on Redis (a connection
 * or command timeout costs hundreds of ms to seconds).
 */
function expectTicksNotSlowed(durations: number[]): void {
  const sorted = [...durations].sort((a, b) => a - b);
  expect(sorted.length).toBeGreaterThan(20);
  expect(sorted[Math.floor(sorted.length * 0.99)]).toBeLessThan(60);
  expect(sorted.at(-1)).toBeLessThan(250);
  expect(sorted[Math.floor(sorted.length * 0.5)]).toBeLessThan(10);
}

/** A recorded run whose capture relays to the private Redis under a fresh prefix, its outbox in `dir`. */
function startRun(seed: string, options: Omit<StartCaptureParams, 'db' | 'outboxDir' | 'redisUrl' | 'prefix'>) {
  const prefix = randomPrefix();
  const { db, executed, windows } = recordedRun(seed);
  // The private Redis has no persistence (it is stopped with SHUTDOWN SAVE instead): the suite's allowance.
  const capture = startCapture({
    db,
    outboxDir: dir,
    redisUrl: redis.url,
    allowVolatileRedis: ALLOW_VOLATILE_REDIS,
    prefix,
    ...options,
  });
  return { prefix, db, capture, executed, windows };
}

/** Every execution and window the run's database produced is exactly one job in BullMQ. */
async function expectEveryRecordOnce(run: ReturnType<typeof startRun>): Promise<void> {
  const reader = new JobReader(redis.url, run.prefix);
  try {
    expectExecutionJobs(await reader.jobs(QUEUE_EXECUTIONS), run.executed);
    expectWindowJobs(await reader.jobs(QUEUE_METRICS), run.windows);
  } finally {
    await reader.cleanup();
  }
}

describe('Redis outage', () => {
  it('stopped for seconds and restarted: ticks keep their pace, the outbox grows, then drains', async () => {
    const run = startRun('outage-stop', {
      segmentBytes: 64 * 1024,
      backoffMinMs: 50,
      backoffMaxMs: 300,
    });
    const { db, capture } = run;
    const before: number[] = [];
    await tickFor(db, capture, 1000, before);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 5000, 'the first drain');

    await redis.stop();
    await waitFor(() => capture.stats().redis.state !== 'connected', 5000, 'the relay to notice');
    const during: number[] = [];
    await tickFor(db, capture, 4000, during);
    const outage = capture.stats();
    expect(outage.redis.state).not.toBe('connected');
    expect(outage.relay.state).toMatch(/waiting-for-redis|backoff/);
    // The backlog is on disk: everything committed during the outage is pending, over many segments.
    const tickedDuring = during.length;
    expect(outage.outbox.pendingRecords).toBeGreaterThan(tickedDuring * 5);
    expect(outage.outbox.pendingBytes).toBeGreaterThan(200 * 1024);
    expect(outage.outbox.segments).toBeGreaterThan(3);
    const onDisk = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(onDisk).toBeGreaterThanOrEqual(outage.outbox.pendingBytes);
    expect(outage.relay.lagMs).toBeGreaterThan(3000);

    await redis.restart();
    const after: number[] = [];
    await tickFor(db, capture, 500, after);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the drain after the restart');
    const final = capture.stats();
    expect(final.redis.state).toBe('connected');
    expect(final.redis.reconnects).toBeGreaterThanOrEqual(1);
    expect(final.outbox.segments).toBe(1);
    expect(await capture.close()).toEqual({ drained: true, pendingRecords: 0 });

    expectTicksNotSlowed(during);

    await expectEveryRecordOnce(run);
  });

  it('hung (SIGSTOP): the send times out, ticks are not slowed, and it drains when Redis resumes', async () => {
    const run = startRun('outage-freeze', {
      sendTimeoutMs: 500,
      backoffMinMs: 50,
      backoffMaxMs: 300,
    });
    const { db, capture } = run;
    const durations: number[] = [];
    await tickFor(db, capture, 500, durations);
    redis.freeze();
    await tickFor(db, capture, 3000, durations);
    expect(capture.stats().outbox.pendingRecords).toBeGreaterThan(0);
    redis.thaw();
    await tickFor(db, capture, 500, durations);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the drain after the freeze');
    expect(capture.stats().relay.failures).toBeGreaterThan(0);
    await capture.close();
    expectTicksNotSlowed(durations);

    await expectEveryRecordOnce(run);
  });

  it('starts while Redis is down, keeps committing, and relays once Redis comes up', async () => {
    await redis.stop();
    const run = startRun('outage-cold', {
      backoffMinMs: 50,
      backoffMaxMs: 200,
    });
    const { db, capture, executed, windows } = run;
    const durations: number[] = [];
    await tickFor(db, capture, 1000, durations);
    expect(capture.stats().relay.relayed.executions).toBe(0);
    expect(capture.stats().outbox.pendingRecords).toBe(executed.length + windows.length);
    await redis.restart();
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the drain once Redis is up');
    await capture.close();
    expectTicksNotSlowed(durations);
    await expectEveryRecordOnce(run);
  });
});

/**
 * The relay never sends to a Redis that does not persist what it acknowledges, unless allowed
 * (private redis-servers on free ports; the shared one is never touched): against a volatile Redis
 * the records stay in the outbox and the link reports `refused` with the reason; once Redis is made
 * durable the relay resumes by itself. A durable Redis restarted with another configuration is
 * caught on the reconnect, before it is sent anything.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_EXECUTIONS } from '../../../common/contracts.js';
import { startCapture, type Capture } from '../../../server/capture/capture.js';
import { TestRedis } from '../../helpers/redis-server.js';
import { JobReader, randomPrefix } from './bullmq-jobs.js';
import { recordedRun, sleep, waitFor } from './simulation.js';

let dir: string;
const cleanup: (() => Promise<void>)[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-volatile-'));
});
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function redisServer(persistence: 'aof' | 'none', port?: number): Promise<TestRedis> {
  const r = await TestRedis.start({ persistence, ...(port ? { port } : {}) });
  cleanup.push(() => r.destroy());
  return r;
}

async function executionJobs(url: string, prefix: string): Promise<number> {
  const reader = new JobReader(url, prefix);
  try {
    return (await reader.jobs(QUEUE_EXECUTIONS)).length;
  } finally {
    await reader.cleanup();
  }
}

/** A capture with the suite's allowance explicitly withdrawn: the refusal under test. */
function start(redisUrl: string, prefix: string) {
  const run = recordedRun(`volatile-${prefix}`);
  const capture = startCapture({
    db: run.db,
    outboxDir: dir,
    redisUrl,
    prefix,
    allowVolatileRedis: false,
    backoffMinMs: 50,
    backoffMaxMs: 200,
    drainTimeoutMs: 500, // closing with records held for a refused Redis must not wait long
  });
  cleanup.push(() => capture.close().then(() => undefined));
  return { ...run, capture };
}

function tick(db: { tick(): void }, capture: Capture, n: number): void {
  for (let i = 0; i < n; i++) {
    db.tick();
    capture.commit();
  }
}

describe('the relay and a volatile Redis', () => {
  it('holds every record in the outbox while Redis is volatile, and resumes once it is made durable', async () => {
    const redis = await redisServer('none');
    const prefix = randomPrefix();
    const { db, capture, executed } = start(redis.url, prefix);
    tick(db, capture, 200);
    await waitFor(() => capture.stats().redis.state === 'refused', 10_000, 'the link to refuse Redis');
    await sleep(500); // several re-checks: still nothing sent
    const held = capture.stats();
    expect(held.redis.persistence).toMatchObject({ verdict: 'volatile', appendonly: 'no' });
    expect(held.redis.lastError).toContain('appendonly no');
    expect(held.redis.lastError).toContain('--allow-volatile-redis');
    expect(held.relay.relayed.batches).toBe(0);
    expect(held.outbox.pendingRecords).toBe(held.outbox.committedTotal);
    expect(await executionJobs(redis.url, prefix)).toBe(0);

    // The operator's fix, at runtime: the next re-check lets the relay go.
    const admin = new Redis(redis.url);
    await admin.config('SET', 'appendonly', 'yes');
    admin.disconnect();
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain');
    expect(capture.stats().redis).toMatchObject({ state: 'connected', persistence: { verdict: 'durable' } });
    expect(await executionJobs(redis.url, prefix)).toBe(executed.length);
  });

  it('checks again after a reconnect: a Redis restarted without persistence is refused before it gets anything', async () => {
    const durable = await redisServer('aof');
    const port = durable.port;
    const prefix = randomPrefix();
    const { db, capture } = start(durable.url, prefix);
    tick(db, capture, 50);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the first drain');
    expect(capture.stats().redis.state).toBe('connected');

    // Same port, another configuration: the kind of Redis that loses what it acknowledged.
    await durable.destroy();
    const volatile = await redisServer('none', port);
    await waitFor(() => capture.stats().redis.state === 'refused', 15_000, 'the reconnect to be refused');
    tick(db, capture, 50);
    await sleep(500);
    const held = capture.stats();
    expect(held.redis.reconnects).toBeGreaterThanOrEqual(1);
    expect(held.outbox.pendingRecords).toBeGreaterThan(0);
    expect(await executionJobs(volatile.url, prefix)).toBe(0);
  });

  it('with the allowance it sends to a volatile Redis, and says so in its stats', async () => {
    const redis = await redisServer('none');
    const prefix = randomPrefix();
    const run = recordedRun('volatile-allowed');
    const capture = startCapture({
      db: run.db,
      outboxDir: dir,
      redisUrl: redis.url,
      prefix,
      allowVolatileRedis: true,
    });
    cleanup.push(() => capture.close().then(() => undefined));
    tick(run.db, capture, 100);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain');
    expect(capture.stats().redis).toMatchObject({ state: 'connected', persistence: { verdict: 'volatile' } });
    expect(await executionJobs(redis.url, prefix)).toBe(run.executed.length);
  });
});

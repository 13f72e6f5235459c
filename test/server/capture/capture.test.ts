/**
 * End to end against the shared Redis (random prefix per test): every execution and every window
 * of a simulated run becomes exactly one BullMQ job with the right id and data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  QUEUE_DEAD_LETTER,
  QUEUE_EXECUTIONS,
  QUEUE_METRICS,
  executionGroupJobId,
  type DeadLetterJobData,
  type ExecutedEvent,
} from '../../../common/contracts.js';
import { startCapture } from '../../../server/capture/capture.js';
import { JobReader, SHARED_REDIS, SHARED_REDIS_URL, randomPrefix } from './bullmq-jobs.js';
import { expectExecutionJobs, expectWindowJobs, recordedRun, waitFor } from './simulation.js';

let dir: string;
let prefix: string;
let reader: JobReader;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-test-'));
  prefix = randomPrefix();
  reader = new JobReader(SHARED_REDIS_URL, prefix);
});
afterEach(async () => {
  await reader.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('startCapture', () => {
  it('turns every execution and every window of a run into exactly one job', async () => {
    const { db, executed, windows } = recordedRun('capture-e2e');
    // Small segments and batches, so rotation, deletion and many batches are exercised too.
    const capture = startCapture({
      db,
      outboxDir: dir,
      ...SHARED_REDIS,
      prefix,
      segmentBytes: 64 * 1024,
      batchSize: 500,
    });
    for (let i = 0; i < 1500; i++) {
      db.tick();
      capture.commit();
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain');
    const stats = capture.stats();
    expect(stats.redis.state).toBe('connected');
    expect(stats.relay.relayed).toMatchObject({ executions: executed.length, windows: windows.length, deadLetters: 0 });
    expect(stats.relay.lagRecords).toBe(0);
    expect(stats.outbox.committedTotal).toBe(executed.length + windows.length);
    expect(stats.outbox.segments).toBe(1);
    expect(await capture.close()).toEqual({ drained: true, pendingRecords: 0 });

    expect(executed.length).toBeGreaterThan(10_000);
    expect(windows).toHaveLength(150);
    expectExecutionJobs(await reader.jobs(QUEUE_EXECUTIONS), executed);
    expectWindowJobs(await reader.jobs(QUEUE_METRICS), windows);
    expect(await reader.count(QUEUE_DEAD_LETTER)).toBe(0);
  });

  it('starts relaying a tick only --relay-delay-ms after its commit, its records on disk meanwhile', async () => {
    const { db, executed } = recordedRun('capture-delay');
    const capture = startCapture({ db, outboxDir: dir, ...SHARED_REDIS, prefix, relayDelayMs: 400 });
    await waitFor(() => capture.stats().redis.state === 'connected', 10_000, 'Redis');
    for (let i = 0; i < 5; i++) {
      db.tick();
      capture.commit();
    }
    const committedAt = performance.now();
    expect(executed.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    // Nothing sent yet, everything committed to the outbox.
    expect(capture.stats().relay.relayed.executions).toBe(0);
    expect(capture.stats().outbox.pendingRecords).toBeGreaterThanOrEqual(executed.length);
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain');
    expect(performance.now() - committedAt).toBeGreaterThanOrEqual(400);
    expect(capture.stats().relay.relayed.executions).toBe(executed.length);
    await capture.close();
  });

  it('sends the executions of a busy tick as one job per tick, each execution exactly once', async () => {
    const { db, executed, windows } = recordedRun('capture-groups', 40);
    const capture = startCapture({ db, outboxDir: dir, ...SHARED_REDIS, prefix, groupAbove: 50 });
    for (let i = 0; i < 200; i++) {
      db.tick();
      capture.commit();
    }
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 20_000, 'the outbox to drain');
    expect(capture.stats().relay.relayed.executions).toBe(executed.length);
    await capture.close();
    const jobs = await reader.jobs(QUEUE_EXECUTIONS);
    const groups = jobs.filter((j) => Array.isArray(j.data));
    const singles = jobs.filter((j) => !Array.isArray(j.data));
    // About 50 executions per tick (probabilities clamp at 1): ticks above 50 are grouped, the others not.
    expect(groups.length).toBeGreaterThan(50);
    expect(singles.length).toBeGreaterThan(0);
    for (const g of groups) {
      const list = g.data as ExecutedEvent[];
      expect(list.length).toBeGreaterThan(50);
      expect(g.id).toBe(executionGroupJobId({ tick: list[0]!.executedTick }));
      expect(new Set(list.map((e) => e.executedTick)).size).toBe(1);
    }
    for (const j of singles) expect(j.id).toBe((j.data as ExecutedEvent).executionId);
    const delivered = [
      ...groups.flatMap((g) => g.data as ExecutedEvent[]),
      ...singles.map((j) => j.data as ExecutedEvent),
    ];
    expect(delivered.length).toBe(executed.length);
    expect(new Set(delivered.map((e) => e.executionId)).size).toBe(executed.length);
    expectWindowJobs(await reader.jobs(QUEUE_METRICS), windows);
  });

  it('re-sending records already relayed creates no second job', async () => {
    const { db, executed, windows } = recordedRun('capture-resend');
    const first = startCapture({ db, outboxDir: dir, ...SHARED_REDIS, prefix });
    for (let i = 0; i < 100; i++) {
      db.tick();
      first.commit();
    }
    await waitFor(() => first.stats().outbox.pendingRecords === 0, 10_000, 'the first drain');
    await first.close();
    // Forget the acknowledged position: the next start relays the whole outbox again.
    fs.rmSync(path.join(dir, 'position.json'));
    const second = startCapture({ db, outboxDir: dir, ...SHARED_REDIS, prefix });
    expect(second.stats().outbox.recoveredRecords).toBe(executed.length + windows.length);
    await waitFor(() => second.stats().outbox.pendingRecords === 0, 10_000, 'the second drain');
    await second.close();
    expectExecutionJobs(await reader.jobs(QUEUE_EXECUTIONS), executed);
    expectWindowJobs(await reader.jobs(QUEUE_METRICS), windows);
  });

  it('sends a line that is not a valid record to the dead-letter queue with the reason', async () => {
    fs.writeFileSync(path.join(dir, 'segment-000000000001.jsonl'), '{"at":1,"record":{"type":"executed"}}\n');
    const { db, executed } = recordedRun('capture-dead-letter');
    const capture = startCapture({ db, outboxDir: dir, ...SHARED_REDIS, prefix });
    for (let i = 0; i < 20; i++) {
      db.tick();
      capture.commit();
    }
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 10_000, 'the drain');
    expect(capture.stats().relay.relayed.deadLetters).toBe(1);
    await capture.close();
    const dead = await reader.jobs(QUEUE_DEAD_LETTER);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.id).toBe('outbox-1-0');
    expect(dead[0]!.data).toMatchObject({
      queue: 'outbox',
      data: '{"at":1,"record":{"type":"executed"}}',
      reason: 'executed record without executionId',
    } satisfies Partial<DeadLetterJobData>);
    expectExecutionJobs(await reader.jobs(QUEUE_EXECUTIONS), executed);
  });

  it('keeps Redis small: completed jobs are trimmed to the configured count', async () => {
    const { db, executed } = recordedRun('capture-options');
    const capture = startCapture({
      db,
      outboxDir: dir,
      ...SHARED_REDIS,
      prefix,
      keepCompleted: 7,
      keepFailed: 0,
    });
    for (let i = 0; i < 10; i++) {
      db.tick();
      capture.commit();
    }
    await waitFor(() => capture.stats().outbox.pendingRecords === 0, 10_000, 'the drain');
    await capture.close();
    const jobs = await reader.jobs(QUEUE_EXECUTIONS);
    expect(jobs[0]!.opts).toMatchObject({ removeOnComplete: { count: 7 }, removeOnFail: true });
    expect(executed.length).toBeGreaterThan(20);
    await reader.complete(QUEUE_EXECUTIONS, SHARED_REDIS_URL, prefix);
    expect(await reader.counts(QUEUE_EXECUTIONS)).toMatchObject({ completed: 7, waiting: 0 });
  });
});

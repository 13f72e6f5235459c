/**
 * Ingest workers against the real shared Redis (a random key prefix per test, removed afterwards)
 * and a real chDB in a temporary directory.
 */
import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import type { ExecutionRow, RowSink } from '../../clickhouse/index.js';
import { ingestOptions, startIngest, type IngestHandle, type IngestSettingValues } from '../../ingest/index.js';
import { BASE_TICK, execution, executions, window } from '../clickhouse/helpers.js';
import { useIngestFixture, waitFor } from './helpers.js';

const f = useIngestFixture('spike');

/** Each test writes its own block of ticks. */
let nextBlock = 1;
const block = () => nextBlock++ * 1_000_000;
const rangeOf = (from: number, count: number) => ({ from: BASE_TICK + from, to: BASE_TICK + from + count - 1 });

function start(overrides: Partial<IngestSettingValues> = {}, sink: RowSink = f.store): IngestHandle {
  return f.start({ flushMs: 200, retryBaseMs: 10, retryMaxMs: 50, ...overrides }, { sink });
}

describe('ingest', () => {
  it('stores every job added with addBulk exactly once, then acknowledges it', async () => {
    const b = block();
    const events = executions(b, 3000);
    const windows = Array.from({ length: 5 }, (_, i) => window(b / 10 + i));
    const ingest = start({ batchSize: 1000, flushMs: 50, keepCompleted: 10_000 });
    await f.queues.addExecutions(events);
    await f.queues.addWindows(windows);
    await waitFor(async () => (await f.queues.counts()).completed === 3000, 30_000, 'all jobs completed');
    await waitFor(async () => (await f.queues.counts(f.queues.metrics)).completed === 5, 10_000, 'windows completed');
    expect(await f.store.countExecutions(rangeOf(b, 3000))).toEqual({
      stored: 3000,
      rows: 3000,
      duplicateRows: 0,
      countedTwice: 0,
    });
    expect((await f.store.countWindows({ from: windows[0]!.firstTick, to: windows[4]!.lastTick })).stored).toBe(5);
    expect(await f.queues.counts()).toMatchObject({ waiting: 0, active: 0, failed: 0 });
    expect(ingest.stats().executions).toMatchObject({ stored: 3000, deadLettered: 0, pending: 0, jobs: 3000 });
    expect(ingest.state).toBe('running');
  });

  it('flushes by size: full batches go at once, long before the flush interval', async () => {
    const b = block();
    const ingest = start({ batchSize: 100, flushMs: 600_000, concurrency: 1000 });
    await f.queues.addExecutions(executions(b, 250));
    await waitFor(() => ingest.stats().executions.stored === 200, 10_000, 'two full batches');
    expect(ingest.stats().executions).toMatchObject({ batches: 2, pending: 50 });
    expect((await f.store.countExecutions(rangeOf(b, 250))).stored).toBe(200);
    // The 50 others wait for the timer (10 minutes): they are in flight, not acknowledged.
    expect((await f.queues.counts()).completed).toBe(200);
    expect((await f.queues.counts()).active).toBe(50);
  });

  it('flushes by time: a partial batch is stored after flushMs', async () => {
    const b = block();
    const ingest = start({ batchSize: 10_000, flushMs: 300 });
    await ingest.ready();
    const addedAt = Date.now();
    await f.queues.addExecutions(executions(b, 7));
    await waitFor(() => ingest.stats().executions.stored === 7, 10_000, 'the partial batch');
    expect(Date.now() - addedAt).toBeGreaterThanOrEqual(250);
    expect(ingest.stats().executions.batches).toBe(1);
    expect((await f.store.countExecutions(rangeOf(b, 7))).stored).toBe(7);
  });

  it('counts a job delivered twice once (same payload under two job ids, and re-added after completion)', async () => {
    const b = block();
    const events = executions(b, 400);
    const ingest = start({ batchSize: 100, flushMs: 20, keepCompleted: 0 });
    await f.queues.addExecutions(events);
    await f.queues.addExecutions(events.slice(0, 100), (e) => `again-${e.executionId}`);
    await waitFor(
      async () => (await f.queues.counts()).completed === 0 && ingest.stats().executions.jobs === 500,
      20_000,
      'first round',
    );
    // keepCompleted 0: completed jobs are deleted, so the same job ids can be added again.
    await f.queues.addExecutions(events.slice(100, 200));
    await waitFor(() => ingest.stats().executions.jobs === 600, 20_000, 'the re-added jobs');
    const counts = await f.store.countExecutions(rangeOf(b, 400));
    expect(counts.stored).toBe(400);
    expect(counts.countedTwice).toBe(0);
    expect(counts.rows).toBeGreaterThanOrEqual(400);
    expect(counts.rows).toBeLessThanOrEqual(600);
  });

  it('keeps jobs in flight while ClickHouse inserts fail, stores everything once it recovers, then acknowledges', async () => {
    // Embedded chDB cannot be made unavailable for real, so the sink throws what the HTTP client
    // throws when the server is down (ECONNREFUSED) until the test lets it through.
    const b = block();
    let down = true;
    let failures = 0;
    const flaky: RowSink = {
      insertExecutionRows: async (rows: readonly ExecutionRow[]) => {
        if (down) {
          failures++;
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
        }
        await f.store.insertExecutionRows(rows);
      },
      insertWindowRows: (rows) => f.store.insertWindowRows(rows),
    };
    const ingest = start({ batchSize: 200, flushMs: 20 }, flaky);
    await f.queues.addExecutions(executions(b, 500));
    await waitFor(
      async () => failures >= 6 && (await f.queues.counts()).active === 500,
      10_000,
      'all in flight, inserts failing',
    );
    expect(await f.queues.counts()).toMatchObject({ completed: 0, failed: 0, active: 500 });
    expect(ingest.stats().executions).toMatchObject({ stored: 0, pending: 500, failing: true });
    expect((await f.store.countExecutions(rangeOf(b, 500))).rows).toBe(0);
    down = false;
    await waitFor(async () => (await f.queues.counts()).completed === 500, 20_000, 'acknowledged after recovery');
    expect(await f.store.countExecutions(rangeOf(b, 500))).toMatchObject({ stored: 500, countedTwice: 0 });
    expect(ingest.stats().executions).toMatchObject({ stored: 500, deadLettered: 0, failing: false });
    expect(ingest.stats().executions.retries).toBeGreaterThanOrEqual(6);
  });

  it('dead-letters a poison record with its reason and stores the rest', async () => {
    const b = block();
    const events = executions(b, 300);
    const invalid = { ...execution(b + 300), delayCount: 70_000 }; // fails validation: never reaches ClickHouse
    const refusedId = events[123]!.executionId; // ClickHouse refuses the batch holding it
    const picky: RowSink = {
      insertExecutionRows: async (rows) => {
        if (rows.some((r) => r.execution_id === refusedId)) {
          throw new ClickHouseError({
            message: 'Cannot parse uuid: (at row 1)',
            code: '376',
            type: 'CANNOT_PARSE_UUID',
          });
        }
        await f.store.insertExecutionRows(rows);
      },
      insertWindowRows: (rows) => f.store.insertWindowRows(rows),
    };
    const ingest = start({ batchSize: 100, flushMs: 20 }, picky);
    await f.queues.addExecutions([...events, invalid]);
    await waitFor(async () => (await f.queues.counts()).completed === 301, 20_000, 'all jobs completed');
    expect((await f.store.countExecutions(rangeOf(b, 301))).stored).toBe(299);
    const dead = (await f.queues.deadLetter.getJobs(['waiting']))
      .map((j) => j.data)
      .sort((x, y) => x.jobId.localeCompare(y.jobId));
    expect(dead).toHaveLength(2);
    const byId = new Map(dead.map((d) => [d.jobId, d]));
    expect(byId.get(refusedId)).toMatchObject({
      queue: 'executions',
      reason: 'CANNOT_PARSE_UUID: Cannot parse uuid: (at row 1)',
    });
    expect(byId.get(refusedId)?.data).toEqual(events[123]);
    expect(byId.get(invalid.executionId)).toMatchObject({ queue: 'executions', data: invalid });
    expect(byId.get(invalid.executionId)?.reason).toMatch(
      /^invalid record: delayCount: must be an integer between 0 and 65535/,
    );
    expect(ingest.stats().executions).toMatchObject({ stored: 299, deadLettered: 2, invalid: 1, pending: 0 });
    expect((await f.queues.counts()).failed).toBe(0);
  });

  it('accepts a job that holds several records', async () => {
    const b = block();
    const events = executions(b, 50);
    const ingest = start({ batchSize: 1000, flushMs: 20 });
    await f.queues.executions.add('chunk', events as never, { jobId: `chunk-${b}` });
    await waitFor(() => ingest.stats().executions.jobs === 1, 10_000, 'the chunk job');
    expect((await f.store.countExecutions(rangeOf(b, 50))).stored).toBe(50);
    expect(ingest.stats().executions.stored).toBe(50);
  });

  it('close() drains in-flight batches, acknowledges them and stops', async () => {
    const b = block();
    const ingest = start({ batchSize: 10_000, flushMs: 600_000 });
    await f.queues.addExecutions(executions(b, 300));
    await waitFor(() => ingest.stats().executions.pending === 300, 10_000, 'all in flight');
    expect((await f.store.countExecutions(rangeOf(b, 300))).rows).toBe(0);
    const result = await ingest.close();
    expect(result).toEqual({ drained: true, abandoned: 0 });
    expect(ingest.state).toBe('closed');
    expect((await f.store.countExecutions(rangeOf(b, 300))).stored).toBe(300);
    expect(await f.queues.counts()).toMatchObject({ completed: 300, active: 0, failed: 0 });
    // Closed: a job added now stays waiting.
    await f.queues.addExecutions(executions(b + 300, 1));
    await new Promise((r) => setTimeout(r, 200));
    expect((await f.queues.counts()).waiting).toBe(1);
  });

  it('close() that cannot store in time leaves the jobs unacknowledged; another worker stores them', async () => {
    const b = block();
    const down: RowSink = {
      insertExecutionRows: () =>
        Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      insertWindowRows: () => Promise.reject(new Error('down')),
    };
    const first = start({ batchSize: 1000, flushMs: 20, lockMs: 1000, stalledIntervalMs: 300 }, down);
    await f.queues.addExecutions(executions(b, 100));
    await waitFor(() => first.stats().executions.retries >= 2, 10_000, 'failing inserts');
    expect(await first.close({ timeoutMs: 100 })).toEqual({ drained: false, abandoned: 100 });
    expect(await f.queues.counts()).toMatchObject({ completed: 0, failed: 0 });
    // The second worker finds the jobs once their locks expire (as after a SIGKILL) and stores them.
    const second = start({ batchSize: 1000, flushMs: 20, lockMs: 1000, stalledIntervalMs: 300 });
    await waitFor(async () => (await f.queues.counts()).completed === 100, 20_000, 'redelivered jobs');
    expect(await f.store.countExecutions(rangeOf(b, 100))).toMatchObject({ stored: 100, countedTwice: 0 });
    expect(second.stats().executions.stored).toBe(100);
  });

  it('runs several workers on the same queues: each job is stored by one of them', async () => {
    const b = block();
    const one = start({ batchSize: 200, flushMs: 20, concurrency: 300 });
    const two = start({ batchSize: 200, flushMs: 20, concurrency: 300 });
    await Promise.all([one.ready(), two.ready()]);
    await f.queues.addExecutions(executions(b, 3000));
    await waitFor(() => one.stats().executions.jobs + two.stats().executions.jobs >= 3000, 30_000, 'all jobs');
    expect(one.stats().executions.stored).toBeGreaterThan(0);
    expect(two.stats().executions.stored).toBeGreaterThan(0);
    expect(one.stats().executions.stored + two.stats().executions.stored).toBe(3000);
    expect(await f.store.countExecutions(rangeOf(b, 3000))).toEqual({
      stored: 3000,
      rows: 3000,
      duplicateRows: 0,
      countedTwice: 0,
    });
  });

  it('close() returns within its bounds even when Redis cannot be reached', async () => {
    const options = ingestOptions({ redisUrl: 'redis://127.0.0.1:1', prefix: f.queues.prefix, statsIntervalMs: 0 });
    const ingest = startIngest({ clickhouse: f.ch.client, options, sink: f.store });
    await new Promise((r) => setTimeout(r, 300));
    expect(ingest.state).toBe('starting');
    const started = Date.now();
    expect(await ingest.close({ timeoutMs: 300 })).toEqual({ drained: true, abandoned: 0 });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ingest.state).toBe('closed');
  });
});

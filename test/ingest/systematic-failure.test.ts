/**
 * A systematic failure is not a poisoned record, with real parts: the shared Redis (a random prefix
 * per test) and a real chDB whose table is changed for real in a database of this file's own.
 *  - schema drift (a dropped column refuses every row): nothing is dead-lettered, the jobs stay in
 *    flight, /healthz says degraded with the reason, the log says it a few times, not per retry;
 *    once the column is back every record is stored exactly once, with its values;
 *  - one record ClickHouse refuses among good ones (a CHECK constraint that only it violates): only
 *    it is dead-lettered, with the reason.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { RowSink } from '../../clickhouse/index.js';
import { startHealthEndpoint, type HealthEndpoint } from '../../ingest/index.js';
import { BASE_TICK, executions, window } from '../clickhouse/helpers.js';
import { useIngestFixture, waitFor } from './helpers.js';

const DATABASE = 'drift';
const f = useIngestFixture(DATABASE);
let endpoint: HealthEndpoint | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

/** A real pino logger whose lines the test reads. */
function capturedLogger() {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** The real store, counting the insert calls that reach it. */
function counting(): RowSink & { calls: number } {
  const sink = {
    calls: 0,
    insertExecutionRows: async (rows: Parameters<RowSink['insertExecutionRows']>[0]) => {
      sink.calls++;
      await f.store.insertExecutionRows(rows);
    },
    insertWindowRows: (rows: Parameters<RowSink['insertWindowRows']>[0]) => f.store.insertWindowRows(rows),
  };
  return sink;
}

const start = (logger = pino({ level: 'silent' }), sink?: RowSink) =>
  f.start({ batchSize: 100, maxAttempts: 2 }, { logger, ...(sink ? { sink } : {}) });

const range = (from: number, count: number) => ({ from: BASE_TICK + from, to: BASE_TICK + from + count - 1 });

describe('ingest under a systematic failure', () => {
  it('holds every record while a column is missing, reports it, and stores each once after the fix', async () => {
    const { logger, lines } = capturedLogger();
    const sink = counting();
    const ingest = start(logger, sink);
    endpoint = await startHealthEndpoint({ ingest, port: 0, logger });
    await f.sql(`ALTER TABLE ${DATABASE}.executions DROP COLUMN queued_at`);
    const b = 1_000_000;
    const events = executions(b, 300).map((e, i) =>
      i % 3 === 0 ? { ...e, delayCount: 1, delayedBy: 'scheduler' } : e,
    );
    await f.queues.addExecutions(events);
    await f.queues.addWindows([window(b / 10), window(b / 10 + 1)]);

    await waitFor(() => ingest.stats().executions.retries >= 8, 20_000, 'retries under the drift');
    expect(await f.queues.deadLetter.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(await f.queues.counts()).toMatchObject({ completed: 0, failed: 0, active: 300 });
    expect(ingest.stats().executions).toMatchObject({ stored: 0, deadLettered: 0, pending: 300 });
    expect(ingest.stats().executions.failure?.kind).toBe('systematic');
    // Three inserts per batch and retry (the batch, then its two halves), never a bisection to single rows.
    expect(sink.calls).toBeLessThanOrEqual(3 * (ingest.stats().executions.retries + 3));
    // The windows table is fine: its records are stored meanwhile.
    await waitFor(async () => (await f.queues.counts(f.queues.metrics)).completed === 2, 10_000, 'windows stored');

    const health = await fetch(`${endpoint.url}/healthz`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { status: string; state: string; reasons: string[] };
    expect(body).toMatchObject({ status: 'degraded', state: 'running' });
    expect(body.reasons).toHaveLength(1);
    expect(body.reasons[0]).toMatch(
      /^executions: ClickHouse refuses every record tried \(not one bad record; schema changed\?\) since \S+Z, 300 records held and retried: INCORRECT_DATA: Unknown field found while parsing JSONEachRow format: queued_at/,
    );
    expect(ingest.health()).toEqual({ status: 'degraded', reasons: body.reasons });
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length, 'one line per failure episode and reminder, not per retry').toBeLessThan(4);

    await f.sql(
      `ALTER TABLE ${DATABASE}.executions ADD COLUMN queued_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) AFTER executed_tick`,
    );
    await waitFor(async () => (await f.queues.counts()).completed === 300, 20_000, 'every job acknowledged');
    expect(await f.store.countExecutions(range(b, 300))).toEqual({
      stored: 300,
      rows: 300,
      duplicateRows: 0,
      countedTwice: 0,
    });
    const rs = await f.ch.client.query({
      query: `SELECT countIf(delayed_by = 'scheduler') AS n FROM ${DATABASE}.executions_dedup WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}`,
      query_params: range(b, 300),
      format: 'JSONEachRow',
    });
    expect(Number((await rs.json<{ n: number }>())[0]!.n)).toBe(100);
    expect(await f.queues.deadLetter.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(ingest.health()).toEqual({ status: 'ok', reasons: [] });
    expect(await (await fetch(`${endpoint.url}/healthz`)).json()).toEqual({
      status: 'ok',
      state: 'running',
      reasons: [],
    });
    expect(lines.some((l) => l.msg === 'inserts recovered')).toBe(true);
  });

  it('dead-letters only the record ClickHouse refuses among good ones, with the reason', async () => {
    const b = 2_000_000;
    const events = executions(b, 301);
    const poisoned = events[150]!;
    await f.sql(
      `ALTER TABLE ${DATABASE}.executions ADD CONSTRAINT poisoned CHECK execution_id != toUUID('${poisoned.executionId}')`,
    );
    try {
      const ingest = start();
      await f.queues.addExecutions(events);
      await waitFor(async () => (await f.queues.counts()).completed === 301, 20_000, 'every job acknowledged');
      expect((await f.store.countExecutions(range(b, 301))).stored).toBe(300);
      const dead = (await f.queues.deadLetter.getJobs(['waiting'])).map((j) => ({ id: j.id, ...j.data }));
      expect(dead).toHaveLength(1);
      expect(dead[0]).toMatchObject({
        id: `executions-${poisoned.executionId}`,
        queue: 'executions',
        jobId: poisoned.executionId,
        data: poisoned,
      });
      expect(dead[0]!.reason).toMatch(/^VIOLATED_CONSTRAINT: Constraint `poisoned` for table drift\.executions/);
      expect(ingest.stats().executions).toMatchObject({ stored: 300, deadLettered: 1, pending: 0, failure: null });
      expect(ingest.health().status).toBe('ok');
    } finally {
      await f.sql(`ALTER TABLE ${DATABASE}.executions DROP CONSTRAINT poisoned`);
    }
  });
});

describe('the ingest health endpoint', () => {
  it('answers GET /healthz only', async () => {
    const ingest = start();
    endpoint = await startHealthEndpoint({ ingest, port: 0, logger: pino({ level: 'silent' }) });
    const post = await fetch(`${endpoint.url}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED');
    const other = await fetch(`${endpoint.url}/stats`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    await ingest.close({ timeoutMs: 2000 });
    const closed = await fetch(`${endpoint.url}/healthz`);
    expect(closed.status).toBe(503);
    expect(await closed.json()).toEqual({ status: 'stopping', state: 'closed', reasons: [] });
  });
});

/**
 * Every investigation query is bounded and isolated (issue 10, item 2), on real chDB: an unbounded
 * query ends at the time limit with QUERY_LIMIT while other sessions keep answering, result and
 * memory limits hold, a caller that goes away (abort signal, HTTP client disconnect) has its query
 * killed, a full queue answers BUSY at once, and closing the pool kills what runs. Whether a query
 * still runs is read from `system.processes` on the writer's session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import { startQueryService, type QueryService } from '../../clickhouse/query-service.js';
import { checkThreadPool, openReadOnlyPool, type ReadOnlyPool } from '../../clickhouse/read-only-pool.js';
import {
  QueryBusyError,
  QueryCancelledError,
  QueryLimitError,
  ReadOnlyClosedError,
  readOnlyOptions,
} from '../../clickhouse/read-only.js';
import { ConfigError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';

const UNBOUNDED = 'SELECT count() FROM system.numbers';
const LIMIT_MS = 1500;
const dataPath = mkdtempSync(join(tmpdir(), 'read-only-pool-'));
const target = { kind: 'embedded' as const, dataPath };
let writer: ClickHouseClient;
let pool: ReadOnlyPool;
let service: QueryService;

beforeAll(async () => {
  writer = createClickHouse(target);
  pool = await openReadOnlyPool({
    target,
    options: readOnlyOptions({
      maxExecutionMs: LIMIT_MS,
      maxResultRows: 1000,
      maxMemoryBytes: 64 * 1024 * 1024,
      sessions: 2,
      queueLength: 1,
    }),
    logger: silentLogger,
  });
  service = await startQueryService({ queries: pool, port: 0, logger: silentLogger });
});
afterAll(async () => {
  await service.close();
  await pool.close();
  await writer.close();
  rmSync(dataPath, { recursive: true, force: true });
});

/** Read-only queries the engine is running now (their marker is first in their text). */
async function runningReadOnly(): Promise<number> {
  const rs = await writer.query({
    query: "SELECT count() AS n FROM system.processes WHERE startsWith(query, '/* ro:')",
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]!.n);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - started;
}

/** The engine drops a cancelled query from its process list a moment after the caller hears of it. */
const noneRunningWithin = (ms: number) => waitFor(async () => (await runningReadOnly()) === 0, ms);

const timed = async <T>(p: Promise<T>): Promise<[T, number]> => {
  const started = performance.now();
  const value = await p;
  return [value, performance.now() - started];
};

describe('bounded', () => {
  it('ends an unbounded query at the time limit with QUERY_LIMIT, while SELECT 1 answers at once elsewhere', async () => {
    const started = performance.now();
    const unbounded = pool.query(UNBOUNDED).catch((e: unknown) => e);
    await waitFor(async () => (await runningReadOnly()) === 1, 5000);
    const [alongside, alongsideMs] = await timed(pool.query('SELECT 1 AS one'));
    expect(alongside.rows).toEqual([[1]]);
    expect(alongsideMs).toBeLessThan(1000);
    const [, writerMs] = await timed(writer.query({ query: 'SELECT 1', format: 'JSON' }).then((r) => r.json()));
    expect(writerMs).toBeLessThan(1000);
    const err = await unbounded;
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(QueryLimitError);
    expect((err as QueryLimitError).limit).toBe('max_execution_time');
    expect((err as QueryLimitError).message).toMatch(/--sql-max-execution-ms/);
    expect(elapsed).toBeGreaterThanOrEqual(LIMIT_MS);
    expect(elapsed).toBeLessThan(LIMIT_MS + 2000);
    await noneRunningWithin(1000);
  });

  it('ends a result over max_result_rows and a query over max_memory_usage with QUERY_LIMIT', async () => {
    const rows = await pool.query('SELECT number FROM numbers(5000)').catch((e: unknown) => e);
    expect(rows).toBeInstanceOf(QueryLimitError);
    expect((rows as QueryLimitError).limit).toMatch(/max_result_rows/);
    const memory = await pool.query('SELECT groupArray(number) FROM numbers(100000000)').catch((e: unknown) => e);
    expect(memory).toBeInstanceOf(QueryLimitError);
    expect((memory as QueryLimitError).limit).toBe('max_memory_usage');
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([[2]]);
  });

  it('answers 422 QUERY_LIMIT on the endpoint, naming the setting and the flag', async () => {
    const res = await fetch(`${service.url}/query`, { method: 'POST', body: JSON.stringify({ sql: UNBOUNDED }) });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: { code: string; limit: string; flag: string; message: string } };
    expect(body.error).toMatchObject({
      code: 'QUERY_LIMIT',
      limit: 'max_execution_time',
      flag: '--sql-max-execution-ms',
    });
    expect(body.error.message).toMatch(/Timeout exceeded/);
  });
});

describe('isolated', () => {
  it('kills the query of a caller that aborts, and the session serves the next query', async () => {
    const abort = new AbortController();
    const query = pool.query(UNBOUNDED, { signal: abort.signal }).catch((e: unknown) => e);
    await waitFor(async () => (await runningReadOnly()) === 1, 5000);
    abort.abort();
    const [err, ms] = await timed(query);
    expect(err).toBeInstanceOf(QueryCancelledError);
    expect(ms).toBeLessThan(1000);
    await noneRunningWithin(1000);
    expect((await pool.query('SELECT 3 AS three')).rows).toEqual([[3]]);
  });

  it('kills the query of an HTTP client that disconnects', async () => {
    const abort = new AbortController();
    const request = fetch(`${service.url}/query`, {
      method: 'POST',
      body: JSON.stringify({ sql: UNBOUNDED }),
      signal: abort.signal,
    }).catch((e: unknown) => e);
    await waitFor(async () => (await runningReadOnly()) === 1, 5000);
    abort.abort();
    await request;
    const ms = await waitFor(async () => (await runningReadOnly()) === 0, 1000);
    expect(ms).toBeLessThan(1000);
  });

  it('answers BUSY at once when every session is busy and the queue is full, 503 on the endpoint', async () => {
    const aborts = [new AbortController(), new AbortController(), new AbortController()];
    const held = aborts.map((a) => pool.query(UNBOUNDED, { signal: a.signal }).catch((e: unknown) => e));
    await waitFor(async () => (await runningReadOnly()) === 2, 5000); // two run, one waits
    const [busy, ms] = await timed(pool.query('SELECT 1').catch((e: unknown) => e));
    expect(busy).toBeInstanceOf(QueryBusyError);
    expect(ms).toBeLessThan(200);
    const res = await fetch(`${service.url}/query`, { method: 'POST', body: JSON.stringify({ sql: 'SELECT 1' }) });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BUSY');
    for (const a of aborts) a.abort();
    for (const err of await Promise.all(held)) expect(err).toBeInstanceOf(QueryCancelledError);
    await noneRunningWithin(1000);
  });

  it('kills running queries and refuses waiting ones when closed', async () => {
    const other = await openReadOnlyPool({
      target,
      options: readOnlyOptions({ sessions: 1, queueLength: 1 }),
      logger: silentLogger,
    });
    const running = other.query(UNBOUNDED).catch((e: unknown) => e);
    await waitFor(async () => (await runningReadOnly()) === 1, 5000);
    const waiting = other.query('SELECT 1').catch((e: unknown) => e);
    const [, ms] = await timed(other.close());
    expect(ms).toBeLessThan(2000);
    expect(await running).toBeInstanceOf(ReadOnlyClosedError);
    expect(await waiting).toBeInstanceOf(ReadOnlyClosedError);
    await noneRunningWithin(1000);
    await expect(other.query('SELECT 1')).rejects.toBeInstanceOf(ReadOnlyClosedError);
  });
});

describe('the worker threads chDB shares with file writes', () => {
  it('refuses more sessions than leave two of the libuv threads free, naming the flag and the variable', () => {
    expect(() => checkThreadPool(2, {})).not.toThrow();
    expect(() => checkThreadPool(3, {})).toThrow(ConfigError);
    expect(() => checkThreadPool(3, {})).toThrow(/--sql-sessions.*UV_THREADPOOL_SIZE=5/);
    expect(() => checkThreadPool(6, { UV_THREADPOOL_SIZE: '8' })).not.toThrow();
  });
});

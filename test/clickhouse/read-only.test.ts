/**
 * The read-only path's everyday behaviour on real chDB: writes and setting changes are refused and
 * change nothing, reads answer with columns and rows, the endpoint answers errors as JSON, and a
 * session on which a query failed is replaced (chDB hands a failed query's partial output to the
 * session's next query). The hostile corpus is in read-only-hostile.test.ts, the limits in
 * read-only-pool.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import { migrate } from '../../clickhouse/migrate.js';
import { openReadOnly } from '../../clickhouse/query-client.js';
import { startHttpInterface, type HttpInterface } from '../../clickhouse/http-interface.js';
import { startQueryService, type QueryService } from '../../clickhouse/query-service.js';
import { openReadOnlyPool, type ReadOnlyPool } from '../../clickhouse/read-only-pool.js';
import { QueryFailedError, readOnlyOptions, ReadOnlyViolationError } from '../../clickhouse/read-only.js';
import { silentLogger } from '../../common/logger.js';

const dataPath = mkdtempSync(join(tmpdir(), 'read-only-'));
let writer: ClickHouseClient;
let reader: ReadOnlyPool;
let service: QueryService;
let clickhouseHttp: HttpInterface;

beforeAll(async () => {
  writer = createClickHouse({ kind: 'embedded', dataPath });
  await migrate(writer, { database: 'spike' });
  // One session, so that a query after a failure runs on the session that failed (or its replacement).
  reader = await openReadOnlyPool({
    target: { kind: 'embedded', dataPath },
    options: readOnlyOptions({ sessions: 1 }),
    logger: silentLogger,
  });
  service = await startQueryService({ queries: reader, port: 0, logger: silentLogger });
  clickhouseHttp = await startHttpInterface({ queries: reader, port: 0, logger: silentLogger });
});
afterAll(async () => {
  await clickhouseHttp.close();
  await service.close();
  await reader.close();
  await writer.close();
  rmSync(dataPath, { recursive: true, force: true });
});

const count = async () => {
  const rs = await writer.query({ query: 'SELECT count() AS n FROM spike.windows', format: 'JSONEachRow' });
  return Number((await rs.json<{ n: string }>())[0]!.n);
};

describe('the read-only SQL path', () => {
  it.each([
    'INSERT INTO spike.windows (window_id) VALUES (1)',
    'DROP TABLE spike.windows',
    'ALTER TABLE spike.windows DELETE WHERE 1',
    'CREATE TABLE x (a Int8) ENGINE = Memory',
    'SET readonly = 0',
    'TRUNCATE TABLE spike.windows',
    '  -- a comment\n  OPTIMIZE TABLE spike.windows',
    '',
    'SELECT 1 SETTINGS readonly = 0',
    "SELECT 1 INTO OUTFILE '/tmp/x.csv'",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "DESC url('http://127.0.0.1:1/x', 'CSV')",
    "SELECT * FROM format(CSV, '1')",
  ])('refuses %j before it runs, naming why', async (sql) => {
    const err = await reader.query(sql).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadOnlyViolationError);
    expect((err as Error).message.length).toBeGreaterThan(15);
    expect(await count()).toBe(0);
  });

  it.each(['SELECT 1; DROP TABLE spike.windows', "SELECT ';' AS a; SELECT 2", 'SELEC 1'])(
    'answers %j with ClickHouse’s syntax error (one statement at a time), changing nothing',
    async (sql) => {
      await expect(reader.query(sql)).rejects.toBeInstanceOf(QueryFailedError);
      expect(await count()).toBe(0);
    },
  );

  it('accepts one statement with a trailing semicolon, semicolons in strings and comments', async () => {
    expect((await reader.query("SELECT ';' AS a -- ; not a statement\n;  ")).rows).toEqual([[';']]);
    expect((await reader.query('/* ; */ SELECT 2 AS b;')).rows).toEqual([[2]]);
  });

  it('answers reads with columns and rows, and leaves the writer able to write', async () => {
    const r = await reader.query('SELECT number AS n, toString(number) AS s FROM numbers(3)');
    expect(r.columns).toEqual([
      { name: 'n', type: 'UInt64' },
      { name: 's', type: 'String' },
    ]);
    expect(r.rows).toEqual([
      [0, '0'],
      [1, '1'],
      [2, '2'],
    ]);
    // chDB keeps per-query settings on the session, which is why the read-only path has its own sessions.
    await writer.command({
      query: 'INSERT INTO spike.windows (window_id, first_tick, last_tick, samples) VALUES (1, 0, 9, 10)',
    });
    expect(await count()).toBe(1);
  });

  it('runs with readonly = 1 set after the limits, so the limits hold', async () => {
    const r = await reader.query("SELECT getSetting('readonly'), getSetting('max_execution_time')");
    expect(r.rows).toEqual([[1, 30]]);
  });

  it('replaces a session after a failure: the next answer is its own', async () => {
    // The error comes after the result's header was written: chDB would hand that header to the next query.
    await expect(reader.query('SELECT throwIf(number = 3) AS t FROM numbers(10)')).rejects.toBeInstanceOf(
      QueryFailedError,
    );
    expect(await reader.query('SELECT 7 AS seven')).toEqual({
      columns: [{ name: 'seven', type: 'UInt8' }],
      rows: [[7]],
    });
  });

  it('serves the same to tools through the ClickHouse interface, and POST /query with errors as JSON', async () => {
    const q = openReadOnly({ target: { kind: 'embedded', dataPath }, queryUrl: clickhouseHttp.url });
    expect((await q.query('SELECT count() AS n FROM spike.windows')).rows).toEqual([[1]]);
    await expect(q.query('DROP TABLE spike.windows')).rejects.toBeInstanceOf(ReadOnlyViolationError);
    await expect(q.query('SELECT nope FROM spike.windows')).rejects.toBeInstanceOf(QueryFailedError);
    await q.close();
    const raw = await fetch(`${service.url}/query`, { method: 'POST', body: '{"sql": 5}' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { field: string } }).error.field).toBe('sql');
    expect((await fetch(`${service.url}/query`)).status).toBe(405);
  });
});

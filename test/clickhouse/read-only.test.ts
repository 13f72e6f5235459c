import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import { migrate } from '../../clickhouse/migrate.js';
import { startQueryService, type QueryService } from '../../clickhouse/query-service.js';
import { openReadOnly } from '../../clickhouse/query-client.js';
import { checkReadOnly, queryReadOnly, QueryFailedError, ReadOnlyViolationError } from '../../clickhouse/read-only.js';
import { silentLogger } from '../../common/logger.js';

const dataPath = mkdtempSync(join(tmpdir(), 'read-only-'));
let writer: ClickHouseClient;
let reader: ClickHouseClient;
let service: QueryService;

beforeAll(async () => {
  writer = createClickHouse({ kind: 'embedded', dataPath });
  reader = createClickHouse({ kind: 'embedded', dataPath });
  await migrate(writer, { database: 'spike' });
  service = await startQueryService({ client: reader, port: 0, logger: silentLogger });
});
afterAll(async () => {
  await service.close();
  await reader.close();
  await writer.close();
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
    'SELECT 1; DROP TABLE spike.windows',
    "SELECT ';' AS a; SELECT 2",
    // readonly = 1 does not stop these: INTO OUTFILE writes a file, file() reads one.
    "SELECT 1 INTO OUTFILE '/tmp/x.csv'",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "DESC url('http://127.0.0.1:1/x', 'CSV')",
  ])('refuses %j before it reaches ClickHouse', (sql) => {
    expect(() => checkReadOnly(sql)).toThrow(ReadOnlyViolationError);
  });

  it.each(["SELECT * FROM format(CSV, '1')", 'SELECT 1 SETTINGS readonly = 0'])(
    'lets the engine refuse %j that passes the keyword check',
    async (sql) => {
      await expect(queryReadOnly(reader, sql)).rejects.toBeInstanceOf(QueryFailedError);
      expect(await count()).toBe(0);
    },
  );

  it('accepts one statement with a trailing semicolon, semicolons in strings and comments', async () => {
    expect((await queryReadOnly(reader, "SELECT ';' AS a -- ; not a statement\n;  ")).rows).toEqual([[';']]);
    expect((await queryReadOnly(reader, '/* ; */ SELECT 2 AS b;')).rows).toEqual([[2]]);
  });

  it('answers reads with columns and rows, and leaves the writer able to write', async () => {
    const r = await queryReadOnly(reader, 'SELECT number AS n, toString(number) AS s FROM numbers(3)');
    expect(r.columns).toEqual([
      { name: 'n', type: 'UInt64' },
      { name: 's', type: 'String' },
    ]);
    expect(r.rows).toEqual([
      [0, '0'],
      [1, '1'],
      [2, '2'],
    ]);
    // chDB keeps per-query settings on the session, which is why the read-only path has its own client.
    await writer.command({
      query: 'INSERT INTO spike.windows (window_id, first_tick, last_tick, samples) VALUES (1, 0, 9, 10)',
    });
    expect(await count()).toBe(1);
  });

  it('serves the same through the HTTP endpoint, with errors as JSON', async () => {
    const q = openReadOnly({ target: { kind: 'embedded', dataPath }, queryUrl: service.url });
    expect((await q.query('SELECT count() AS n FROM spike.windows')).rows).toEqual([[1]]);
    await expect(q.query('DROP TABLE spike.windows')).rejects.toBeInstanceOf(ReadOnlyViolationError);
    await expect(q.query('SELECT nope FROM spike.windows')).rejects.toBeInstanceOf(QueryFailedError);
    const raw = await fetch(`${service.url}/query`, { method: 'POST', body: '{"sql": 5}' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: { field: string } }).error.field).toBe('sql');
    expect((await fetch(`${service.url}/query`)).status).toBe(405);
  });
});

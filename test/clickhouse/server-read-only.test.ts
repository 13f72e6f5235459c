/**
 * The read-only path in server mode (`CLICKHOUSE_URL`), against ClickHouse's HTTP interface served by
 * the gateway over chDB in this process: the same guard (its statements sent with `readonly = 1` on
 * each request), the limits as per-request settings, and `npm run sql`'s client (openReadOnly) on it.
 * The gateway does not stop a query whose HTTP client went away (a ClickHouse server does, with
 * `cancel_http_readonly_queries_on_client_close`), so cancellation is tested on the embedded pool.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseGateway, type ClickHouseGateway } from '../../clickhouse/http-gateway.js';
import { openReadOnly } from '../../clickhouse/query-client.js';
import {
  QueryLimitError,
  readOnlyOptions,
  ReadOnlyViolationError,
  type ReadOnlyQueries,
} from '../../clickhouse/read-only.js';
import { openServerReadOnly } from '../../clickhouse/server-read-only.js';
import { silentLogger } from '../../common/logger.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'server-read-only-'));
const token = randomUUID();
const secret = path.join(work, 'secret.txt');
fs.writeFileSync(secret, token);
let gateway: ClickHouseGateway;
let queries: ReadOnlyQueries;
const server = () => ({
  kind: 'server' as const,
  url: gateway.url,
  user: 'default',
  password: '',
  requestTimeoutMs: 30_000,
});

beforeAll(async () => {
  gateway = await startClickHouseGateway({
    dataPath: path.join(work, 'clickhouse'),
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: 1 << 20,
    logger: silentLogger,
  });
  queries = openServerReadOnly({ target: server(), options: readOnlyOptions({ maxExecutionMs: 1000 }) });
});
afterAll(async () => {
  await queries?.close();
  await gateway?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the read-only path on a ClickHouse server', () => {
  it('reads', async () => {
    expect((await queries.query('SELECT number AS n FROM numbers(2)')).rows).toEqual([[0], [1]]);
  });

  it.each([
    `SELECT $$--$$ AS a, file('${secret}', 'RawBLOB') AS b`,
    `SELECT $$'$$ AS a INTO OUTFILE $$${path.join(work, 'x')}$$ -- '`,
    `DESCRIBE url('http://127.0.0.1:1/x', 'CSV')`,
    'SELECT 1 SETTINGS max_execution_time = 0',
    'DROP TABLE system.one',
  ])('refuses %j with the same guard', async (sql) => {
    const err = await queries.query(sql).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadOnlyViolationError);
    expect(String((err as Error).message)).not.toContain(token);
    expect(fs.existsSync(path.join(work, 'x'))).toBe(false);
  });

  it('ends an unbounded query at the time limit, the limit sent with the request', async () => {
    const started = performance.now();
    const err = await queries.query('SELECT count() FROM system.numbers').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryLimitError);
    expect((err as QueryLimitError).limit).toBe('max_execution_time');
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('serves npm run sql’s client with the limits it was given', async () => {
    const sql = openReadOnly({ target: server(), queryUrl: 'http://unused', options: { maxResultRows: 10 } });
    try {
      expect((await sql.query('SELECT 1 AS one')).rows).toEqual([[1]]);
      const err = await sql.query('SELECT number FROM numbers(100)').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QueryLimitError);
      expect((err as QueryLimitError).flag).toMatch(/--sql-max-result-rows/);
    } finally {
      await sql.close();
    }
  });
});

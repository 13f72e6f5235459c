/**
 * The ClickHouse HTTP gateway over chDB, driven the way the components drive a ClickHouse server:
 * `@clickhouse/client` with a `url` (the product's own server-mode client from createClickHouse),
 * against a gateway in this process on a temporary data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ClickHouseError, createClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import {
  ClickHouseDataLockedError,
  ClickHouseStore,
  createClickHouse,
  loadMigrations,
  migrate,
  MIGRATIONS_DIR,
  type ClickHouseClient,
} from '../../clickhouse/index.js';
import { classifyFailure } from '../../clickhouse/failures.js';
import {
  FAULT_PATH,
  GatewayRequestError,
  startClickHouseGateway,
  translateRequest,
  type ClickHouseGateway,
} from '../../clickhouse/http-gateway.js';
import { BASE_TICK, executions, window } from './helpers.js';

const MAX_BODY = 256 * 1024;
let dataPath: string;
let gateway: ClickHouseGateway;
let client: ClickHouseClient;

beforeAll(async () => {
  dataPath = mkdtempSync(join(tmpdir(), 'spike-gateway-test-'));
  gateway = await startClickHouseGateway({
    dataPath,
    port: 0,
    host: '127.0.0.1',
    maxBodyBytes: MAX_BODY,
    logger: silentLogger,
  });
  client = createClickHouse({
    kind: 'server',
    url: gateway.url,
    user: 'default',
    password: '',
    requestTimeoutMs: 30_000,
  });
});

afterAll(async () => {
  await client?.close();
  await gateway?.close();
  if (dataPath) rmSync(dataPath, { recursive: true, force: true });
});

async function rows<T>(query: string, query_params?: Record<string, unknown>): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow', ...(query_params ? { query_params } : {}) })).json<T>();
}

describe('ClickHouse HTTP gateway over chDB', () => {
  it('answers /ping as ClickHouse does, and the client pings through it', async () => {
    const res = await fetch(`${gateway.url}/ping`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Ok.\n');
    expect(await client.ping()).toEqual({ success: true });
  });

  it('runs the product migrations through a client with a url; again is a no-op', async () => {
    const expected = loadMigrations(MIGRATIONS_DIR, 'spike').map((m) => m.version);
    const first = await migrate(client, { database: 'spike' });
    expect(first.applied).toEqual(expected);
    const second = await migrate(client, { database: 'spike' });
    expect(second.applied).toEqual([]);
    expect(second.current).toEqual(expected);
    const tables = await rows<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = 'spike' ORDER BY name`,
    );
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['executions', 'windows', 'estimates']));
  });

  it('inserts rows sent as JSONEachRow in the body and reads them back, counted once', async () => {
    const store = new ClickHouseStore(client, { database: 'spike' });
    const events = executions(0, 250);
    await store.insertExecutions(events);
    await store.insertWindows([window(0), window(1)]);
    // The same batch again (an at-least-once re-delivery): stored twice, counted once.
    await store.insertExecutions(events.slice(0, 10));
    const counts = await store.countExecutions({ from: BASE_TICK, to: BASE_TICK + 249 });
    expect(counts.stored).toBe(250);
    expect(counts.countedTwice).toBe(0);
    expect((await store.countWindows({ from: BASE_TICK, to: BASE_TICK + 19 })).stored).toBe(2);
    const [first] = await rows<{ execution_id: string; query_id: string }>(
      'SELECT toString(execution_id) AS execution_id, toString(query_id) AS query_id FROM spike.executions_dedup WHERE executed_tick = {tick:Int64}',
      { tick: BASE_TICK },
    );
    expect(first).toEqual({ execution_id: events[0]!.executionId, query_id: events[0]!.queryId });
  });

  it('binds query parameters with the value text a server gets (quotes, backslashes, tabs)', async () => {
    const text = "it's a \\ back\tslash; DROP TABLE x -- ";
    const [r] = await rows<{ s: string; n: number; a: number[] }>(
      'SELECT {s:String} AS s, {n:UInt64} + 1 AS n, {a:Array(UInt8)} AS a',
      { s: text, n: 41, a: [1, 2] },
    );
    expect(r).toEqual({ s: text, n: 42, a: [1, 2] });
  });

  it('keeps each request apart: a read-only request does not make later writes read-only', async () => {
    await client.command({
      query: 'CREATE TABLE IF NOT EXISTS spike.gw_probe (k UInt8) ENGINE = MergeTree ORDER BY k',
    });
    const refused = await client
      .command({ query: 'INSERT INTO spike.gw_probe VALUES (1)', clickhouse_settings: { readonly: '1' } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ClickHouseError);
    expect((refused as ClickHouseError).type).toBe('READONLY');
    await client.command({ query: 'INSERT INTO spike.gw_probe VALUES (2)' });
    expect(await rows<{ k: number }>('SELECT k FROM spike.gw_probe')).toEqual([{ k: 2 }]);
  });

  it('honours the database parameter of a client configured with one', async () => {
    const scoped = createClient({ url: gateway.url, database: 'spike' });
    try {
      const rs = await scoped.query({
        query: 'SELECT currentDatabase() AS db, count() AS n FROM gw_probe',
        format: 'JSONEachRow',
      });
      expect(await rs.json()).toEqual([{ db: 'spike', n: 1 }]);
    } finally {
      await scoped.close();
    }
  });

  it('bad SQL: the client raises a ClickHouseError with the code and type a server sends', async () => {
    const err = await client.query({ query: 'SELEC 1', format: 'JSONEachRow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClickHouseError);
    expect((err as ClickHouseError).code).toBe('62');
    expect((err as ClickHouseError).type).toBe('SYNTAX_ERROR');
    const missing = await client
      .query({ query: 'SELECT * FROM spike.no_such_table', format: 'JSON' })
      .catch((e: unknown) => e);
    expect((missing as ClickHouseError).type).toBe('UNKNOWN_TABLE');
    const raw = await fetch(`${gateway.url}/`, { method: 'POST', body: 'SELEC 1' });
    expect(raw.status).toBe(400);
    expect(raw.headers.get('x-clickhouse-exception-code')).toBe('62');
    expect(await raw.text()).toMatch(/^Code: 62\. DB::Exception: .*\(SYNTAX_ERROR\)/s);
  });

  it('refuses a body over the limit with 413, before and after decompression, and stays up', async () => {
    const big = 'x'.repeat(MAX_BODY + 1);
    const res = await fetch(`${gateway.url}/?query=${encodeURIComponent('INSERT INTO spike.gw_probe FORMAT TSV')}`, {
      method: 'POST',
      body: big,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain('larger than');
    const zipped = await fetch(`${gateway.url}/`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'gzip' },
      body: gzipSync(Buffer.from(`SELECT '${big}'`)),
    });
    expect(zipped.status).toBe(413);
    const small = await fetch(`${gateway.url}/`, {
      method: 'POST',
      headers: { 'Content-Encoding': 'gzip' },
      body: gzipSync(Buffer.from('SELECT 40 + 2')),
    });
    expect(await small.text()).toBe('42\n');
    expect(await rows<{ k: number }>('SELECT k FROM spike.gw_probe')).toEqual([{ k: 2 }]);
  });

  it('refuses what it does not serve, with ClickHouse-style errors', async () => {
    const session = await fetch(`${gateway.url}/?session_id=abc`, { method: 'POST', body: 'SELECT 1' });
    expect(session.status).toBe(400);
    expect(await session.text()).toContain('NOT_IMPLEMENTED');
    expect((await fetch(`${gateway.url}/play`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/`, { method: 'PUT', body: 'SELECT 1' })).status).toBe(405);
    expect((await fetch(`${gateway.url}/`, { method: 'POST', body: '  ' })).status).toBe(400);
    // A GET is read-only, as on a server.
    const get = await fetch(`${gateway.url}/?query=${encodeURIComponent('INSERT INTO spike.gw_probe VALUES (3)')}`);
    expect(get.status).toBe(403);
  });

  it('a second owner of the data directory is refused (chDB: one process per directory)', async () => {
    // In this process the engine is already bound to the directory, so ask a child process.
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'clickhouse/gateway-main.ts', '--gateway-port', '0', '--clickhouse-data', dataPath],
      {
        cwd: join(import.meta.dirname, '../..'),
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, LOG_LEVEL: 'info' },
      },
    );
    expect(child.status).toBe(1);
    expect(child.stderr).toContain(new ClickHouseDataLockedError(dataPath, null).name);
  });
});

describe('the insert-failure switch (chaos run only)', () => {
  it('is not served unless enabled', async () => {
    const res = await fetch(`${gateway.url}${FAULT_PATH}?ms=1000`, { method: 'POST' });
    expect(res.status).toBe(404);
  });

  it('fails INSERTs with a transient ClickHouse error while on (refused, or stored with the reply lost); reads go on', async () => {
    // A second gateway on the same directory in this process (the engine is per process).
    const faulty = await startClickHouseGateway({
      dataPath,
      port: 0,
      host: '127.0.0.1',
      maxBodyBytes: MAX_BODY,
      logger: silentLogger,
      faultControl: true,
    });
    const c = createClickHouse({
      kind: 'server',
      url: faulty.url,
      user: 'default',
      password: '',
      requestTimeoutMs: 30_000,
    });
    const store = new ClickHouseStore(c, { database: 'spike' });
    const range = { from: BASE_TICK + 1000, to: BASE_TICK + 1099 };
    const events = executions(1000, 100);
    try {
      expect((await fetch(`${faulty.url}${FAULT_PATH}?ms=-1`, { method: 'POST' })).status).toBe(400);
      expect((await fetch(`${faulty.url}${FAULT_PATH}?ms=5000&mode=refuse`, { method: 'POST' })).status).toBe(200);
      const refused = await store.insertExecutions(events).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ClickHouseError);
      expect((refused as ClickHouseError).type).toBe('TOO_MANY_PARTS');
      expect(classifyFailure(refused)).toBe('transient');
      expect((await store.countExecutions(range)).stored).toBe(0);

      await fetch(`${faulty.url}${FAULT_PATH}?ms=5000&mode=lost-reply`, { method: 'POST' });
      await expect(store.insertExecutions(events.slice(0, 40))).rejects.toBeInstanceOf(ClickHouseError);
      expect((await store.countExecutions(range)).stored).toBe(40);

      await fetch(`${faulty.url}${FAULT_PATH}?ms=0`, { method: 'POST' });
      await store.insertExecutions(events);
      const counts = await store.countExecutions(range);
      expect(counts.stored).toBe(100);
      expect(counts.countedTwice).toBe(0);
      expect(faulty.stats().insertsFailed).toBe(2);
    } finally {
      await c.close();
      await faulty.close();
    }
  });
});

describe('translateRequest', () => {
  const t = (query: string, method = 'POST', body = '') => translateRequest(new URLSearchParams(query), body, method);

  it('puts settings and parameters in front of the query, readonly last, and appends the body', () => {
    const r = t(
      'query=INSERT%20INTO%20t%20FORMAT%20JSONEachRow&readonly=1&async_insert=0&param_x=a%27b&wait_end_of_query=1',
      'POST',
      '{"a":1}',
    );
    expect(r.sql).toBe(
      "SET async_insert = '0'; SET param_x = 'a\\'b'; SET readonly = '1'; INSERT INTO t FORMAT JSONEachRow\n{\"a\":1}",
    );
    expect(r.format).toBe('TabSeparated');
  });

  it('GET is read-only; database becomes USE; default_format is the output format', () => {
    const r = t('query=SELECT%201&database=spike&default_format=JSONEachRow', 'GET');
    expect(r.sql).toBe("USE `spike`; SET readonly = '2'; SELECT 1");
    expect(r.format).toBe('JSONEachRow');
  });

  it('refuses empty queries, sessions and bad setting names', () => {
    expect(() => t('', 'POST', ' ')).toThrow(GatewayRequestError);
    expect(() => t('session_id=1', 'POST', 'SELECT 1')).toThrow(/session/);
    expect(() => t('bad-name=1', 'POST', 'SELECT 1')).toThrow(/Unknown setting/);
  });
});

/**
 * The read-only ClickHouse HTTP interface of a running `npm start` system (chDB in a temporary
 * directory, the shared Redis under a fresh prefix), as its users' tools meet it: `@clickhouse/client`
 * with `url` (ping, formats, query parameters, settings), plain HTTP as curl sends it, what DBeaver
 * and Grafana ask at connect, and writes of every kind refused with ClickHouse's READONLY error while
 * the data stays as it was.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ClickHouseError, ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { startEmbedded, type EmbeddedSystem } from '../../system/embedded.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { embeddedTestEnv } from './helpers/embedded-env.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

const dir = mkdtempSync(join(tmpdir(), 'ch-interface-'));
const prefix = `test-ch-interface-${Date.now()}`;
let system: EmbeddedSystem;
let client: ClickHouseClient;
let url: string;

beforeAll(async () => {
  const settings = loadEmbeddedSettings({
    env: embeddedTestEnv(dir, prefix, {
      SIM_SEED: 'ch-interface',
      ANALYSIS_INTERVAL_MS: '3000',
      ANALYSIS_SETTLE_MS: '500',
    }),
  });
  system = await startEmbedded(compileEmbeddedOptions(settings, REDIS_URL), silentLogger);
  url = system.clickhouseHttp!.url;
  client = createClient({ url, request_timeout: 20_000, log: { level: ClickHouseLogLevel.OFF } });
  // Executions and windows stored, and a first set of estimates.
  await waitFor(
    async () => {
      const rs = await client.query({
        query: 'SELECT (SELECT count() FROM spike.executions) > 0 AND (SELECT count() FROM spike.windows) > 0',
        format: 'JSONCompactEachRow',
      });
      const rows = await rs.json<[number]>();
      return rows[0]?.[0] === 1;
    },
    20_000,
    'stored executions and windows',
  );
}, 60_000);

afterAll(async () => {
  await client?.close();
  await system?.close();
  await removePrefixAndQuit(new Redis(REDIS_URL), prefix);
  rmSync(dir, { recursive: true, force: true });
});

const get = (query: string, params: Record<string, string> = {}) =>
  fetch(`${url}/?${new URLSearchParams({ query, ...params }).toString()}`);

describe('the ClickHouse HTTP interface of npm start, with @clickhouse/client', () => {
  it('answers ping and SELECT 1, and sees the product tables', async () => {
    expect((await client.ping()).success).toBe(true);
    const one = await (await client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' })).json();
    expect(one).toEqual([{ one: 1 }]);
    const rs = await client.query({ query: 'SHOW TABLES FROM spike', format: 'JSONEachRow' });
    const tables = (await rs.json<{ name: string }>()).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['executions', 'windows', 'estimates']));
  });

  it('serves the formats clients ask for: JSONEachRow, JSON with its meta, TabSeparated, CSVWithNames', async () => {
    const rows = await (
      await client.query({ query: 'SELECT count() AS n FROM spike.executions', format: 'JSONEachRow' })
    ).json<{ n: string }>();
    expect(Number(rows[0]!.n)).toBeGreaterThan(0);
    const json = await (await client.query({ query: 'SELECT 1 AS a, 2 AS b', format: 'JSON' })).json<{ a: number }>();
    expect(json.meta).toEqual([
      { name: 'a', type: 'UInt8' },
      { name: 'b', type: 'UInt8' },
    ]);
    expect(json.data).toEqual([{ a: 1, b: 2 }]);
    const tsv = await (await client.query({ query: 'SELECT 1, 2', format: 'TabSeparated' })).text();
    expect(tsv).toBe('1\t2\n');
    const csv = await (await client.query({ query: "SELECT 'x' AS s", format: 'CSVWithNames' })).text();
    expect(csv).toBe('"s"\n"x"\n');
  });

  it('binds query parameters and honours output settings and tighter limits', async () => {
    const rs = await client.query({
      query: 'SELECT {n:UInt32} + 1 AS n, {s:String} AS s, toUInt64(3) AS big',
      format: 'JSONEachRow',
      query_params: { n: 41, s: "it's" },
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0, max_execution_time: 5 },
    });
    expect(await rs.json()).toEqual([{ n: 42, s: "it's", big: 3 }]);
    // A tighter result limit applies (with break, the way DBeaver asks for its first rows).
    const first = await client.query({
      query: 'SELECT number FROM system.numbers LIMIT 100000',
      format: 'JSONCompactEachRow',
      clickhouse_settings: { max_result_rows: '10', result_overflow_mode: 'break', max_block_size: '10' },
    });
    expect((await first.json()).length).toBeLessThanOrEqual(20);
  });

  it('reads spike.executions, spike.windows and the estimates with query parameters', async () => {
    const rs = await client.query({
      query: `SELECT (SELECT count() FROM spike.executions WHERE executed_tick >= {from:Int64}) AS executions,
                     (SELECT count() FROM spike.windows) AS windows,
                     (SELECT count() FROM spike.estimates) >= 0 AS estimates_readable`,
      format: 'JSONEachRow',
      query_params: { from: 0 },
    });
    const [row] = await rs.json<{ executions: string; windows: string; estimates_readable: number }>();
    expect(Number(row!.executions)).toBeGreaterThan(0);
    expect(Number(row!.windows)).toBeGreaterThan(0);
    expect(row!.estimates_readable).toBe(1);
  });

  it('refuses writes with ClickHouse READONLY errors, and the data stays as it was', async () => {
    const before = await (
      await client.query({
        query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String}',
        format: 'JSONEachRow',
        query_params: { db: 'spike' },
      })
    ).json<{ n: string }>();
    const writes = [
      'INSERT INTO spike.windows SELECT * FROM spike.windows LIMIT 1',
      'CREATE TABLE spike.hostile (x UInt8) ENGINE = Memory',
      'DROP TABLE spike.executions',
      'TRUNCATE TABLE spike.windows',
      'ALTER TABLE spike.executions DELETE WHERE 1',
      'SET readonly = 0',
      "SELECT * FROM url('http://127.0.0.1:1/', CSV, 'x String')",
      "SELECT 1 INTO OUTFILE '/tmp/never.csv'",
      'SELECT 1 SETTINGS readonly = 0',
    ];
    for (const query of writes) {
      const err = await client.command({ query }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, query).toBeInstanceOf(ClickHouseError);
      expect((err as ClickHouseError).type, query).toBe('READONLY');
      expect((err as ClickHouseError).code, query).toBe('164');
    }
    // Two statements in one are a syntax error, as on a server: nothing runs.
    const multi = await client.command({ query: 'SELECT 1; DROP TABLE spike.windows' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((multi as ClickHouseError).type).toBe('SYNTAX_ERROR');
    expect((multi as ClickHouseError).message).not.toContain('formatQuerySingleLine');
    const after = await (
      await client.query({
        query: 'SELECT count() AS n FROM system.tables WHERE database = {db:String}',
        format: 'JSONEachRow',
        query_params: { db: 'spike' },
      })
    ).json<{ n: string }>();
    expect(after).toEqual(before);
    const [count] = await (
      await client.query({ query: 'SELECT count() AS n FROM spike.executions', format: 'JSONEachRow' })
    ).json<{ n: string }>();
    expect(Number(count?.n)).toBeGreaterThan(0);
  });

  it('refuses a setting that would loosen the read-only session', async () => {
    const err = await client
      .query({ query: 'SELECT 1', format: 'JSONEachRow', clickhouse_settings: { allow_ddl: 1 } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as ClickHouseError).type).toBe('READONLY');
  });
});

describe('the ClickHouse HTTP interface with plain HTTP (curl) and what GUI tools send at connect', () => {
  it('answers GET /?query= in TabSeparated, / and /ping with Ok.', async () => {
    const res = await get('SELECT 1');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-clickhouse-format')).toBe('TabSeparated');
    expect(await res.text()).toBe('1\n');
    expect(await (await fetch(`${url}/ping`)).text()).toBe('Ok.\n');
    expect(await (await fetch(`${url}/`)).text()).toBe('Ok.\n');
  });

  it('takes the query in a POST body, gzip-compressed or not, and a FORMAT clause of its own', async () => {
    const plain = await fetch(`${url}/`, { method: 'POST', body: 'SELECT 2 AS x FORMAT JSONEachRow' });
    expect(plain.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(await plain.text()).toBe('{"x":2}\n');
    const zipped = await fetch(`${url}/?default_format=CSV`, {
      method: 'POST',
      body: gzipSync('SELECT 3'),
      headers: { 'Content-Encoding': 'gzip' },
    });
    expect(await zipped.text()).toBe('3\n');
  });

  it.each([
    ['SELECT version()', /^\d+\.\d+/],
    ['SELECT timezone()', /^\w+/],
    ['SELECT currentUser()', /^\w*/],
    ["SELECT name FROM system.databases WHERE name = 'spike'", /^spike\n$/],
    ["SELECT name, engine FROM system.tables WHERE database = 'spike' ORDER BY name", /executions/],
    ["SELECT name, type FROM system.columns WHERE database = 'spike' AND table = 'windows'", /window_id|tick/],
    ['SHOW DATABASES', /spike/],
    ["SELECT name FROM system.functions WHERE name = 'count'", /^count\n$/],
  ])('answers a connect query of DBeaver/Grafana: %s', async (query, expected) => {
    const res = await get(query, { max_execution_time: '30', max_result_rows: '10000', result_overflow_mode: 'break' });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(text).toMatch(expected);
  });

  it('answers a write with 403, the exception code header and ClickHouse’s exception text', async () => {
    const res = await fetch(`${url}/`, { method: 'POST', body: 'DROP TABLE spike.windows' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('164');
    expect(await res.text()).toMatch(/^Code: 164\. DB::Exception: .*\(READONLY\)\n$/s);
    const syntax = await get('SELEC 1');
    expect(syntax.status).toBe(400);
    expect(syntax.headers.get('x-clickhouse-exception-code')).toBe('62');
  });

  it('answers a format that could read files, and an unknown path, with errors', async () => {
    const res = await get('SELECT 1', { default_format: 'Template' });
    expect(res.status).toBe(403);
    expect((await fetch(`${url}/play`)).status).toBe(404);
  });
});

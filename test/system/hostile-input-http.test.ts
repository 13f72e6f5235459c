/**
 * Bad input to every HTTP endpoint (issue 6, item 4), table-driven: the database API (server/api.ts)
 * and the read-only SQL endpoint (clickhouse/query-service.ts). Each case asserts the status, the
 * JSON error (`error.code`, and `error.field` where there is one) and that nothing changed: the
 * database's counters and queue (read back through `GET /stats` and `GET /queued`), the tables'
 * row counts and the files on disk.
 */
import fs from 'node:fs';
import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../clickhouse/client.js';
import { migrate } from '../../clickhouse/migrate.js';
import { startQueryService, type QueryService } from '../../clickhouse/query-service.js';
import { openReadOnlyPool, type ReadOnlyPool } from '../../clickhouse/read-only-pool.js';
import { MAX_SQL_LENGTH, readOnlyOptions } from '../../clickhouse/read-only.js';
import { silentLogger } from '../../common/logger.js';
import { createApi } from '../../server/api.js';
import { Database } from '../../server/database.js';
import { simulationOptions } from '../../server/options.js';

let db: Database;
let api: Server;
let base: string;
// Created at load: the statement table below names files in it.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-http-'));
let writer: ClickHouseClient;
let reader: ReadOnlyPool;
let sql: QueryService;

beforeAll(async () => {
  db = new Database(simulationOptions({ seed: 'hostile', probabilityScale: 20, maxDelay: 600, exposeTruth: true }));
  db.run(20);
  api = await new Promise<Server>((resolve) => {
    const s = createApi(db, { logger: silentLogger }).listen(0, '127.0.0.1', () => resolve(s));
  });
  base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

  const dataPath = path.join(work, 'clickhouse');
  writer = createClickHouse({ kind: 'embedded', dataPath });
  reader = await openReadOnlyPool({
    target: { kind: 'embedded', dataPath },
    options: readOnlyOptions(),
    logger: silentLogger,
  });
  await migrate(writer, { database: 'spike' });
  await writer.command({
    query:
      'INSERT INTO spike.windows (window_id, first_tick, last_tick, samples) VALUES (1, 0, 9, 10), (2, 10, 19, 10)',
  });
  sql = await startQueryService({ queries: reader, port: 0, logger: silentLogger });
});

afterAll(async () => {
  await new Promise<void>((resolve) => api.close(() => resolve()));
  await sql.close();
  await reader.close();
  await writer.close();
  fs.rmSync(work, { recursive: true, force: true });
});

interface ErrorJson {
  error: { code: string; message: string; field?: string };
}

/** The API's state as a client sees it: the counters and the queue. */
async function apiState(): Promise<string> {
  const stats = await (await fetch(`${base}/stats`)).text();
  const queued = await fetch(`${base}/queued`);
  return `${stats}\n${queued.status}\n${await queued.text()}`;
}

/** A request exactly as written (paths a fetch client would normalise or refuse). */
function raw(port: number, request: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let data = '';
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', ...rest] = data.split('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        headers: head,
        body: rest.join('\r\n\r\n'),
      });
    });
  });
}
const apiPort = () => (api.address() as AddressInfo).port;

async function expectError(res: Response, status: number, code: string | undefined, field?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorJson;
  if (code) expect(body.error.code).toBe(code);
  if (field) expect(body.error.field).toBe(field);
  expect(body.error.message.length).toBeGreaterThan(5);
  return body;
}

describe('database API: wrong methods', () => {
  const routes: [string, string][] = [
    ['/queued', 'GET'],
    ['/resources', 'GET'],
    ['/delay', 'POST'],
    ['/healthz', 'GET'],
    ['/stats', 'GET'],
    ['/stats/executed', 'GET'],
    ['/truth', 'GET'],
  ];
  const cases = routes.flatMap(([route, allow]) =>
    ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']
      .filter((m) => m !== allow)
      .map((method) => [method, route, allow] as const),
  );
  it.each(cases)('%s %s is 405 with Allow: %s, changing nothing', async (method, route, allow) => {
    const before = await apiState();
    const res = await fetch(base + route, {
      method,
      ...(method === 'GET' || method === 'OPTIONS' ? {} : { body: JSON.stringify({ id: 'x', delay: 1 }) }),
    });
    expect(res.headers.get('allow')).toBe(allow);
    await expectError(res, 405, 'METHOD_NOT_ALLOWED');
    expect(await apiState()).toBe(before);
  });

  it('a 1 MB body sent to a GET route is refused (405) without reading it', async () => {
    const before = await apiState();
    const res = await fetch(`${base}/queued`, { method: 'POST', body: 'x'.repeat(1 << 20) }).catch(() => undefined);
    // The server may answer before the body is sent and close the connection; either way: no crash.
    if (res) expect(res.status).toBe(405);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await apiState()).toBe(before);
  });
});

describe('database API: POST /delay with hostile bodies', () => {
  const id = () => db.queued()[0]!.execution.id;
  const json = { 'content-type': 'application/json' };
  type Case = [
    name: string,
    body: () => string | Uint8Array,
    status: number,
    code: string,
    field?: string,
    headers?: Record<string, string>,
  ];
  const cases: Case[] = [
    ['truncated JSON', () => `{"id": "${id()}", "delay": 1`, 400, 'INVALID_JSON', 'body'],
    ['trailing garbage', () => `{"id": "${id()}", "delay": 1} x`, 400, 'INVALID_JSON', 'body'],
    ['NaN', () => `{"id": "${id()}", "delay": NaN}`, 400, 'INVALID_JSON', 'body'],
    ['Infinity', () => `{"id": "${id()}", "delay": Infinity}`, 400, 'INVALID_JSON', 'body'],
    ['single quotes', () => `{'id': '${id()}', 'delay': 1}`, 400, 'INVALID_JSON', 'body'],
    ['a bare number', () => '5', 400, 'INVALID_JSON', 'body'],
    ['a JSON array', () => `[{"id": "${id()}", "delay": 1}]`, 400, 'INVALID_BODY'],
    ['1e400', () => `{"id": "${id()}", "delay": 1e400}`, 400, 'INVALID_FIELD', 'delay'],
    ['2^53 + 1', () => `{"id": "${id()}", "delay": 9007199254740993}`, 400, 'INVALID_FIELD', 'delay'],
    ['-1e9', () => JSON.stringify({ id: id(), delay: -1e9 }), 400, 'INVALID_FIELD', 'delay'],
    ['a float', () => JSON.stringify({ id: id(), delay: 0.5 }), 400, 'INVALID_FIELD', 'delay'],
    ['a numeric string', () => JSON.stringify({ id: id(), delay: '5' }), 400, 'INVALID_FIELD', 'delay'],
    ['a hex string', () => JSON.stringify({ id: id(), delay: '0x10' }), 400, 'INVALID_FIELD', 'delay'],
    ['true', () => JSON.stringify({ id: id(), delay: true }), 400, 'INVALID_FIELD', 'delay'],
    ['an array delay', () => JSON.stringify({ id: id(), delay: [5] }), 400, 'INVALID_FIELD', 'delay'],
    ['an operator object', () => JSON.stringify({ id: id(), delay: { $gt: 0 } }), 400, 'INVALID_FIELD', 'delay'],
    ['a 15 000-character id', () => JSON.stringify({ id: 'a'.repeat(15_000), delay: 1 }), 400, 'INVALID_FIELD', 'id'],
    ['an id with a NUL byte', () => JSON.stringify({ id: `${id()}\u0000`, delay: 1 }), 400, 'INVALID_FIELD', 'id'],
    ['an id with a newline', () => JSON.stringify({ id: `${id()}\n`, delay: 1 }), 400, 'INVALID_FIELD', 'id'],
    [
      'a look-alike id (Cyrillic а)',
      () => JSON.stringify({ id: id().replace(/a/g, 'а').replace(/^./, 'а'), delay: 1 }),
      400,
      'INVALID_FIELD',
      'id',
    ],
    ['an array of ids', () => JSON.stringify({ id: [id()], delay: 1 }), 400, 'INVALID_FIELD', 'id'],
    ['a path as id', () => JSON.stringify({ id: '../../etc/passwd', delay: 1 }), 400, 'INVALID_FIELD', 'id'],
    ['"by" with a NUL byte', () => JSON.stringify({ id: id(), delay: 1, by: 'a\u0000b' }), 400, 'INVALID_FIELD', 'by'],
    ['"by" with emoji', () => JSON.stringify({ id: id(), delay: 1, by: '🙂' }), 400, 'INVALID_FIELD', 'by'],
    ['"by" as an object', () => JSON.stringify({ id: id(), delay: 1, by: {} }), 400, 'INVALID_FIELD', 'by'],
    [
      'expectedTick as text',
      () => JSON.stringify({ id: id(), delay: 1, expectedTick: '7' }),
      400,
      'INVALID_FIELD',
      'expectedTick',
    ],
    [
      'an infinite expectedTick',
      () => `{"id": "${id()}", "delay": 1, "expectedTick": 1e400}`,
      400,
      'INVALID_FIELD',
      'expectedTick',
    ],
    ['an unknown field', () => JSON.stringify({ id: id(), delay: 1, priority: 9 }), 400, 'INVALID_FIELD', 'priority'],
    [
      '__proto__',
      () => `{"id": "${id()}", "delay": 1, "__proto__": {"polluted": true}}`,
      400,
      'INVALID_FIELD',
      '__proto__',
    ],
    [
      '__proto__ carrying the delay',
      () => `{"id": "${id()}", "__proto__": {"delay": 5}}`,
      400,
      'INVALID_FIELD',
      '__proto__',
    ],
    [
      'constructor.prototype',
      () => `{"id": "${id()}", "delay": 1, "constructor": {"prototype": {"polluted": true}}}`,
      400,
      'INVALID_FIELD',
      'constructor',
    ],
    ['a duplicate key', () => `{"id": "${id()}", "delay": 1, "delay": "x"}`, 400, 'INVALID_FIELD', 'delay'],
    ['deep nesting', () => `{"a":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`, 400, 'INVALID_FIELD', 'a'],
    ['17 kB', () => JSON.stringify({ id: id(), delay: 1, by: 'x'.repeat(17_000) }), 413, 'BODY_TOO_LARGE', 'body'],
    ['1 MB', () => JSON.stringify({ id: id(), delay: 1, pad: 'x'.repeat(1 << 20) }), 413, 'BODY_TOO_LARGE', 'body'],
    [
      'a gzip bomb (4 MB inflated)',
      () => gzipSync(JSON.stringify({ id: id(), delay: 1, pad: ' '.repeat(4 << 20) })),
      413,
      'BODY_TOO_LARGE',
      'body',
      { ...json, 'content-encoding': 'gzip' },
    ],
    [
      'a bad gzip stream',
      () => 'not gzip at all',
      400,
      'BAD_REQUEST',
      undefined,
      { ...json, 'content-encoding': 'gzip' },
    ],
    [
      'an unknown content encoding',
      () => JSON.stringify({ id: id(), delay: 1 }),
      415,
      'UNSUPPORTED_ENCODING',
      'body',
      { ...json, 'content-encoding': 'zz' },
    ],
    [
      'charset utf-16 on a utf-8 body',
      () => JSON.stringify({ id: id(), delay: 1 }),
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'application/json; charset=utf-16' },
    ],
    [
      'charset latin1',
      () => JSON.stringify({ id: id(), delay: 1 }),
      415,
      'UNSUPPORTED_ENCODING',
      'body',
      { 'content-type': 'application/json; charset=iso-8859-1' },
    ],
    [
      'a form body',
      () => `id=${id()}&delay=1`,
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    [
      'a multipart body',
      () => `--b\r\nContent-Disposition: form-data; name="id"\r\n\r\n${id()}\r\n--b--`,
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'multipart/form-data; boundary=b' },
    ],
    [
      'XML',
      () => `<delay><id>${id()}</id><delay>1</delay></delay>`,
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'application/xml' },
    ],
    [
      'binary noise',
      () => new Uint8Array(Array.from({ length: 512 }, (_, i) => (i * 37) % 256)),
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'application/octet-stream' },
    ],
  ];
  it.each(cases)(
    'rejects %s with a JSON error, changing nothing',
    async (_name, body, status, code, field, headers) => {
      const before = await apiState();
      const res = await fetch(`${base}/delay`, { method: 'POST', body: body(), headers: headers ?? json });
      await expectError(res, status, code, field);
      expect(await apiState()).toBe(before);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    },
  );

  it('rejects an oversized chunked body (no Content-Length) with 413', async () => {
    const before = await apiState();
    const chunk = new TextEncoder().encode('x'.repeat(4096));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${base}/delay`, {
      method: 'POST',
      body: stream,
      headers: json,
      duplex: 'half',
    }).catch(() => undefined);
    if (res) await expectError(res, 413, 'BODY_TOO_LARGE', 'body');
    expect(await apiState()).toBe(before);
  });

  it('still accepts a good request afterwards (the cases above were refused, not ignored)', async () => {
    const target = db.queued()[0]!;
    const res = await fetch(`${base}/delay`, {
      method: 'POST',
      body: JSON.stringify({ id: target.execution.id, delay: 2 }),
      headers: json,
    });
    expect(res.status).toBe(200);
  });
});

describe('database API: hostile URLs and query strings', () => {
  it.each([
    '/queued?limit=-1&offset=NaN',
    '/queued?__proto__[polluted]=1&constructor[prototype][polluted]=1',
    '/resources?callback=alert(1)',
    `/healthz?x=${'%00'.repeat(100)}`,
    `/stats?${'a=1&'.repeat(500)}`,
  ])('GET %s answers as without the query string', async (url) => {
    const plain = url.split('?')[0]!;
    const before = await apiState();
    const [a, b] = await Promise.all([fetch(base + url), fetch(base + plain)]);
    expect(a.status).toBe(b.status);
    expect(a.headers.get('content-type')).toBe(b.headers.get('content-type'));
    expect(await a.text()).toBe(await b.text());
    expect(await apiState()).toBe(before);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it.each([
    ['from=NaN&to=5', 'from'],
    ['from=Infinity&to=5', 'from'],
    ['from=1e3&to=5000', 'from'],
    ['from=0x10&to=20', 'from'],
    ['from=%201&to=5', 'from'],
    ['from=1&from=2&to=5', 'from'],
    ['from[]=1&to=5', 'from'],
    ['from=%00&to=5', 'from'],
    [`from=${'9'.repeat(40)}&to=5`, 'from'],
    ['from=0&to=99999999999999999', 'to'],
    ['from=0&to=-', 'to'],
    ['from=0&to=١٢', 'to'],
  ])('GET /stats/executed?%s is 400 naming %s', async (query, field) => {
    const before = await apiState();
    await expectError(await fetch(`${base}/stats/executed?${query}`), 400, undefined, field);
    expect(await apiState()).toBe(before);
  });

  it.each([
    '/../../etc/passwd',
    '/queued/../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/stats/..%2f..%2f..%2fetc%2fpasswd',
    '/..%5c..%5cwindows%5cwin.ini',
    '/delay%00',
    '/queued%00.json',
    '/%C0%AE%C0%AE/etc/passwd',
    '/%F0%9F%99%82',
    `/${'a'.repeat(8000)}`,
  ])('GET %s is a JSON 404', async (url) => {
    const before = await apiState();
    const res = await raw(apiPort(), `GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(404);
    expect((JSON.parse(res.body) as ErrorJson).error.code).toBe('NOT_FOUND');
    expect(res.body).not.toContain('root:');
    expect(await apiState()).toBe(before);
  });

  it('a malformed percent-encoding is a JSON 400', async () => {
    const res = await raw(apiPort(), 'GET /stats/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect([400, 404]).toContain(res.status);
    expect(() => JSON.parse(res.body) as ErrorJson).not.toThrow();
  });

  it('a request line the HTTP parser refuses (NUL, oversized headers) gets 400/431 and the server lives on', async () => {
    const before = await apiState();
    expect((await raw(apiPort(), 'GET /queued\u0000 HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(400);
    const big = await raw(apiPort(), `GET /queued HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(big.status).toBe(431);
    expect((await raw(apiPort(), 'NOT-A-METHOD / HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(400);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await apiState()).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// The read-only SQL endpoint

const TABLES = ['executions', 'windows', 'estimates', 'estimate_versions'];

/** Row counts of the product tables, the list of objects in the database, the files under work. */
async function sqlState(): Promise<string> {
  const counts: Record<string, string> = {};
  for (const t of TABLES) {
    const rs = await writer.query({ query: `SELECT count() AS n FROM spike.${t}`, format: 'JSONEachRow' });
    counts[t] = (await rs.json<{ n: string }>())[0]!.n;
  }
  const rs = await writer.query({
    query:
      "SELECT name, engine FROM system.tables WHERE database NOT IN ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY database, name",
    format: 'JSONEachRow',
  });
  const files = fs
    .readdirSync(work, { recursive: true })
    .map(String)
    .filter((f) => !f.includes('clickhouse'));
  return JSON.stringify({ counts, tables: await rs.json(), files: files.sort() });
}

const postSql = (body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${sql.url}/query`, { method: 'POST', body, headers });

describe('read-only SQL endpoint: statements that would write or reach outside', () => {
  const outfile = () => path.join(work, 'out.csv');
  const statements: string[] = [
    'INSERT INTO spike.windows (window_id) VALUES (3)',
    'INSERT INTO spike.windows SELECT * FROM spike.windows',
    'CREATE TABLE spike.x (a Int8) ENGINE = Memory',
    'CREATE DATABASE evil',
    'DROP TABLE spike.windows',
    'DROP DATABASE spike',
    'TRUNCATE TABLE spike.windows',
    'ALTER TABLE spike.windows DELETE WHERE 1',
    'ALTER TABLE spike.windows ADD COLUMN x Int8',
    'RENAME TABLE spike.windows TO spike.w2',
    'DELETE FROM spike.windows WHERE 1',
    'UPDATE spike.windows SET samples = 0 WHERE 1',
    'OPTIMIZE TABLE spike.windows FINAL',
    'SET readonly = 0',
    'SET max_memory_usage = 1',
    'SYSTEM DROP MARK CACHE',
    'KILL QUERY WHERE 1',
    'GRANT ALL ON *.* TO default',
    'SELECT 1; DROP TABLE spike.windows',
    'SELECT 1;DROP TABLE spike.windows;',
    "SELECT ';'; DROP TABLE spike.windows",
    'SELECT 1 -- comment\n; DROP TABLE spike.windows',
    '/* */ INSERT INTO spike.windows (window_id) VALUES (3)',
    '/* SELECT */ DROP TABLE spike.windows',
    '-- SELECT\nDROP TABLE spike.windows',
    '/* unterminated DROP TABLE spike.windows',
    'WITH x AS (SELECT 1) INSERT INTO spike.windows (window_id) SELECT 1',
    'WITH 1 AS a ALTER TABLE spike.windows DELETE WHERE 1',
    'SELECT 1 SETTINGS readonly = 0',
    'SELECT 1 SETTINGS readonly = 2',
    "SELECT 1 SETTINGS allow_ddl = 1, readonly = '0'",
    "INSERT INTO FUNCTION file('/tmp/evil.csv', 'CSV', 'a Int8') VALUES (1)",
    `SELECT 1 INTO OUTFILE '${path.join(work, 'out.csv')}'`,
    `SELECT * FROM spike.windows INTO OUTFILE '${path.join(work, 'out.csv')}' FORMAT CSV`,
    `SELECT 1 INTO/* */OUTFILE '${path.join(work, 'out.csv')}'`,
    `SELECT 1 into\n outfile '${path.join(work, 'out.csv')}' TRUNCATE`,
    `SHOW TABLES FROM spike INTO OUTFILE '${path.join(work, 'out.csv')}'`,
    "SELECT file('/etc/passwd')",
    "SELECT `file`('/etc/passwd')",
    "SELECT FILE ( '/etc/passwd' )",
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "DESC file('/etc/passwd', 'LineAsString')",
    "DESCRIBE TABLE url('http://127.0.0.1:1/x', 'CSV')",
    "SELECT * FROM url('http://127.0.0.1:1/x', 'CSV', 'a String')",
    "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'CSV', 'a String')",
    "SELECT * FROM executable('id', 'TSV', 'a String')",
    "SELECT * FROM remote('127.0.0.1:9000', system.one)",
    "SELECT * FROM mysql('127.0.0.1:1', 'a', 'b', 'c', 'd')",
    "EXPLAIN SELECT * FROM file('/etc/passwd', 'LineAsString')",
    'EXPLAIN SYNTAX INSERT INTO spike.windows (window_id) VALUES (3)',
    '',
    '   ',
    '-- only a comment',
    '\u0000SELECT 1',
    'ＳＥＬＥＣＴ 1',
  ];
  it.each(statements)('refuses %j with a clear error, changing nothing', async (statement) => {
    const before = await sqlState();
    const res = await postSql(JSON.stringify({ sql: statement }));
    const body = await expectError(res, 400, undefined, 'sql');
    expect(['READ_ONLY', 'QUERY_FAILED', 'INVALID_FIELD']).toContain(body.error.code);
    expect(await sqlState()).toBe(before);
    expect(fs.existsSync(outfile())).toBe(false);
    expect(fs.existsSync('/tmp/evil.csv')).toBe(false);
  });

  it('still answers reads (the refusals are not a broken endpoint)', async () => {
    const res = await postSql(JSON.stringify({ sql: 'SELECT count() AS n FROM spike.windows' }));
    expect(res.status).toBe(200);
    expect(Number(((await res.json()) as { rows: unknown[][] }).rows[0]![0])).toBe(2);
  });
});

describe('read-only SQL endpoint: hostile requests', () => {
  type Case = [
    name: string,
    body: () => string | Uint8Array,
    status: number,
    code: string,
    field: string,
    headers?: Record<string, string>,
  ];
  const cases: Case[] = [
    ['not JSON', () => '{"sql": "SELECT 1"', 400, 'INVALID_JSON', 'body'],
    ['plain SQL text', () => 'SELECT 1', 400, 'INVALID_JSON', 'body', { 'content-type': 'text/plain' }],
    [
      'a form body',
      () => 'sql=SELECT+1',
      400,
      'INVALID_JSON',
      'body',
      { 'content-type': 'application/x-www-form-urlencoded' },
    ],
    ['an array', () => '[{"sql": "SELECT 1"}]', 400, 'INVALID_BODY', 'body'],
    ['no sql', () => '{}', 400, 'INVALID_FIELD', 'sql'],
    ['sql as a number', () => '{"sql": 1}', 400, 'INVALID_FIELD', 'sql'],
    ['sql as an array', () => '{"sql": ["SELECT 1", "DROP TABLE spike.windows"]}', 400, 'INVALID_FIELD', 'sql'],
    ['an unknown field', () => '{"sql": "SELECT 1", "settings": {"readonly": 0}}', 400, 'INVALID_FIELD', 'settings'],
    ['__proto__', () => '{"sql": "SELECT 1", "__proto__": {"polluted": true}}', 400, 'INVALID_FIELD', '__proto__'],
    [
      'constructor',
      () => '{"sql": "SELECT 1", "constructor": {"prototype": {"polluted": true}}}',
      400,
      'INVALID_FIELD',
      'constructor',
    ],
    [
      'sql one character too long',
      () => JSON.stringify({ sql: `SELECT 1 ${' '.repeat(MAX_SQL_LENGTH)}` }),
      400,
      'INVALID_FIELD',
      'sql',
    ],
    ['a 2 MB body', () => JSON.stringify({ sql: `SELECT '${'x'.repeat(2 << 20)}'` }), 413, 'BODY_TOO_LARGE', 'body'],
    [
      'charset latin1',
      () => '{"sql": "SELECT 1"}',
      415,
      'UNSUPPORTED_ENCODING',
      'body',
      { 'content-type': 'application/json; charset=iso-8859-1' },
    ],
    [
      'a bad gzip stream',
      () => 'not gzip',
      400,
      'BAD_REQUEST',
      'body',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    ],
    [
      'a gzip bomb',
      () => gzipSync(JSON.stringify({ sql: `SELECT 1 ${' '.repeat(8 << 20)}` })),
      413,
      'BODY_TOO_LARGE',
      'body',
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    ],
  ];
  it.each(cases)('rejects %s', async (_name, body, status, code, field, headers) => {
    const before = await sqlState();
    await expectError(await postSql(body(), headers), status, code, field);
    expect(await sqlState()).toBe(before);
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it.each([
    ['GET', '/query', 'POST'],
    ['PUT', '/query', 'POST'],
    ['DELETE', '/query', 'POST'],
    ['POST', '/healthz', 'GET'],
    ['DELETE', '/healthz', 'GET'],
  ])('%s %s is 405 with Allow: %s', async (method, route, allow) => {
    const res = await fetch(sql.url + route, { method });
    expect(res.headers.get('allow')).toBe(allow);
    await expectError(res, 405, 'METHOD_NOT_ALLOWED');
  });

  it.each(['/../../etc/passwd', '/query/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/query%00'])(
    'GET %s is a JSON 404',
    async (url) => {
      const port = Number(new URL(sql.url).port);
      const res = await raw(port, `GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(res.status).toBe(404);
      expect((JSON.parse(res.body) as ErrorJson).error.code).toBe('NOT_FOUND');
    },
  );

  it('listens on 127.0.0.1 only', () => {
    expect(new URL(sql.url).hostname).toBe('127.0.0.1');
  });
});

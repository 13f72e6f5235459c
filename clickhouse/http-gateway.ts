/**
 * ClickHouse's HTTP interface in front of embedded chDB, so that components running as separate
 * processes can share one data directory. chDB allows one process per directory (client.ts), so in
 * the multi-process topology without a ClickHouse server one process owns chDB and serves it, and
 * every component talks to it with `CLICKHOUSE_URL` exactly as it would to a server.
 *
 * What is served — the part of the protocol `@clickhouse/client` uses:
 *  - `GET|HEAD /ping` and `GET /` without a query: `Ok.\n`;
 *  - `POST /` (or `GET /`, read-only as on a server) with the query in the body, or in the `query`
 *    URL parameter with the body appended after a newline (how inserts send their rows);
 *  - URL parameters: `database`, `default_format` (TabSeparated when absent, as on a server),
 *    `query_id`, `param_<name>` (the values of `{name:Type}` placeholders, in ClickHouse's escaped
 *    text form) and every other parameter as a setting (`readonly`, `wait_end_of_query`, …);
 *  - request bodies compressed with gzip, deflate or br (`Content-Encoding`);
 *  - errors as ClickHouse sends them: a non-2xx status chosen from the error code, the exception
 *    text (`Code: 62. DB::Exception: … (SYNTAX_ERROR)`) as the body and `X-ClickHouse-Exception-Code`,
 *    so the client raises a `ClickHouseError` with the same `code` and `type`;
 *  - `X-ClickHouse-Query-Id`, `X-ClickHouse-Format` and `X-ClickHouse-Summary` headers.
 * Not served: sessions (`session_id`), multipart parameters, ClickHouse's native compression
 * (`compress`/`decompress`), authentication (user and password are ignored: listen on 127.0.0.1 or a
 * private network only), other handlers (`/play`, `/replicas_status`). Each is refused with a
 * ClickHouse-style error rather than ignored.
 *
 * How a request runs: the same way `chdb/connection` runs a client call — a `ChdbConnection` on the
 * data directory, the settings as `SET` statements in front of the query (dropping the ones that
 * exist only in ClickHouse's HTTP layer), the body appended to the query, chDB's error text parsed
 * into a `ClickHouseError`. Two differences, both for isolation between callers: every request gets
 * a connection of its own (≈ 1 ms; a `SET` sent on a chDB connection stays on it, so a shared one
 * would carry one caller's `readonly = 1` into the next caller's inserts — read-only.ts), and query
 * parameters are sent as `SET param_<name> = '<value>'`, which hands the engine the value text as a
 * server receives it (chDB's own binder escapes values again as if they were JS strings).
 * One more connection stays open for the gateway's lifetime, so the engine and the directory lock
 * are held from start to stop and a second owner is refused at once (ClickHouseDataLockedError).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ClickHouseClientConfigOptions } from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import type { Logger } from '../common/logger.js';
import { integer, text, toggle, type SettingValues } from '../common/settings.js';
import { clickhouseSettings, createClickHouse, type ClickHouseClient } from './client.js';
import {
  ClickHouseHttpError as GatewayRequestError,
  contentType,
  exceptionText,
  HTTP_ONLY_SETTINGS,
  NAME,
  quote,
  readBody,
  RESERVED,
  statusForError,
  UNSUPPORTED,
} from './http-protocol.js';

/** A request the gateway refuses before it reaches chDB (the protocol's error, by its former name). */
export { GatewayRequestError, statusForError };

export const gatewaySettings = {
  port: integer({
    flag: '--gateway-port',
    env: 'CLICKHOUSE_GATEWAY_PORT',
    default: 8123,
    min: 0,
    max: 65535,
    doc: "Port of the ClickHouse HTTP gateway (8123 is ClickHouse's own HTTP port); 0 picks a free one.",
  }),
  host: text({
    flag: '--gateway-host',
    env: 'CLICKHOUSE_GATEWAY_HOST',
    default: '127.0.0.1',
    maxLength: 255,
    doc: 'Address the gateway listens on. It has no authentication: keep it on 127.0.0.1 or a private network.',
  }),
  maxBodyBytes: integer({
    flag: '--gateway-max-body-bytes',
    env: 'CLICKHOUSE_GATEWAY_MAX_BODY_BYTES',
    default: 67_108_864,
    min: 1024,
    max: 2_147_483_647,
    doc: 'Largest request body (a query or an insert’s rows, after decompression); larger ones get 413.',
  }),
  dataPath: clickhouseSettings.dataPath,
  faultControl: toggle({
    flag: '--gateway-fault-control',
    env: 'CLICKHOUSE_GATEWAY_FAULT_CONTROL',
    default: false,
    doc: 'For the chaos run only: serves `POST /_fault/insert-failures?ms=N&mode=refuse|lost-reply`, which makes every INSERT fail with TOO_MANY_PARTS for N ms (`lost-reply`: the insert runs, then the error is answered). Off by default.',
  }),
};

export type GatewaySettingValues = SettingValues<typeof gatewaySettings>;

export interface GatewayOptions {
  /** chDB data directory; this process holds it until `close()`. */
  dataPath: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  logger: Logger;
  /** Serve the insert-failure switch (`POST /_fault/insert-failures`); for the chaos run only. */
  faultControl?: boolean;
}

/**
 * How the insert-failure switch fails an INSERT: `refuse` answers the error without running it
 * (ClickHouse refusing the insert); `lost-reply` runs it and then answers the error (the insert was
 * stored but the caller never learns it: a timeout or a cut connection after the commit), so the
 * caller's retry stores the same rows again.
 */
export type InsertFailureMode = 'refuse' | 'lost-reply';
export const INSERT_FAILURE_MODES: readonly InsertFailureMode[] = ['refuse', 'lost-reply'];
/** The path of the switch, served only with `faultControl`. */
export const FAULT_PATH = '/_fault/insert-failures';
/** The error a failed INSERT gets: what a server under merge pressure answers (a transient state). */
const INSERT_FAILURE = {
  status: 500,
  code: '252',
  text: 'Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower than inserts (injected by the gateway fault switch). (TOO_MANY_PARTS)',
};

export interface ClickHouseGateway {
  /** `http://host:port`, for `CLICKHOUSE_URL`. */
  url: string;
  /** Requests answered so far, and how many of them were errors (inserts failed on purpose included). */
  stats(): { requests: number; errors: number; inFlight: number; insertsFailed: number };
  /** Stops accepting requests, waits for the ones running, then releases the data directory. */
  close(): Promise<void>;
}

export interface TranslatedRequest {
  /** The statement chDB runs: settings and parameters as `SET`s, then the query (and its data). */
  sql: string;
  /** Output format when the query has no FORMAT clause. */
  format: string;
  queryId: string;
}

/**
 * Turns ClickHouse HTTP parameters and a request body into what chDB runs. Pure; throws
 * GatewayRequestError for what a server would refuse (empty query) or this gateway cannot do.
 */
export function translateRequest(params: URLSearchParams, body: string, method: string): TranslatedRequest {
  for (const [name, reason] of Object.entries(UNSUPPORTED)) {
    const v = params.get(name);
    if (v !== null && v !== '' && v !== '0') throw new GatewayRequestError(400, 48, 'NOT_IMPLEMENTED', reason);
  }
  const urlQuery = params.get('query') ?? '';
  // As ClickHouse's HTTP handler: the `query` parameter first, then the body after a newline.
  const query = urlQuery.length > 0 && body.length > 0 ? `${urlQuery}\n${body}` : urlQuery || body;
  if (query.trim().length === 0) throw new GatewayRequestError(400, 62, 'SYNTAX_ERROR', 'Empty query');

  const statements: string[] = [];
  let readonly: string | undefined;
  for (const [key, value] of params) {
    if (RESERVED.has(key) || key in UNSUPPORTED || HTTP_ONLY_SETTINGS.has(key)) continue;
    if (key.startsWith('param_')) {
      if (!NAME.test(key)) throw new GatewayRequestError(400, 36, 'BAD_ARGUMENTS', `invalid parameter name ${key}`);
      statements.push(`SET ${key} = ${quote(value)}`);
      continue;
    }
    if (!NAME.test(key)) throw new GatewayRequestError(400, 115, 'UNKNOWN_SETTING', `Unknown setting ${key}`);
    // readonly last: once it is set, the engine refuses to change any other setting.
    if (key === 'readonly') readonly = value;
    else statements.push(`SET ${key} = ${quote(value)}`);
  }
  // A GET is read-only on a server (readonly = 2 unless the caller asked for stricter).
  if (method === 'GET' && readonly !== '1') readonly = '2';
  const database = params.get('database');
  if (database !== null && database !== '')
    statements.push(`USE \`${database.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``);
  if (readonly !== undefined) statements.push(`SET readonly = ${quote(readonly)}`);

  return {
    sql: statements.length === 0 ? query : `${statements.join('; ')}; ${query}`,
    format: params.get('default_format') || 'TabSeparated',
    queryId: params.get('query_id') || randomUUID(),
  };
}
/** The connection type `chdb/connection` returns, as the client's `Connection` interface. */
type Connection = NonNullable<ClickHouseClientConfigOptions['connection']>;

async function runOnOwnConnection(dataPath: string, t: TranslatedRequest): Promise<{ body: Buffer; summary: object }> {
  // chdb types its connection against @clickhouse/client-common 1.23.0 and @clickhouse/client 1.23.1
  // bundles its own copy of the same interfaces (see client.ts): the same shape, two declarations.
  const connection = createChdbConnection({ path: dataPath }) as unknown as Connection;
  try {
    const result = await connection.exec({
      query: t.sql,
      query_id: t.queryId,
      clickhouse_settings: { default_format: t.format },
    } as Parameters<Connection['exec']>[0]);
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream as AsyncIterable<Buffer>) chunks.push(chunk);
    return { body: Buffer.concat(chunks), summary: result.summary ?? {} };
  } finally {
    await connection.close();
  }
}

export async function startClickHouseGateway(o: GatewayOptions): Promise<ClickHouseGateway> {
  const dataPath = resolve(o.dataPath);
  // Held until close(): binds this process's engine to the directory (and fails now, with the
  // holder's pid, if another process has it), and keeps the engine up between requests.
  const keeper: ClickHouseClient = createClickHouse({ kind: 'embedded', dataPath });
  await keeper.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((rs) => rs.json());

  const counters = { requests: 0, errors: 0, inFlight: 0, insertsFailed: 0 };
  /** While Date.now() < until, INSERTs fail (the fault switch). */
  const insertFailure = { until: 0, mode: 'refuse' as InsertFailureMode };
  let idle: (() => void) | undefined;

  const fail = (res: ServerResponse, status: number, code: string, text: string) => {
    counters.errors++;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': code,
    });
    res.end(`${text}\n`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const method = req.method ?? 'GET';
    if (url.pathname === '/ping') {
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=UTF-8' });
        res.end('Method not allowed\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end(method === 'HEAD' ? undefined : 'Ok.\n');
      return;
    }
    if (o.faultControl && url.pathname === FAULT_PATH) {
      req.resume();
      const ms = Number(url.searchParams.get('ms') ?? '');
      const mode = (url.searchParams.get('mode') ?? 'refuse') as InsertFailureMode;
      if (
        method !== 'POST' ||
        !Number.isSafeInteger(ms) ||
        ms < 0 ||
        ms > 3_600_000 ||
        !INSERT_FAILURE_MODES.includes(mode)
      ) {
        fail(
          res,
          400,
          '36',
          `Code: 36. DB::Exception: use POST ${FAULT_PATH}?ms=<0..3600000>&mode=refuse|lost-reply (BAD_ARGUMENTS)`,
        );
        return;
      }
      insertFailure.until = Date.now() + ms;
      insertFailure.mode = mode;
      o.logger.warn({ ms, mode }, 'fault switch: inserts fail');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ until: insertFailure.until, mode }));
      return;
    }
    if (url.pathname !== '/') {
      req.resume();
      fail(res, 404, '0', `There is no handle ${url.pathname} (the chDB gateway serves / and /ping)`);
      return;
    }
    if (method !== 'GET' && method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'GET, POST');
      fail(res, 405, '0', `HTTP method ${method} is not allowed: use GET or POST`);
      return;
    }
    if (method === 'GET' && !url.searchParams.has('query')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end('Ok.\n');
      return;
    }
    if (/^multipart\//i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      fail(
        res,
        400,
        '48',
        'Code: 48. DB::Exception: multipart requests are not supported by the chDB gateway (NOT_IMPLEMENTED)',
      );
      return;
    }
    let translated: TranslatedRequest;
    try {
      const body = await readBody(req, o.maxBodyBytes, ' (--gateway-max-body-bytes)');
      translated = translateRequest(url.searchParams, body, method);
    } catch (err) {
      if (!(err instanceof GatewayRequestError)) throw err;
      if (err.status === 413) {
        // Stop reading a body we will not use, and close the connection once answered.
        res.setHeader('Connection', 'close');
        req.resume();
      }
      fail(res, err.status, String(err.code), `Code: ${err.code}. DB::Exception: ${err.message} (${err.type})`);
      return;
    }
    const failInsert = insertFailure.until > Date.now() && /(^|;)\s*INSERT\b/i.test(translated.sql);
    if (failInsert && insertFailure.mode === 'refuse') {
      counters.insertsFailed++;
      fail(res, INSERT_FAILURE.status, INSERT_FAILURE.code, INSERT_FAILURE.text);
      return;
    }
    try {
      const { body, summary } = await runOnOwnConnection(dataPath, translated);
      if (failInsert) {
        counters.insertsFailed++;
        fail(res, INSERT_FAILURE.status, INSERT_FAILURE.code, INSERT_FAILURE.text);
        return;
      }
      res.writeHead(200, {
        'Content-Type': contentType(translated.format),
        'X-ClickHouse-Query-Id': translated.queryId,
        'X-ClickHouse-Format': translated.format,
        'X-ClickHouse-Summary': JSON.stringify(summary),
        'Content-Length': body.length,
      });
      res.end(body);
    } catch (err) {
      const { text, code, type } = exceptionText(err);
      o.logger.debug({ queryId: translated.queryId, code, type }, 'query failed');
      fail(res, statusForError(type), code, text);
    }
  };

  const server: Server = createServer((req, res) => {
    counters.requests++;
    counters.inFlight++;
    res.once('close', () => {
      counters.inFlight--;
      if (counters.inFlight === 0) idle?.();
    });
    handle(req, res).catch((err: unknown) => {
      o.logger.error({ err }, 'gateway error');
      fail(res, 500, '1001', `Code: 1001. DB::Exception: gateway error: ${String(err)} (STD_EXCEPTION)`);
    });
  });
  // Longer than the client's idle-socket TTL (2.5 s by default), so it never reuses a closed socket.
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      done();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  o.logger.info({ url, dataPath, maxBodyBytes: o.maxBodyBytes }, 'clickhouse gateway listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    stats: () => ({ ...counters }),
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        if (counters.inFlight > 0) await new Promise<void>((done) => (idle = done));
        server.closeAllConnections();
        await stopped;
        await keeper.close();
        o.logger.info(counters, 'clickhouse gateway stopped');
      })();
      return closing;
    },
  };
}

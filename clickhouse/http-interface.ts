/**
 * ClickHouse's own HTTP interface, read-only, for people and their tools: `curl`, `@clickhouse/client`,
 * DBeaver, Grafana's ClickHouse data source. `npm start` serves it on 127.0.0.1:8123 (ClickHouse's HTTP
 * port) on the running system's embedded ClickHouse, through the same read-only path as every other
 * investigation (read-only-pool.ts: the guard, `readonly = 1`, the limits, the bounded sessions, a
 * query killed when its client goes away). Nothing here decides what may run: the guard does.
 *
 * Served, as a ClickHouse server does:
 *  - `GET|HEAD /ping` and `GET /` without a query: `Ok.\n`;
 *  - `GET /?query=…` and `POST /` (the query in the body, or in `query` with the body appended);
 *  - the statement's own `FORMAT <name>` or `default_format` (TabSeparated by default), from the
 *    output-format allowlist; `database`, `query_id`, `param_<name>`, and settings as
 *    request-settings.ts sorts them (output settings, tighter limits; others refused with READONLY);
 *  - a gzip response with `enable_http_compression=1` and `Accept-Encoding: gzip`;
 *  - errors as ClickHouse writes them (`Code: 164. DB::Exception: … (READONLY)`, the
 *    `X-ClickHouse-Exception-Code` header, the HTTP status of the error type), so clients raise
 *    their usual errors: a write is refused with 403 READONLY before it reaches the engine.
 * Not served: sessions, ClickHouse's native compression, multipart requests, authentication (user
 * and password are ignored: it listens on 127.0.0.1 only, like the rest of `npm start`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import type { Logger } from '../common/logger.js';
import { integer } from '../common/settings.js';
import { clickHouseErrorType } from './failures.js';
import { ClickHouseHttpError, contentType, exceptionText, readBody, statusForError } from './http-protocol.js';
import {
  MAX_SQL_LENGTH,
  QueryBusyError,
  QueryCancelledError,
  QueryFailedError,
  QueryLimitError,
  ReadOnlyClosedError,
  ReadOnlyViolationError,
} from './read-only.js';
import type { FormattedRequest, FormattedResult } from './request-session.js';
import { readRequestSettings } from './request-settings.js';

/** The setting of the interface's port, for messages about it (a busy port names it). */
export const CLICKHOUSE_HTTP_PORT_SETTING = { flag: '--clickhouse-http-port', env: 'CLICKHOUSE_HTTP_PORT' };

export const httpInterfaceSettings = {
  clickhouseHttpPort: integer({
    flag: '--clickhouse-http-port',
    env: 'CLICKHOUSE_HTTP_PORT',
    default: 8123,
    min: 0,
    max: 65535,
    doc: "Port of the read-only ClickHouse HTTP interface on 127.0.0.1 (8123 is ClickHouse's own HTTP port): curl, @clickhouse/client, DBeaver, Grafana and npm run sql connect to it; 0 picks a free one.",
  }),
};

/** What the interface runs statements on: the embedded read-only pool. */
export interface FormattedQueries {
  execute(sql: string, request: FormattedRequest): Promise<FormattedResult>;
}

export interface HttpInterface {
  /** `http://127.0.0.1:<port>`, for `url` of a ClickHouse client. */
  url: string;
  close(): Promise<void>;
}

/** A query text (with its body) larger than this is refused before it is read further. */
const MAX_BODY_BYTES = 4 * MAX_SQL_LENGTH + 1024;

/** What a ClickHouse server reports itself as: clients show it, some check it. */
const SERVER_NAME = 'spike-scheduler (chDB)';

function sendException(res: ServerResponse, status: number, code: number | string, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Exception-Code': String(code),
    'X-ClickHouse-Server-Display-Name': SERVER_NAME,
  });
  res.end(`${text}\n`);
}

/** The ClickHouse exception (status, code, text) for an error of the read-only path. */
export function exceptionFor(err: unknown): { status: number; code: number | string; text: string } {
  const text = (code: number, type: string, message: string) => `Code: ${code}. DB::Exception: ${message}. (${type})`;
  if (err instanceof ClickHouseHttpError)
    return { status: err.status, code: err.code, text: text(err.code, err.type, err.message) };
  if (err instanceof ReadOnlyViolationError)
    return { status: 403, code: 164, text: text(164, 'READONLY', err.message) };
  if (err instanceof QueryBusyError) {
    return { status: 503, code: 202, text: text(202, 'TOO_MANY_SIMULTANEOUS_QUERIES', err.message) };
  }
  if (err instanceof ReadOnlyClosedError) return { status: 503, code: 236, text: text(236, 'ABORTED', err.message) };
  const type =
    err instanceof QueryLimitError || err instanceof QueryFailedError ? clickHouseErrorType(err.cause) : undefined;
  if (type !== undefined) {
    // ClickHouse's own error, with the message the read-only path kept (the guard's own statement,
    // which ClickHouse quotes, left out).
    const { code } = exceptionText((err as QueryFailedError).cause);
    const message = (err as QueryFailedError).message
      .replace(/^Code: \d+\. DB::Exception: /, '')
      .replace(/\s*\([A-Z0-9_]+\)\s*$/, '')
      .replace(/[.\s]+$/, '');
    return { status: statusForError(type), code, text: text(Number(code), type, message) };
  }
  if (err instanceof QueryLimitError)
    return { status: 408, code: 159, text: text(159, 'TIMEOUT_EXCEEDED', err.message) };
  if (err instanceof QueryFailedError)
    return { status: 500, code: 1001, text: text(1001, 'STD_EXCEPTION', err.message) };
  return {
    status: 500,
    code: 1001,
    text: text(1001, 'STD_EXCEPTION', err instanceof Error ? err.message : String(err)),
  };
}

export async function startHttpInterface(params: {
  queries: FormattedQueries;
  port: number;
  logger: Logger;
}): Promise<HttpInterface> {
  const { queries, logger } = params;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://interface');
    const method = req.method ?? 'GET';
    const ok = () => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end(method === 'HEAD' ? undefined : 'Ok.\n');
    };
    if (url.pathname === '/ping' && (method === 'GET' || method === 'HEAD')) return ok();
    if (url.pathname !== '/' && url.pathname !== '/ping') {
      req.resume();
      return sendException(
        res,
        404,
        0,
        `There is no handle ${url.pathname}: this read-only interface serves / and /ping`,
      );
    }
    if (method !== 'GET' && method !== 'POST' && !(method === 'HEAD' && !url.searchParams.has('query'))) {
      req.resume();
      res.setHeader('Allow', url.pathname === '/ping' ? 'GET, HEAD' : 'GET, POST');
      return sendException(res, 405, 0, `HTTP method ${method} is not allowed here`);
    }
    if (method !== 'POST' && !url.searchParams.has('query')) return ok();
    if (/^multipart\//i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new ClickHouseHttpError(400, 48, 'NOT_IMPLEMENTED', 'multipart requests are not supported here');
    }
    const settings = readRequestSettings(url.searchParams);
    const body = await readBody(req, MAX_BODY_BYTES);
    const urlQuery = url.searchParams.get('query') ?? '';
    // As ClickHouse's HTTP handler: the `query` parameter first, then the body after a newline.
    const sql = urlQuery.length > 0 && body.length > 0 ? `${urlQuery}\n${body}` : urlQuery || body;
    if (sql.trim() === '') throw new ClickHouseHttpError(400, 62, 'SYNTAX_ERROR', 'Empty query');
    const queryId = settings.queryId ?? randomUUID();
    // The client going away before the answer is sent kills its query.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const started = performance.now();
    const result = await queries.execute(sql, {
      defaultFormat: settings.defaultFormat,
      database: settings.database,
      params: settings.params,
      extras: settings.extras,
      limits: settings.limits,
      signal: gone.signal,
    });
    const gzip = settings.compress && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const payload = gzip ? zlib.gzipSync(result.body) : result.body;
    res.writeHead(200, {
      'Content-Type': contentType(result.format),
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Format': result.format,
      'X-ClickHouse-Timezone': 'UTC',
      'X-ClickHouse-Server-Display-Name': SERVER_NAME,
      'X-ClickHouse-Summary': JSON.stringify({
        result_bytes: String(result.body.length),
        elapsed_ns: String(Math.round((performance.now() - started) * 1e6)),
      }),
      ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
      'Content-Length': payload.length,
    });
    res.end(method === 'HEAD' ? undefined : payload);
  };

  const server: Server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) idle?.();
    });
    handle(req, res).catch((err: unknown) => {
      if (err instanceof QueryCancelledError) return; // its client went away: nobody to answer
      const { status, code, text } = exceptionFor(err);
      if (status >= 500 && status !== 503) logger.warn({ err }, 'clickhouse interface: query failed');
      sendException(res, status, code, text);
    });
  });
  server.keepAliveTimeout = 10_000; // longer than @clickhouse/client's idle-socket TTL (2.5 s)
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot serve the ClickHouse HTTP interface on 127.0.0.1:${params.port} (${err.code}); change --clickhouse-http-port (CLICKHOUSE_HTTP_PORT)`,
          { cause: err },
        ),
      ),
    );
    server.listen(params.port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  logger.info({ url }, 'read-only ClickHouse HTTP interface listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((done) => server.close(() => done()));
        server.closeIdleConnections();
        // The read-only path is closed by its owner, which kills what still runs; answers in
        // flight get their error, then every connection goes.
        if (inFlight > 0) await Promise.race([new Promise<void>((done) => (idle = done)), delay(3000)]);
        server.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

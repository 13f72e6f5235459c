/**
 * The read-only SQL endpoint of a process that holds the embedded ClickHouse (chDB allows one
 * process per data directory, so tools such as `npm run sql` and `npm run verify` ask the running
 * process instead of opening the data themselves). Listens on 127.0.0.1 only.
 *
 *   POST /query  {"sql": "SELECT …"}  →  {"columns": [{"name","type"}], "rows": [[…]], "elapsedMs"}
 *   GET  /healthz
 *
 * Each query goes through the read-only path given (read-only.ts: the guard, `readonly = 1` and the
 * limits); a client that disconnects has its query killed.
 *
 * Errors are JSON: 400 READ_ONLY (refused: not a reading statement, or it reaches outside the
 * database), 400 QUERY_FAILED (ClickHouse's message), 422 QUERY_LIMIT (a limit was hit: `limit` names
 * the ClickHouse setting, `flag` the option that sets it), 503 BUSY (every session busy and the wait
 * queue full; Retry-After), 503 SHUTTING_DOWN, 400 INVALID_FIELD (also for an unknown field) /
 * INVALID_JSON / INVALID_BODY, 413 above the size limit, 415 an unsupported charset or encoding, 405
 * wrong method.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../common/logger.js';
import {
  MAX_SQL_LENGTH,
  QueryBusyError,
  QueryCancelledError,
  QueryFailedError,
  QueryLimitError,
  ReadOnlyClosedError,
  ReadOnlyViolationError,
  type ReadOnlyQueries,
} from './read-only.js';
import { listenOn } from '../common/listen.js';

const QueryRequest = z.object({
  sql: z.string({ error: 'sql must be a string' }).min(1, 'sql must not be empty').max(MAX_SQL_LENGTH),
});

export interface QueryService {
  url: string;
  close(): Promise<void>;
}

/** The setting that chooses the endpoint's port (named when the port is taken). */
export const QUERY_PORT_SETTING = { flag: '--query-port', env: 'QUERY_PORT' };

export async function startQueryService(params: {
  queries: ReadOnlyQueries;
  port: number;
  logger: Logger;
}): Promise<QueryService> {
  const app = express();
  app.disable('x-powered-by');
  const json = express.json({ type: () => true, limit: `${MAX_SQL_LENGTH + 1024}b` });
  const error = (res: express.Response, status: number, code: string, message: string, field?: string) =>
    res.status(status).json({ error: field ? { code, message, field } : { code, message } });

  app
    .route('/query')
    .post(json, async (req, res) => {
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        return error(res, 400, 'INVALID_BODY', 'body must be a JSON object like {"sql": "SELECT …"}', 'body');
      }
      // Unknown fields (`settings`, `__proto__`…) are refused rather than ignored.
      const unknown = Object.keys(body).find((k) => k !== 'sql');
      if (unknown !== undefined)
        return error(res, 400, 'INVALID_FIELD', 'unknown field; the body has only "sql"', unknown);
      const parsed = QueryRequest.safeParse(body);
      if (!parsed.success) return error(res, 400, 'INVALID_FIELD', parsed.error.issues[0]!.message, 'sql');
      const started = performance.now();
      // The client going away before the answer is sent kills its query.
      const gone = new AbortController();
      res.on('close', () => {
        if (!res.writableFinished) gone.abort();
      });
      try {
        const result = await params.queries.query(parsed.data.sql, { signal: gone.signal });
        res.json({ ...result, elapsedMs: Math.round(performance.now() - started) });
      } catch (err) {
        if (err instanceof ReadOnlyViolationError || err instanceof QueryFailedError) {
          return error(res, 400, err.code, err.message, 'sql');
        }
        if (err instanceof QueryLimitError) {
          return res
            .status(422)
            .json({ error: { code: err.code, message: err.message, limit: err.limit, flag: err.flag } });
        }
        if (err instanceof QueryBusyError || err instanceof ReadOnlyClosedError) {
          res.setHeader('Retry-After', '1');
          return error(res, 503, err.code, err.message);
        }
        if (err instanceof QueryCancelledError) {
          params.logger.info(
            { elapsedMs: Math.round(performance.now() - started) },
            'read-only query cancelled: its client went away',
          );
          return;
        }
        throw err;
      }
    })
    .all((_req, res) => {
      res.setHeader('Allow', 'POST');
      error(res, 405, 'METHOD_NOT_ALLOWED', 'use POST /query with {"sql": "SELECT …"}');
    });
  app
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all((_req, res) => {
      res.setHeader('Allow', 'GET');
      error(res, 405, 'METHOD_NOT_ALLOWED', 'use GET /healthz');
    });
  app.use((_req, res) => error(res, 404, 'NOT_FOUND', 'no such route; use POST /query'));
  const onError: ErrorRequestHandler = (
    err: { type?: string; status?: number; message?: string },
    _req,
    res,
    _next,
  ) => {
    if (err.type === 'entity.parse.failed') return error(res, 400, 'INVALID_JSON', 'body is not valid JSON', 'body');
    if (err.type === 'entity.too.large') {
      return error(res, 413, 'BODY_TOO_LARGE', `the body is larger than ${MAX_SQL_LENGTH + 1024} bytes`, 'body');
    }
    if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
      return error(res, 415, 'UNSUPPORTED_ENCODING', err.message ?? 'unsupported encoding', 'body');
    }
    // Other client errors of the body parser (a corrupt gzip stream, an aborted upload…): 4xx, not 500.
    if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      return error(res, err.status, 'BAD_REQUEST', err.message ?? 'bad request', 'body');
    }
    params.logger.error({ err }, 'query service error');
    error(res, 500, 'INTERNAL', 'internal error');
  };
  app.use(onError);

  const server: Server = await listenOn(app.listen.bind(app), params.port, '127.0.0.1', QUERY_PORT_SETTING);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  params.logger.info({ url }, 'read-only SQL endpoint listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

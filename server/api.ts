/**
 * The database's HTTP API (docs/simulation.md "The HTTP API"), on express 5:
 *   GET /queued, GET /resources, POST /delay   — compatible with the original;
 *   POST /delays                                — many delay requests in one (the scheduler's per-tick batch);
 *   GET /healthz, GET /stats                    — liveness (ok, degraded or failed: 503, with the reasons) and counters;
 *   GET /metrics                                — Prometheus text format, when given a registry;
 *   GET /truth                                  — ground truth, mounted only with the evaluation option.
 * Every rejected request gets a JSON error naming the field and changes nothing: validation runs
 * before the engine is touched, and the engine itself validates before it mutates.
 */
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { DatabaseStats, DelayBatchResult, DelayRequest, ErrorBody } from '../common/contracts.js';
import { DelayRequestSchema, MAX_DELAY_BATCH } from '../common/contracts.js';
import { ExecutionNotQueuedError, InvalidArgumentError, ScheduleChangedError, SpikeError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { metricsResponse, type Registry } from '../common/metrics.js';
import type { Database } from './database.js';

export interface ApiOptions {
  /** Largest accepted request body. Default `16kb`: a delay request is under 200 bytes. */
  bodyLimit?: string;
  /** Largest accepted `POST /delays` body. Default `256kb`: 1 000 requests of under 200 bytes. */
  batchBodyLimit?: string;
  /** Extra sections merged into `GET /stats` (capture, scheduler…), computed per request. */
  extraStats?: () => Record<string, unknown>;
  /** Serves `GET /metrics` (Prometheus text format) from this registry. */
  metrics?: Registry;
  /** Why the system is degraded (running, but something waits for a fix), for `GET /healthz`; none: ok. */
  degraded?: () => string[];
  /** Why the server failed and is stopping (fail-stop), for `GET /healthz` (503); null: not failed. */
  failure?: () => string | null;
  logger?: Logger;
}

type Api = Pick<
  Database,
  'queued' | 'resources' | 'delay' | 'stats' | 'executedIn' | 'groundTruth' | 'options' | 'currentTick'
>;

const TICK = /^-?\d{1,16}$/;
const DELAY_FIELDS = new Set(Object.keys(DelayRequestSchema.shape));

/** A request refused as a whole: 400 with the offending field. */
interface Refusal {
  message: string;
  field: string;
}

/**
 * Checks one delay request (`at`: its path in the body, '' for `POST /delay`, `delays.3.` in a
 * batch). Unknown fields (a typo, `__proto__`, `constructor`…) are refused rather than ignored.
 */
function checkDelay(body: unknown, maxDelay: number, at: string): DelayRequest | Refusal {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      message: 'a delay request must be a JSON object like {"id": "<execution uuid>", "delay": 10}',
      field: at.slice(0, -1) || 'body',
    };
  }
  const unknown = Object.keys(body).find((k) => !DELAY_FIELDS.has(k));
  if (unknown !== undefined) {
    return { message: `unknown field; a delay request has only ${[...DELAY_FIELDS].join(', ')}`, field: at + unknown };
  }
  const parsed = DelayRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { message: issue.message, field: at + (issue.path.map(String).join('.') || 'body') };
  }
  if (Math.abs(parsed.data.delay) > maxDelay) {
    return { message: `delay must be between -${maxDelay} and ${maxDelay} ticks`, field: `${at}delay` };
  }
  return parsed.data;
}

function isRefusal(v: DelayRequest | Refusal): v is Refusal {
  return 'message' in v;
}

function sendError(res: Response, status: number, code: string, message: string, field?: string): void {
  const body: ErrorBody = { error: field ? { code, message, field } : { code, message } };
  res.status(status).json(body);
}

/**
 * A delay refused for the queue's state rather than for a bad request, as `POST /delay` answers it
 * and as `POST /delays` answers each of its requests: its status and the field it names.
 */
function stateRefusal(err: unknown): { status: 404 | 409; field: string; err: SpikeError } | undefined {
  if (err instanceof ExecutionNotQueuedError) return { status: 404, field: 'id', err };
  if (err instanceof ScheduleChangedError) return { status: 409, field: 'expectedTick', err };
  return undefined;
}

/** Answers 405 with an Allow header for the methods a path does not serve. */
function methodNotAllowed(allow: string) {
  return (req: Request, res: Response) => {
    res.setHeader('Allow', allow);
    sendError(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use ${allow}`);
  };
}

export function createApi(db: Api, options: ApiOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('json spaces', 0);
  // No ETags: answers change every tick, and hashing every body cost the scheduler's /delay calls.
  app.set('etag', false);

  app
    .route('/queued')
    .get((_req, res) => {
      const items = db.queued();
      if (items.length === 0) res.status(204).end();
      else res.json(items);
    })
    .all(methodNotAllowed('GET'));

  app
    .route('/resources')
    .get((_req, res) => {
      res.json(db.resources());
    })
    .all(methodNotAllowed('GET'));

  // Any content type is parsed as JSON (the original's clients did not always set it); strict mode
  // accepts only objects and arrays at the top level.
  const json = express.json({ type: () => true, limit: options.bodyLimit ?? '16kb', strict: true });
  app
    .route('/delay')
    .post(json, (req, res) => {
      const body: unknown = req.body;
      if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
        sendError(res, 400, 'INVALID_BODY', 'body must be a JSON object like {"id": "<execution uuid>", "delay": 10}');
        return;
      }
      const checked = checkDelay(body, db.options.maxDelay, '');
      if (isRefusal(checked)) {
        sendError(res, 400, 'INVALID_FIELD', checked.message, checked.field);
        return;
      }
      const { id, delay, by, expectedTick } = checked;
      res.json(db.delay(id, delay, by ?? null, expectedTick));
    })
    .all(methodNotAllowed('POST'));

  // Many delay requests in one: every request is checked before any is applied (one bad request
  // refuses the whole body with 400 and changes nothing), then they are applied in order within
  // one turn of the event loop, so no tick runs between them. What depends on the queue's state (not
  // queued: 404, moved by someone else: 409) is answered per request, as POST /delay would.
  const batchJson = express.json({ type: () => true, limit: options.batchBodyLimit ?? '256kb', strict: true });
  app
    .route('/delays')
    .post(batchJson, (req, res) => {
      const body: unknown = req.body;
      const delays = (body as { delays?: unknown } | null)?.delays;
      if (body === null || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(delays)) {
        sendError(
          res,
          400,
          'INVALID_BODY',
          'body must be a JSON object like {"delays": [{"id": "<execution uuid>", "delay": 10}]}',
          'delays',
        );
        return;
      }
      const unknown = Object.keys(body).find((k) => k !== 'delays');
      if (unknown !== undefined) {
        sendError(res, 400, 'INVALID_FIELD', 'unknown field; a batch has only delays', unknown);
        return;
      }
      if (delays.length === 0 || delays.length > MAX_DELAY_BATCH) {
        sendError(res, 400, 'INVALID_FIELD', `delays must hold 1 to ${MAX_DELAY_BATCH} requests`, 'delays');
        return;
      }
      const requests: DelayRequest[] = [];
      for (let i = 0; i < delays.length; i++) {
        const checked = checkDelay(delays[i], db.options.maxDelay, `delays.${i}.`);
        if (isRefusal(checked)) {
          sendError(res, 400, 'INVALID_FIELD', checked.message, checked.field);
          return;
        }
        requests.push(checked);
      }
      const results: DelayBatchResult[] = requests.map(({ id, delay, by, expectedTick }) => {
        try {
          return { status: 200, ...db.delay(id, delay, by ?? null, expectedTick) };
        } catch (err) {
          const refused = stateRefusal(err);
          if (!refused) throw err;
          const { status, field } = refused;
          return { status, id, error: { code: refused.err.code, message: refused.err.message, field } };
        }
      });
      res.json({ results });
    })
    .all(methodNotAllowed('POST'));

  app
    .route('/healthz')
    .get((_req, res) => {
      // Failed is 503: the process is stopping (fail-stop) and only a restart brings it back.
      const failure = options.failure?.() ?? null;
      if (failure !== null) {
        res.status(503).json({ status: 'failed', tick: db.currentTick, reasons: [failure] });
        return;
      }
      // Degraded is still 200: the process works and recovers by itself, a restart would not help.
      const reasons = options.degraded?.() ?? [];
      if (reasons.length > 0) res.json({ status: 'degraded', tick: db.currentTick, reasons });
      else res.json({ status: 'ok', tick: db.currentTick });
    })
    .all(methodNotAllowed('GET'));

  app
    .route('/stats')
    .get((_req, res) => {
      const stats: DatabaseStats & Record<string, unknown> = { ...db.stats(), ...options.extraStats?.() };
      res.json(stats);
    })
    .all(methodNotAllowed('GET'));

  const registry = options.metrics;
  if (registry) {
    // For machines (Prometheus); GET /stats stays for people.
    app
      .route('/metrics')
      .get(async (_req, res) => {
        const { contentType, body } = await metricsResponse(registry);
        res.type(contentType).send(body);
      })
      .all(methodNotAllowed('GET'));
  }

  // What the database executed in a tick range: the reference side of the completeness check.
  app
    .route('/stats/executed')
    .get((req, res) => {
      for (const field of ['from', 'to'] as const) {
        const v = req.query[field];
        if (typeof v !== 'string' || !TICK.test(v)) {
          sendError(res, 400, 'INVALID_FIELD', `${field} must be an integer tick`, field);
          return;
        }
      }
      res.json(db.executedIn(Number(req.query.from), Number(req.query.to)));
    })
    .all(methodNotAllowed('GET'));

  if (db.options.exposeTruth) {
    app
      .route('/truth')
      .get((_req, res) => {
        res.json({ queries: db.groundTruth() });
      })
      .all(methodNotAllowed('GET'));
  }

  app.use((req, res) => {
    sendError(res, 404, 'NOT_FOUND', `no route ${req.method} ${req.path}`);
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const refused = stateRefusal(err);
    if (refused) return sendError(res, refused.status, refused.err.code, refused.err.message, refused.field);
    if (err instanceof InvalidArgumentError) return sendError(res, 400, err.code, err.message, err.field);
    if (err instanceof SpikeError) return sendError(res, 400, err.code, err.message);
    // body-parser errors carry a `type` and an HTTP status.
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'INVALID_JSON', 'body is not valid JSON', 'body');
    if (e.type === 'entity.too.large')
      return sendError(res, 413, 'BODY_TOO_LARGE', 'body is larger than the limit', 'body');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return sendError(res, 415, 'UNSUPPORTED_ENCODING', e.message ?? 'unsupported encoding', 'body');
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return sendError(res, e.status, 'BAD_REQUEST', e.message ?? 'bad request');
    }
    options.logger?.error({ err }, 'unhandled error in API');
    sendError(res, 500, 'INTERNAL', 'internal error');
  };
  app.use(onError);
  return app;
}

/**
 * The scheduler's side of the database's HTTP API (docs/simulation.md "The HTTP API"): the queue and shape at start and on
 * resync, and a tick's decisions in one `POST /delays` (one request per decision, `POST /delay`,
 * against a database that has no batch endpoint, such as the reference). Uses `node:http` with a keep-alive agent rather than
 * fetch: a decision is a small request on a warm socket, and fetch's per-request overhead (~1 ms
 * here) mattered against a budget of a few milliseconds per tick. Every call has a timeout: a hung
 * server must not stall the decision loop past a tick.
 */
import http from 'node:http';
import https from 'node:https';
import {
  MAX_DELAY_BATCH,
  type DatabaseStats,
  type DelayBatchResponse,
  type DelayBatchResult,
  type DelayResponse,
  type ErrorBody,
  type QueuedItem,
} from '../common/contracts.js';
import { DatabaseUnavailableError } from './errors.js';

export type DelayOutcome =
  | { status: 'applied'; response: DelayResponse }
  | { status: 'not-queued' }
  /** 409: it was not at `expectedTick` any more (another client moved it); nothing changed. */
  | { status: 'moved-by-others' }
  /** A 4xx other than 404: the request itself is wrong; sending it again would be refused again. */
  | { status: 'refused'; httpStatus: number; code: string; message: string }
  /** No answer or a 5xx: the request may or may not have applied. */
  | { status: 'failed'; error: string };

/** One decision as sent: move `id` by `delay` ticks, only if it is still scheduled at `expectedTick`. */
export interface DelayRequestItem {
  id: string;
  delay: number;
  expectedTick: number;
}

/**
 * What one delay request's answer means when it says where the execution is (200) or that the
 * queue's state refused it (404, 409): `POST /delay`'s status, or a `POST /delays` result's.
 * Undefined for any other status.
 */
function answerOutcome(status: number, response: () => DelayResponse): DelayOutcome | undefined {
  if (status === 200) return { status: 'applied', response: response() };
  if (status === 404) return { status: 'not-queued' };
  if (status === 409) return { status: 'moved-by-others' };
  return undefined;
}

interface Answer {
  status: number;
  body: string;
}

export class DatabaseClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  /** False once the database answered that it has no `POST /delays` (404, 405 or 501). */
  private batches = true;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    /** Sent as `by` on every `/delay`, so the executions record who moved them. */
    private readonly by: string,
  ) {
    this.base = new URL(baseUrl);
    this.transport = this.base.protocol === 'https:' ? https : http;
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 16 });
  }

  close(): void {
    this.agent.destroy();
  }

  stats(): Promise<DatabaseStats> {
    return this.getJson<DatabaseStats>('/stats');
  }

  /** The queue: `GET /queued` answers 204 when it is empty. */
  async queued(): Promise<QueuedItem[]> {
    const res = await this.request('GET', '/queued');
    if (res.status === 204) return [];
    if (res.status !== 200) throw new DatabaseUnavailableError(`GET /queued answered ${res.status}`);
    return JSON.parse(res.body) as QueuedItem[];
  }

  /** Moves `id` by `delay` ticks, only if it is still scheduled at `expectedTick`. */
  async delay(id: string, delay: number, expectedTick: number): Promise<DelayOutcome> {
    let res: Answer;
    try {
      res = await this.request('POST', '/delay', JSON.stringify({ id, delay, by: this.by, expectedTick }));
    } catch (error) {
      return { status: 'failed', error: String(error) };
    }
    const known = answerOutcome(res.status, () => JSON.parse(res.body) as DelayResponse);
    if (known) return known;
    let body: ErrorBody | null = null;
    try {
      body = JSON.parse(res.body) as ErrorBody;
    } catch {
      // not JSON: the status says enough
    }
    const message = body?.error.message ?? res.body;
    if (res.status < 400 || res.status >= 500) return { status: 'failed', error: `${res.status}: ${message}` };
    return { status: 'refused', httpStatus: res.status, code: body?.error.code ?? String(res.status), message };
  }

  /**
   * Sends many decisions, in one `POST /delays` where the database has it; the outcomes come in
   * the order of `items`, each what `delay` would have given for it alone. A database without the
   * endpoint gets one `POST /delay` each from then on; a batch refused as a whole (400: one of its
   * requests is malformed, which the scheduler never sends) is sent again one by one, so that only
   * the malformed request is refused.
   */
  async delayMany(items: readonly DelayRequestItem[]): Promise<DelayOutcome[]> {
    if (items.length === 0) return [];
    if (!this.batches || items.length === 1) return this.delayEach(items);
    const out: DelayOutcome[] = [];
    for (let i = 0; i < items.length; i += MAX_DELAY_BATCH) {
      out.push(...(await this.delayBatch(items.slice(i, i + MAX_DELAY_BATCH))));
    }
    return out;
  }

  private async delayBatch(items: readonly DelayRequestItem[]): Promise<DelayOutcome[]> {
    const body = JSON.stringify({ delays: items.map((d) => ({ ...d, by: this.by })) });
    let res: Answer;
    try {
      res = await this.request('POST', '/delays', body);
    } catch (error) {
      return items.map(() => ({ status: 'failed', error: String(error) }));
    }
    if (res.status === 200) {
      const { results } = JSON.parse(res.body) as DelayBatchResponse;
      // Only status 200 reads the response, and a result of status 200 is one. The endpoint answers
      // 200, 404 or 409 per request; anything else is taken as a 409.
      return results.map(
        (r) =>
          answerOutcome(r.status, () => r as Extract<DelayBatchResult, { status: 200 }>) ?? {
            status: 'moved-by-others',
          },
      );
    }
    if (res.status === 404 || res.status === 405 || res.status === 501) this.batches = false;
    else if (res.status !== 400)
      return items.map(() => ({ status: 'failed', error: `POST /delays answered ${res.status}` }));
    return this.delayEach(items);
  }

  private delayEach(items: readonly DelayRequestItem[]): Promise<DelayOutcome[]> {
    return Promise.all(items.map((d) => this.delay(d.id, d.delay, d.expectedTick)));
  }

  private async getJson<T>(path: string): Promise<T> {
    const res = await this.request('GET', path);
    if (res.status !== 200) throw new DatabaseUnavailableError(`GET ${path} answered ${res.status}`);
    return JSON.parse(res.body) as T;
  }

  private request(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        new URL(path, this.base),
        {
          method,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers:
            body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new DatabaseUnavailableError(`${method} ${path}: no answer in ${this.timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(
          err instanceof DatabaseUnavailableError
            ? err
            : new DatabaseUnavailableError(`${method} ${path}: ${String(err)}`),
        ),
      );
      req.end(body);
    });
  }
}

/**
 * The scheduler's side of the database's HTTP API (docs/simulation.md "The HTTP API"): the queue and shape at start and on
 * resync, and `POST /delay` for each decision. Uses `node:http` with a keep-alive agent rather than
 * fetch: a decision is a small request on a warm socket, and fetch's per-request overhead (~1 ms
 * here) mattered against a budget of a few milliseconds per tick. Every call has a timeout: a hung
 * server must not stall the decision loop past a tick.
 */
import http from 'node:http';
import https from 'node:https';
import type { DatabaseStats, DelayResponse, ErrorBody, QueuedItem } from '../common/contracts.js';
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

interface Answer {
  status: number;
  body: string;
}

export class DatabaseClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

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
    if (res.status === 200) return { status: 'applied', response: JSON.parse(res.body) as DelayResponse };
    if (res.status === 404) return { status: 'not-queued' };
    if (res.status === 409) return { status: 'moved-by-others' };
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

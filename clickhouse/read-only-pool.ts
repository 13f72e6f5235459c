/**
 * The read-only path on embedded chDB: investigation queries run on sessions of their own, so a slow
 * one never holds up ingest, analysis, the reports or the scheduler, which have their own sessions.
 * (chDB runs queries of different sessions on one data directory at the same time, each on a libuv
 * worker thread, so the event loop stays free; the queries of one session run one after another.)
 *
 *  - `sessions` reader sessions, each opened with the limits and then `readonly = 1` (read-only.ts);
 *    one more, also read-only, parses for the guard; a control session (not read-only, never given a
 *    user's text) kills queries;
 *  - a bounded wait queue: when every reader is busy and `queueLength` queries wait, the next one is
 *    refused at once (QueryBusyError, 503);
 *  - every query carries a marker (`/* ro:<uuid> *\/`, first in its text as `system.processes` shows
 *    it) and is killed with `KILL QUERY … ASYNC` from the control session when its caller aborts (the
 *    HTTP client went away), when it outlives the time limit by KILL_GRACE_MS (ClickHouse checks its
 *    own limit between blocks), and at shutdown. An abort signal alone would not stop it: chDB keeps
 *    computing an abandoned query and its session stays blocked;
 *  - a session on which a query failed is closed and opened afresh: chDB hands the partial output of
 *    a failed query (a JSON header, for instance) to the next query of the same session.
 */
import { randomUUID } from 'node:crypto';
import { ConfigError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { createClickHouse, type ClickHouseClient, type ClickHouseTarget } from './client.js';
import {
  compactResult,
  guardClickHouseSettings,
  KILL_GRACE_MS,
  QueryBusyError,
  QueryCancelledError,
  queryError,
  ReadOnlyClosedError,
  ReadOnlyViolationError,
  readOnlyClickHouseSettings,
  timeLimitError,
  type QueryResult,
  type ReadOnlyOptions,
  type ReadOnlyQueries,
} from './read-only.js';
import { tightenLimits } from './request-settings.js';
import { openOwnSession, sessionStatements, type FormattedRequest, type FormattedResult } from './request-session.js';
import { clientGuardQuery, RESULT_FORMAT, SqlGuard } from './sql-guard/guard.js';
import { OUTPUT_FORMATS } from './sql-guard/output-formats.js';

const KILL_RETRY_MS = 250;
const SHUTDOWN_WAIT_MS = 3000;

/**
 * chDB runs each query on one of Node's libuv worker threads (UV_THREADPOOL_SIZE, 4 by default),
 * which file reads and writes share — the outbox's on the tick path among them. Long investigations
 * on every thread would stall them (checked: four long queries on four threads made a file read wait
 * until one ended), so the investigations, plus the reports' session, must leave a thread free. The
 * size is fixed before the program's code runs (setting it from the program is too late): it is the
 * environment's.
 */
export function checkThreadPool(sessions: number, env: NodeJS.ProcessEnv = process.env): void {
  const size = Number(env.UV_THREADPOOL_SIZE) || 4;
  if (sessions + 2 > size) {
    throw new ConfigError(
      'sessions',
      sessions,
      `must be at most ${size - 2}: Node has ${size} worker threads (UV_THREADPOOL_SIZE), shared by chDB queries and file writes; start with UV_THREADPOOL_SIZE=${sessions + 2} or more`,
      '--sql-sessions',
    );
  }
}

/** A chDB session opened with fixed settings, replaced after a failure. */
class Session {
  private client: ClickHouseClient | undefined;

  constructor(
    private readonly target: ClickHouseTarget,
    private readonly settings: Record<string, string | number> | undefined,
  ) {}

  async get(): Promise<ClickHouseClient> {
    if (this.client) return this.client;
    const client = createClickHouse(this.target);
    if (this.settings) {
      try {
        // chDB keeps a setting sent with a statement on the session: these stay for every later query.
        await client.command({ query: 'SELECT 1', clickhouse_settings: this.settings });
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    this.client = client;
    return client;
  }

  async retire(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}

interface Running {
  id: string;
  /** Why it is being killed, once it is. */
  reason?: 'cancelled' | 'timeout' | 'shutdown';
}

interface Waiter {
  resolve(session: Session): void;
  reject(err: Error): void;
}

export class ReadOnlyPool implements ReadOnlyQueries {
  private readonly free: Session[] = [];
  private readonly waiting: Waiter[] = [];
  private readonly running = new Map<string, Running>();
  private readonly parser: Session;
  private readonly control: Session;
  private readonly readers: Session[];
  private readonly guard: SqlGuard;
  private parsing: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly target: ClickHouseTarget & { kind: 'embedded' },
    private readonly options: ReadOnlyOptions,
    private readonly logger: Logger,
  ) {
    const settings = readOnlyClickHouseSettings(options);
    this.control = new Session(target, undefined);
    this.parser = new Session(target, guardClickHouseSettings(options));
    this.readers = Array.from({ length: options.sessions }, () => new Session(target, settings));
    this.free.push(...this.readers);
    this.guard = new SqlGuard((sql) => this.parse(sql));
  }

  /**
   * Opens the control session (a data directory held by another process fails here) and runs the
   * guard once, which reads the engine's function lists: the first investigation does not wait for
   * them, and a guard that cannot work stops the start.
   */
  async open(): Promise<this> {
    await this.control.get();
    await this.guard.check('SELECT 1');
    return this;
  }

  async query(sql: string, options: { signal?: AbortSignal } = {}): Promise<QueryResult> {
    const { signal } = options;
    if (this.closed) throw new ReadOnlyClosedError();
    if (signal?.aborted) throw new QueryCancelledError();
    const statement = await this.guard.check(sql);
    return this.run(signal, this.options.maxExecutionMs, async (id, session) => {
      const client = await session.get();
      const rs = await client.query({ query: `/* ro:${id} */ ${statement}`, format: RESULT_FORMAT });
      return compactResult(await rs.json());
    });
  }

  /**
   * One statement of a ClickHouse HTTP client (http-interface.ts): guarded as `query` is, its result
   * in the format its FORMAT clause names or `defaultFormat` (both from OUTPUT_FORMATS). A request
   * with settings, parameters or a database runs on a session opened for it alone with those, then
   * the limits (tightened by the request's, never loosened) and `readonly = 1` last; it still takes
   * one of the pool's places, so the pool's bound on concurrent queries holds.
   */
  async execute(sql: string, request: FormattedRequest): Promise<FormattedResult> {
    const { signal } = request;
    if (this.closed) throw new ReadOnlyClosedError();
    if (signal?.aborted) throw new QueryCancelledError();
    const checked = await this.guard.withParameters(request.params ?? []).checkWithFormat(sql);
    const format = checked.format ?? request.defaultFormat;
    if (!OUTPUT_FORMATS.has(format)) throw new ReadOnlyViolationError(`FORMAT ${format} is not accepted here`);
    const limits = tightenLimits(this.options, request.limits ?? {});
    const own = sessionStatements(request, limits);
    return this.run(signal, limits.maxExecutionMs, async (id, session) => {
      const client = own.length === 0 ? await session.get() : await openOwnSession(this.target, own);
      try {
        const rs = await client.exec({ query: `/* ro:${id} */ ${checked.statement}\nFORMAT ${format}` });
        const chunks: Buffer[] = [];
        for await (const chunk of rs.stream as AsyncIterable<Buffer>) chunks.push(chunk);
        return { body: Buffer.concat(chunks), format };
      } finally {
        if (own.length > 0) await client.close();
      }
    });
  }

  /**
   * Runs `work` on a free session (waiting in the bounded queue for one), marked with an id so it
   * can be killed: on its caller's abort, past its time limit plus KILL_GRACE_MS, at shutdown. A
   * session on which a query failed is replaced.
   */
  private async run<T>(
    signal: AbortSignal | undefined,
    maxExecutionMs: number,
    work: (id: string, session: Session) => Promise<T>,
  ): Promise<T> {
    const session = await this.acquire(signal);
    if (signal?.aborted) {
      // The caller went away while the statement was being checked: nothing to run.
      this.release(session);
      throw new QueryCancelledError();
    }
    const run: Running = { id: randomUUID() };
    this.running.set(run.id, run);
    const stop = (reason: NonNullable<Running['reason']>) => {
      if (run.reason) return;
      run.reason = reason;
      void this.killUntilDone(run);
    };
    const timer = setTimeout(() => stop('timeout'), maxExecutionMs + KILL_GRACE_MS);
    const onAbort = () => stop('cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    let ok = false;
    try {
      if (this.closed) throw new ReadOnlyClosedError();
      const result = await work(run.id, session);
      ok = true;
      return result;
    } catch (err) {
      if (run.reason === 'cancelled') throw new QueryCancelledError();
      if (run.reason === 'shutdown' || err instanceof ReadOnlyClosedError) throw new ReadOnlyClosedError();
      if (run.reason === 'timeout') throw timeLimitError({ ...this.options, maxExecutionMs });
      throw queryError(err);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.running.delete(run.id);
      if (!ok) await session.retire().catch((err: unknown) => this.logger.warn({ err }, 'read-only session close'));
      this.release(session);
    }
  }

  /** Kills every running query, refuses the waiting ones, closes every session. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new ReadOnlyClosedError());
    for (const run of this.running.values()) {
      if (!run.reason) {
        run.reason = 'shutdown';
        void this.killUntilDone(run);
      }
    }
    const deadline = Date.now() + SHUTDOWN_WAIT_MS;
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await this.parsing.catch(() => undefined);
    for (const s of [...this.readers, this.parser, this.control]) await s.retire().catch(() => undefined);
  }

  /** The guard's statements run one at a time on the parser session, which is renewed after a failure. */
  private parse(sql: string): Promise<unknown[][]> {
    const next = this.parsing.then(async () => {
      const client = await this.parser.get();
      try {
        return await clientGuardQuery(client)(sql);
      } catch (err) {
        await this.parser.retire();
        throw err;
      }
    });
    this.parsing = next.catch(() => undefined);
    return next;
  }

  private acquire(signal: AbortSignal | undefined): Promise<Session> {
    const session = this.free.pop();
    if (session) return Promise.resolve(session);
    if (this.waiting.length >= this.options.queueLength) {
      return Promise.reject(
        new QueryBusyError(
          `all ${this.options.sessions} read-only sessions are busy and ${this.waiting.length} queries wait; ` +
            'try again shortly (--sql-sessions, --sql-queue)',
        ),
      );
    }
    return new Promise<Session>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        waiter.reject(new QueryCancelledError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(session: Session): void {
    const next = this.waiting.shift();
    if (next) next.resolve(session);
    else this.free.push(session);
  }

  /** KILL … ASYNC until the query has ended: a KILL sent before the query started finds nothing. */
  private async killUntilDone(run: Running): Promise<void> {
    while (this.running.has(run.id)) {
      try {
        const control = await this.control.get();
        await control.command({ query: `KILL QUERY WHERE startsWith(query, '/* ro:${run.id} */') ASYNC` });
      } catch (err) {
        this.logger.warn({ err }, 'could not kill a read-only query');
        await this.control.retire().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, KILL_RETRY_MS));
    }
    this.logger.info({ reason: run.reason }, 'read-only query killed');
  }
}

/** The embedded read-only path on `target`'s data directory. */
export function openReadOnlyPool(params: {
  target: ClickHouseTarget & { kind: 'embedded' };
  options: ReadOnlyOptions;
  logger: Logger;
}): Promise<ReadOnlyPool> {
  return new ReadOnlyPool(params.target, params.options, params.logger).open();
}

/**
 * The read-only SQL path for people and tools (`npm run sql`, `POST /query`, `npm run verify`, the
 * reports): what every implementation shares — its errors, its limits and how they reach ClickHouse.
 *
 * Three locks, outermost first:
 *  1. the guard (sql-guard/): ClickHouse parses the statement and only reading statements that read
 *     the database and compute are accepted — no table function or function that reaches files,
 *     programs, other servers or the network, no INTO OUTFILE, no SETTINGS;
 *  2. ClickHouse's `readonly = 1` on the session or request: no writes, no DDL, no setting changes;
 *  3. limits on every query: time, memory, result rows and bytes, with `readonly` applied last so the
 *     query cannot change them (`readonly = 1` refuses any later change, SETTINGS clauses included).
 * The implementations: read-only-pool.ts (embedded chDB: sessions of its own, a wait queue, KILL on
 * timeout, disconnect and shutdown) and server-read-only.ts (a ClickHouse server: per-request
 * settings, abort and ClickHouse's cancel-on-disconnect).
 */
import { SpikeError } from '../common/errors.js';
import { integer, type SettingValues } from '../common/settings.js';
import { clickHouseErrorType } from './failures.js';

export const MAX_SQL_LENGTH = 100_000;
/** Largest statement ClickHouse parses on these paths (a 100 000-character text is up to 400 kB of UTF-8). */
export const MAX_QUERY_BYTES = 1_048_576;

/** A statement that is not a read, or reads what it may not; refused before it runs. */
export class ReadOnlyViolationError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('READ_ONLY', message, options);
  }
}

/** ClickHouse refused or failed the query; `message` is ClickHouse's. */
export class QueryFailedError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('QUERY_FAILED', message, options);
  }
}

/** The query hit one of the read-only limits (`limit` is the ClickHouse setting, `flag` the option). */
export class QueryLimitError extends SpikeError {
  constructor(
    readonly limit: string,
    readonly flag: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('QUERY_LIMIT', message, options);
  }
}

/** Every session is busy and the wait queue is full: try again shortly. */
export class QueryBusyError extends SpikeError {
  constructor(message: string) {
    super('BUSY', message);
  }
}

/** The caller went away (HTTP client disconnected, abort signal): the query was killed. */
export class QueryCancelledError extends SpikeError {
  constructor(message = 'the query was cancelled by its caller') {
    super('CANCELLED', message);
  }
}

/** The read-only path is shutting down (or closed); its queries were killed. */
export class ReadOnlyClosedError extends SpikeError {
  constructor() {
    super('SHUTTING_DOWN', 'the read-only SQL path is shutting down');
  }
}

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

/** One read-only path: the embedded pool, a server client, or the embedded endpoint over HTTP. */
export interface ReadOnlyQueries {
  /** Runs one reading statement; `signal` cancels it (the query is killed, not just abandoned). */
  query(sql: string, options?: { signal?: AbortSignal }): Promise<QueryResult>;
  close(): Promise<void>;
}

/** How long past its time limit a query may run before the path kills it (ClickHouse checks between blocks). */
export const KILL_GRACE_MS = 2000;

/** The limits of every read-only query, in every mode. */
export const readOnlyLimitSettings = {
  maxExecutionMs: integer({
    flag: '--sql-max-execution-ms',
    env: 'SQL_MAX_EXECUTION_MS',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    doc: 'Read-only SQL (npm run sql, POST /query, reports): longest run of one query in ms (ClickHouse max_execution_time); it then ends with QUERY_LIMIT.',
  }),
  maxMemoryBytes: integer({
    flag: '--sql-max-memory-bytes',
    env: 'SQL_MAX_MEMORY_BYTES',
    default: 1_073_741_824,
    min: 16_777_216,
    max: 1_099_511_627_776,
    doc: 'Read-only SQL: memory one query may use, in bytes (max_memory_usage).',
  }),
  maxResultRows: integer({
    flag: '--sql-max-result-rows',
    env: 'SQL_MAX_RESULT_ROWS',
    default: 500_000,
    min: 1,
    max: 100_000_000,
    doc: 'Read-only SQL: rows one result may have (max_result_rows); more end with QUERY_LIMIT.',
  }),
  maxResultBytes: integer({
    flag: '--sql-max-result-bytes',
    env: 'SQL_MAX_RESULT_BYTES',
    default: 268_435_456,
    min: 1024,
    max: 17_179_869_184,
    doc: 'Read-only SQL: uncompressed bytes one result may have (max_result_bytes).',
  }),
  maxThreads: integer({
    flag: '--sql-max-threads',
    env: 'SQL_MAX_THREADS',
    default: 1,
    min: 1,
    max: 256,
    doc: 'Read-only SQL: threads one query may use (max_threads); 1 leaves the other cores to the pipeline.',
  }),
};

/** The embedded endpoint's concurrency (a server bounds its own). */
export const readOnlyPoolSettings = {
  sessions: integer({
    flag: '--sql-sessions',
    env: 'SQL_SESSIONS',
    default: 2,
    min: 1,
    max: 16,
    doc: 'Embedded mode: chDB sessions of the read-only endpoint, i.e. investigation queries that run at once.',
  }),
  queueLength: integer({
    flag: '--sql-queue',
    env: 'SQL_QUEUE',
    default: 8,
    min: 0,
    max: 1000,
    doc: 'Embedded mode: queries that may wait for a busy session; more are answered 503 BUSY.',
  }),
};

export type ReadOnlyOptions = SettingValues<typeof readOnlyLimitSettings> & SettingValues<typeof readOnlyPoolSettings>;

/** The defaults of every read-only option, with the given ones instead (tests, tools, reports). */
export function readOnlyOptions(overrides: Partial<ReadOnlyOptions> = {}): ReadOnlyOptions {
  const specs = { ...readOnlyLimitSettings, ...readOnlyPoolSettings };
  const defaults = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.default]));
  return { ...(defaults as ReadOnlyOptions), ...overrides };
}

/**
 * The ClickHouse settings of a read-only session or request, `readonly` last: chDB applies them as
 * `SET` statements in this order, and after `readonly = 1` no setting can change any more.
 */
export function readOnlyClickHouseSettings(o: ReadOnlyOptions) {
  return {
    max_execution_time: o.maxExecutionMs / 1000,
    timeout_overflow_mode: 'throw',
    max_memory_usage: String(o.maxMemoryBytes),
    max_result_rows: String(o.maxResultRows),
    max_result_bytes: String(o.maxResultBytes),
    result_overflow_mode: 'throw',
    max_query_size: String(MAX_QUERY_BYTES),
    max_threads: o.maxThreads,
    readonly: '1',
  } as const;
}

/**
 * The settings of the guard's own statements (parse only, never a user's query): read-only and
 * bounded in time (at least 10 s: the engine's function list is read once) and memory, but not held
 * to the result limits (that list alone is ~1 800 rows).
 */
export function guardClickHouseSettings(o: ReadOnlyOptions) {
  const { max_result_rows: _rows, max_result_bytes: _bytes, ...settings } = readOnlyClickHouseSettings(o);
  // Assigning an existing key keeps its place: `readonly` stays last.
  return { ...settings, max_execution_time: Math.max(o.maxExecutionMs, 10_000) / 1000 };
}

const LIMITS: Record<string, [limit: string, flag: string, what: string]> = {
  TIMEOUT_EXCEEDED: ['max_execution_time', '--sql-max-execution-ms', 'ran longer than the time limit'],
  TOO_MANY_ROWS_OR_BYTES: [
    'max_result_rows / max_result_bytes',
    '--sql-max-result-rows / --sql-max-result-bytes',
    'returned more than the result limit',
  ],
  MEMORY_LIMIT_EXCEEDED: ['max_memory_usage', '--sql-max-memory-bytes', 'needed more than the memory limit'],
};

/** The error of a failed read-only query: QueryLimitError at a limit, QueryFailedError otherwise. */
export function queryError(err: unknown): QueryLimitError | QueryFailedError {
  const message = err instanceof Error ? err.message.trim() : String(err);
  const first = message.split('\n', 1)[0]!;
  const limit = LIMITS[clickHouseErrorType(err) ?? ''];
  if (limit) {
    const [setting, flag, what] = limit;
    return new QueryLimitError(setting, flag, `the query ${what} (${setting}; ${flag}): ${first}`, { cause: err });
  }
  return new QueryFailedError(message, { cause: err });
}

/** The time limit, reached by the path's own timer (the engine did not stop the query in time). */
export function timeLimitError(o: ReadOnlyOptions): QueryLimitError {
  return new QueryLimitError(
    'max_execution_time',
    '--sql-max-execution-ms',
    `the query ran longer than the time limit of ${o.maxExecutionMs} ms (max_execution_time; --sql-max-execution-ms) and was killed`,
  );
}

/** A `JSONCompact` answer as columns and rows. */
export function compactResult(json: unknown): QueryResult {
  const { meta, data } = json as { meta: { name: string; type: string }[]; data: unknown[][] };
  return { columns: meta.map(({ name, type }) => ({ name, type })), rows: data };
}

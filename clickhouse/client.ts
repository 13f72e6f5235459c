/**
 * The one way the product opens ClickHouse. Embedded chDB by default (ClickHouse's engine in this
 * process, data under `./data/clickhouse`), or a ClickHouse server over HTTP when `CLICKHOUSE_URL`
 * is set. Both return a plain `@clickhouse/client` client, so the rest of the code runs the same SQL
 * through the same API and never knows which one it talks to.
 *
 * Every statement the product runs names its tables with the database (`spike.executions`): the
 * chDB connection ignores the client's `database` option, and a server rejects a client whose
 * default database does not exist yet (before the first migration creates it).
 *
 * chDB constraints (checked with chdb 3.4):
 *  - One process per data directory: chDB locks `<dir>/status`, and a second process gets
 *    "Cannot lock file …/status" (ClickHouseDataLockedError). A tool that needs the data of a
 *    running embedded process must ask that process (e.g. a read-only HTTP endpoint).
 *  - One engine per process: while a client on directory A is open, opening directory B in the same
 *    process is rejected ("only one active data directory per process", ClickHouseEngineBusyError).
 *    Any number of clients may share the directory that is open (they share the engine), and once
 *    every client on A is closed, B can be opened. So the components of one embedded process all
 *    use the same `dataPath`, and tests use one temporary directory per test file (vitest runs each
 *    file in its own forked process) and close their clients in `afterAll`.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
} from '@clickhouse/client';
import { createChdbConnection } from 'chdb/connection';
import { integer, text, type SettingValues } from '../common/settings.js';
import { ClickHouseDataLockedError, ClickHouseEngineBusyError } from './errors.js';
import { IDENTIFIER } from './queries.js';

export type { ClickHouseClient };

// Defined beside the SQL text (queries.ts), which pure modules import without loading chDB.
export { IDENTIFIER };

export const clickhouseSettings = {
  url: text({
    flag: '--clickhouse-url',
    env: 'CLICKHOUSE_URL',
    default: undefined,
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'ClickHouse server URL (e.g. http://clickhouse:8123). Unset: embedded chDB in this process.',
  }),
  user: text({
    flag: '--clickhouse-user',
    env: 'CLICKHOUSE_USER',
    default: 'default',
    maxLength: 200,
    doc: 'ClickHouse user (server mode only).',
  }),
  password: text({
    env: 'CLICKHOUSE_PASSWORD',
    default: undefined,
    maxLength: 1000,
    doc: 'ClickHouse password (server mode only; environment only, never a flag, so it stays out of `ps`).',
  }),
  database: text({
    flag: '--clickhouse-database',
    env: 'CLICKHOUSE_DATABASE',
    default: 'spike',
    pattern: IDENTIFIER,
    rule: 'must be an identifier: a letter or _ then letters, digits or _ (at most 64)',
    doc: 'Database that holds the product tables; created by the migrations.',
  }),
  dataPath: text({
    flag: '--clickhouse-data',
    env: 'CLICKHOUSE_DATA',
    default: './data/clickhouse',
    maxLength: 4096,
    doc: 'Embedded mode: data directory of chDB (one process per directory).',
  }),
  retentionDays: integer({
    flag: '--retention-days',
    env: 'CLICKHOUSE_RETENTION_DAYS',
    default: 0,
    min: 0,
    max: 36_500,
    doc: 'Days to keep executions and windows (a table TTL, applied at start); 0 keeps everything.',
  }),
  requestTimeoutMs: integer({
    flag: '--clickhouse-timeout-ms',
    env: 'CLICKHOUSE_REQUEST_TIMEOUT_MS',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    doc: 'Server mode: timeout of one request in milliseconds.',
  }),
};

/** Where the data lives: this process (chDB) or a server over HTTP. */
export type ClickHouseTarget =
  | { kind: 'embedded'; dataPath: string }
  | { kind: 'server'; url: string; user: string; password: string; requestTimeoutMs: number };

/** Every ClickHouse option, compiled: no optional fields. */
export interface ClickHouseOptions {
  target: ClickHouseTarget;
  database: string;
  /** 0: no TTL. */
  retentionDays: number;
}

export function compileClickHouseOptions(v: SettingValues<typeof clickhouseSettings>): ClickHouseOptions {
  const target: ClickHouseTarget =
    v.url === undefined
      ? { kind: 'embedded', dataPath: resolve(v.dataPath) }
      : { kind: 'server', url: v.url, user: v.user, password: v.password ?? '', requestTimeoutMs: v.requestTimeoutMs };
  return { target, database: v.database, retentionDays: v.retentionDays };
}

/** For logs: where the data is, without credentials. */
export function describeTarget(target: ClickHouseTarget): string {
  if (target.kind === 'embedded') return `chdb:${target.dataPath}`;
  const u = new URL(target.url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/**
 * Opens a client. Embedded: creates the data directory if needed and binds this process's chDB
 * engine to it (see the constraints above). Server: lazy, nothing is sent until the first query.
 */
export function createClickHouse(
  target: ClickHouseTarget,
  /** Server mode: keep the client's own log lines off stderr (the caller reports every failure itself). */
  options: { quiet?: boolean } = {},
): ClickHouseClient {
  if (target.kind === 'server') {
    return createClient({
      url: target.url,
      username: target.user,
      password: target.password,
      request_timeout: target.requestTimeoutMs,
      // Integers as JSON numbers (ticks are < 2^53), the same as chDB's default, so reads parse alike.
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
      ...(options.quiet ? { log: { level: ClickHouseLogLevel.OFF } } : {}),
    });
  }
  const dataPath = resolve(target.dataPath);
  mkdirSync(dataPath, { recursive: true });
  try {
    // chdb types its connection against @clickhouse/client-common 1.23.0, while @clickhouse/client
    // 1.23.1 bundles its own copy of the same interfaces: structurally identical at runtime, but
    // TypeScript sees two declarations, hence the cast.
    const connection = createChdbConnection({
      path: dataPath,
    }) as unknown as ClickHouseClientConfigOptions['connection'];
    return createClient({ connection });
  } catch (err) {
    const message = messages(err);
    if (/only one active data directory/i.test(message)) throw new ClickHouseEngineBusyError(dataPath, { cause: err });
    // chDB prints the engine's reason ("Cannot lock file …/status") to stderr and throws a bare
    // "Failed to create connection": the status file names the process that holds the directory.
    const holder = lockHolder(dataPath);
    if (holder !== null || /Cannot lock file/i.test(message))
      throw new ClickHouseDataLockedError(dataPath, holder, { cause: err });
    throw err;
  }
}

/** The live process, other than this one, that the data directory's status file names. */
function lockHolder(dataPath: string): number | null {
  let status: string;
  try {
    status = readFileSync(join(dataPath, 'status'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(/^PID:\s*(\d+)/m.exec(status)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return pid;
  } catch (e) {
    // EPERM: it exists but belongs to another user, which still holds the lock.
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** The messages of an error and its causes: chDB puts the engine's reason in `cause`. */
function messages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(' / ');
}

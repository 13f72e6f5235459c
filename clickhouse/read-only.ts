/**
 * The read-only SQL path for people and tools (`npm run sql`, `npm run verify`): a statement is
 * accepted only if it starts with a reading keyword, and it always runs with ClickHouse's own
 * `readonly` setting, so the engine refuses writes, DDL, setting changes and table functions
 * that touch files even if the keyword check were fooled. Two locks, one in our code and one in
 * the engine.
 *
 * Give this path a client of its own: with embedded chDB a setting sent with a query stays on that
 * client's session afterwards, so `readonly = 1` on a client that also writes would block its
 * writes from then on (a separate client on the same data directory is a separate session).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { SpikeError } from '../common/errors.js';

/** A statement that is not a read, refused before it reaches ClickHouse. */
export class ReadOnlyViolationError extends SpikeError {
  constructor(message: string) {
    super('READ_ONLY', message);
  }
}

/** ClickHouse refused or failed the query; `message` is ClickHouse's. */
export class QueryFailedError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('QUERY_FAILED', message, options);
  }
}

const READING = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS'];
export const MAX_SQL_LENGTH = 100_000;

/**
 * `readonly = 1`: reads only, and nothing may be changed in the request, settings included. (2 would
 * allow the request to set limits, but it also lets table functions such as file() read the host's
 * files; 1 refuses them.) Time limits are therefore the caller's (request timeout / abort).
 */
export const READ_ONLY_SETTINGS = { readonly: '1' } as const;

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
}

/**
 * Index of the first `;` outside quotes and comments, or -1. chDB runs `a; b` as two statements,
 * and a second statement's output can desynchronise the session, so only one is ever sent.
 */
function statementEnd(sql: string): number {
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < sql.length && sql[i] !== c; i++) if (sql[i] === '\\') i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === ';') {
      return i;
    }
  }
  return -1;
}

const COMMENTS_AND_SPACE = /(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)/g;

/**
 * The statement with string literals emptied and comments turned into spaces; quoted identifiers
 * keep their text (ClickHouse accepts a quoted function name: `file`(…)), so what is left can be
 * searched for clauses and functions without a string or a comment hiding or faking one.
 */
function codeOnly(sql: string): string {
  let out = '';
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'") {
      for (i++; i < sql.length && sql[i] !== c; i++) if (sql[i] === '\\') i++;
      out += "''";
    } else if (c === '"' || c === '`') {
      let name = '';
      for (i++; i < sql.length && sql[i] !== c; i++) {
        if (sql[i] === '\\') i++;
        name += sql[i] ?? '';
      }
      out += ` ${name} `;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
      out += ' ';
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 1;
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * What the engine's `readonly = 1` does not stop (found by the hostile-input test): `INTO OUTFILE`
 * writes a file on the host from any SELECT or SHOW, the `file()` function reads any file the
 * process can read, and DESCRIBE of a table function reaches files or the network to infer a
 * schema. So no statement may name these table functions or that clause.
 */
const OUTSIDE_WORLD =
  /\b(file|filecluster|url|urlcluster|s3|s3cluster|gcs|oss|cosn|hdfs|hdfscluster|azureblobstorage|azureblobstoragecluster|executable|remote|remotesecure|cluster|clusterallreplicas|mysql|postgresql|mongodb|redis|sqlite|odbc|jdbc|iceberg\w*|deltalake\w*|hudi\w*|input)\s*\(/i;
const INTO_OUTFILE = /\bINTO\s+OUTFILE\b/i;

/** Throws ReadOnlyViolationError unless `sql` is one reading statement; returns that statement. */
export function checkReadOnly(sql: string): string {
  if (sql.length > MAX_SQL_LENGTH) {
    throw new ReadOnlyViolationError(`the query is longer than ${MAX_SQL_LENGTH} characters`);
  }
  let statement = sql;
  const end = statementEnd(sql);
  if (end >= 0) {
    if (sql.slice(end + 1).replace(COMMENTS_AND_SPACE, '').length > 0) {
      throw new ReadOnlyViolationError('one statement at a time, please');
    }
    statement = sql.slice(0, end);
  }
  // Leading comments and whitespace do not count.
  const body = statement.replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, '').trim();
  if (body.length === 0) throw new ReadOnlyViolationError('the query is empty');
  const keyword = /^[A-Za-z]+/.exec(body)?.[0]?.toUpperCase() ?? '';
  if (!READING.includes(keyword)) {
    throw new ReadOnlyViolationError(
      `only reading statements are allowed here (${READING.join(', ')}); got "${keyword || body.slice(0, 20)}"`,
    );
  }
  const code = codeOnly(body);
  if (INTO_OUTFILE.test(code)) throw new ReadOnlyViolationError('INTO OUTFILE writes a file; not allowed here');
  const reach = OUTSIDE_WORLD.exec(code);
  if (reach) {
    throw new ReadOnlyViolationError(
      `${reach[1]}() reaches files, programs or the network; only the database's tables can be read here`,
    );
  }
  return body;
}

/** Runs one reading statement with the engine's read-only setting. */
export async function queryReadOnly(client: ClickHouseClient, sql: string): Promise<QueryResult> {
  const body = checkReadOnly(sql);
  try {
    const rs = await client.query({ query: body, format: 'JSONCompact', clickhouse_settings: READ_ONLY_SETTINGS });
    const json = await rs.json<unknown[]>();
    const meta = (json as unknown as { meta: { name: string; type: string }[] }).meta;
    const data = (json as unknown as { data: unknown[][] }).data;
    return { columns: meta.map(({ name, type }) => ({ name, type })), rows: data };
  } catch (err) {
    throw new QueryFailedError(err instanceof Error ? err.message.trim() : String(err), { cause: err });
  }
}

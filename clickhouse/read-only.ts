/**
 * The read-only SQL path for people and tools (`npm run sql`, `npm run verify`): a statement is
 * accepted only if it starts with a reading keyword, and it always runs with ClickHouse's own
 * `readonly` setting, so the engine refuses writes, DDL, setting changes and table functions
 * that touch files even if the keyword check were fooled. Two locks, one in our code and one in
 * the engine.
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

/** Throws ReadOnlyViolationError unless `sql` is one reading statement. */
export function checkReadOnly(sql: string): string {
  if (sql.length > MAX_SQL_LENGTH)
    throw new ReadOnlyViolationError(`the query is longer than ${MAX_SQL_LENGTH} characters`);
  // Leading comments and whitespace do not count; one trailing semicolon is allowed.
  const body = sql
    .replace(/^(\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/, '')
    .replace(/;\s*$/, '')
    .trim();
  if (body.length === 0) throw new ReadOnlyViolationError('the query is empty');
  const keyword = /^[A-Za-z]+/.exec(body)?.[0]?.toUpperCase() ?? '';
  if (!READING.includes(keyword)) {
    throw new ReadOnlyViolationError(
      `only reading statements are allowed here (${READING.join(', ')}); got "${keyword || body.slice(0, 20)}"`,
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

/**
 * How a tool reaches the running system's data, read-only, in either mode: with `CLICKHOUSE_URL`
 * set it talks to the ClickHouse server directly (with `readonly = 1`); otherwise it asks the
 * embedded process's read-only endpoint (`QUERY_URL`, default http://127.0.0.1:8124).
 */
import { SpikeError } from '../common/errors.js';
import { text } from '../common/settings.js';
import { createClickHouse, type ClickHouseTarget } from './client.js';
import {
  checkReadOnly,
  queryReadOnly,
  QueryFailedError,
  ReadOnlyViolationError,
  type QueryResult,
} from './read-only.js';

export const queryClientSettings = {
  queryUrl: text({
    flag: '--query-url',
    env: 'QUERY_URL',
    default: 'http://127.0.0.1:8124',
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'Embedded mode: the running process’s read-only SQL endpoint.',
  }),
};

/** The running system could not be reached. */
export class SystemUnreachableError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNREACHABLE', message, options);
  }
}

export interface ReadOnlyQueries {
  query(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}

export function openReadOnly(params: { target: ClickHouseTarget; queryUrl: string }): ReadOnlyQueries {
  if (params.target.kind === 'server') {
    const client = createClickHouse(params.target);
    return { query: (sql) => queryReadOnly(client, sql), close: () => client.close() };
  }
  const endpoint = new URL('/query', params.queryUrl).toString();
  return {
    async query(sql) {
      checkReadOnly(sql);
      let res: Response;
      try {
        res = await fetch(endpoint, {
          method: 'POST',
          body: JSON.stringify({ sql }),
          headers: { 'content-type': 'application/json' },
        });
      } catch (err) {
        throw new SystemUnreachableError(
          `cannot reach the running system at ${endpoint} (is \`npm start\` running? set QUERY_URL, or CLICKHOUSE_URL for a ClickHouse server)`,
          { cause: err },
        );
      }
      const body = (await res.json()) as QueryResult & { error?: { code: string; message: string } };
      if (body.error) {
        if (body.error.code === 'READ_ONLY') throw new ReadOnlyViolationError(body.error.message);
        throw new QueryFailedError(body.error.message);
      }
      return { columns: body.columns, rows: body.rows };
    },
    close: () => Promise.resolve(),
  };
}

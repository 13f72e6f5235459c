/**
 * The read-only path of a tool (`npm run sql`, `verify`, `report`) against a running embedded
 * system: its read-only ClickHouse HTTP interface (http-interface.ts), with `@clickhouse/client`,
 * as any other ClickHouse client would connect. The interface applies the system's guard and
 * limits; this side only turns ClickHouse's errors back into the read-only path's classes, so the
 * tools treat an embedded system and a ClickHouse server alike.
 */
import { text } from 'node:stream/consumers';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { SpikeError } from '../common/errors.js';
import { clickHouseErrorType } from './failures.js';
import {
  compactResult,
  QueryBusyError,
  QueryCancelledError,
  queryError,
  ReadOnlyClosedError,
  ReadOnlyViolationError,
  type ReadOnlyQueries,
} from './read-only.js';
import { RESULT_FORMAT } from './sql-guard/guard.js';

/** The running system could not be reached. */
export class SystemUnreachableError extends SpikeError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNREACHABLE', message, options);
  }
}

/** ClickHouse's message without its `Code: N. DB::Exception:` head and `(TYPE)` tail. */
const bare = (err: Error) =>
  err.message
    .replace(/^Code: \d+\. DB::Exception: /, '')
    .replace(/\s*\([A-Z0-9_]+\)\s*$/, '')
    .trim();

export function openInterfaceReadOnly(url: string): ReadOnlyQueries {
  // Refusals and limits are the caller's to report: the client's own error log would repeat them.
  const client = createClient({ url, log: { level: ClickHouseLogLevel.OFF }, request_timeout: 3_600_000 });
  return {
    async query(sql, { signal } = {}) {
      try {
        // The statement as written, the format as a parameter: a FORMAT clause of its own shows in
        // the answer's format, and is refused here (the tool chooses how to print).
        const rs = await client.exec({
          query: sql,
          clickhouse_settings: { default_format: RESULT_FORMAT },
          ...(signal ? { abort_signal: signal } : {}),
        });
        const body = await text(rs.stream);
        if (rs.response_headers['x-clickhouse-format'] !== RESULT_FORMAT) {
          throw new ReadOnlyViolationError('FORMAT clauses are not accepted here: the tool chooses the output format');
        }
        return compactResult(JSON.parse(body));
      } catch (err) {
        if (err instanceof SpikeError) throw err;
        if (signal?.aborted) throw new QueryCancelledError();
        const type = clickHouseErrorType(err);
        if (type === undefined) {
          throw new SystemUnreachableError(
            `cannot reach the running system's ClickHouse interface at ${url} (is \`npm start\` running? set QUERY_URL, or CLICKHOUSE_URL for a ClickHouse server)`,
            { cause: err },
          );
        }
        if (type === 'READONLY') throw new ReadOnlyViolationError(bare(err as Error), { cause: err });
        if (type === 'TOO_MANY_SIMULTANEOUS_QUERIES') throw new QueryBusyError(bare(err as Error));
        if (type === 'ABORTED') throw new ReadOnlyClosedError();
        throw queryError(err);
      }
    },
    close: () => client.close(),
  };
}

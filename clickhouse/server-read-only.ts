/**
 * The read-only path on a ClickHouse server (`CLICKHOUSE_URL`): every request carries the limits and
 * then `readonly = 1` as settings, so nothing is left on a session; the guard's statements too.
 * A query is cancelled by aborting its HTTP request (its caller's signal, or the time limit plus
 * KILL_GRACE_MS), and `cancel_http_readonly_queries_on_client_close = 1` makes the server stop a
 * read-only query whose connection closed. The server bounds concurrency itself.
 */
import { randomUUID } from 'node:crypto';
import { createClickHouse, type ClickHouseTarget } from './client.js';
import {
  compactResult,
  guardClickHouseSettings,
  KILL_GRACE_MS,
  QueryCancelledError,
  queryError,
  ReadOnlyClosedError,
  readOnlyClickHouseSettings,
  timeLimitError,
  type ReadOnlyOptions,
  type ReadOnlyQueries,
} from './read-only.js';
import { clientGuardQuery, RESULT_FORMAT, SqlGuard } from './sql-guard/guard.js';

export function openServerReadOnly(params: {
  target: ClickHouseTarget & { kind: 'server' };
  options: ReadOnlyOptions;
}): ReadOnlyQueries {
  // Refusals and limits are the caller's to report: the client's own error log would repeat them.
  const client = createClickHouse(params.target, { quiet: true });
  const { readonly, ...limits } = readOnlyClickHouseSettings(params.options);
  const settings = { ...limits, cancel_http_readonly_queries_on_client_close: 1 as const, readonly };
  const guard = new SqlGuard(clientGuardQuery(client, guardClickHouseSettings(params.options)));
  const inFlight = new Set<AbortController>();
  let closed = false;
  return {
    async query(sql, { signal } = {}) {
      if (closed) throw new ReadOnlyClosedError();
      if (signal?.aborted) throw new QueryCancelledError();
      const statement = await guard.check(sql);
      if (signal?.aborted) throw new QueryCancelledError(); // gone while the statement was checked
      const abort = new AbortController();
      let reason: 'cancelled' | 'timeout' | undefined;
      const stop = (why: 'cancelled' | 'timeout') => {
        reason ??= why;
        abort.abort();
      };
      const timer = setTimeout(() => stop('timeout'), params.options.maxExecutionMs + KILL_GRACE_MS);
      const onAbort = () => stop('cancelled');
      signal?.addEventListener('abort', onAbort, { once: true });
      inFlight.add(abort);
      try {
        const rs = await client.query({
          query: `/* ro:${randomUUID()} */ ${statement}`,
          format: RESULT_FORMAT,
          clickhouse_settings: settings,
          abort_signal: abort.signal,
        });
        return compactResult(await rs.json());
      } catch (err) {
        if (closed) throw new ReadOnlyClosedError();
        if (reason === 'cancelled') throw new QueryCancelledError();
        if (reason === 'timeout') throw timeLimitError(params.options);
        throw queryError(err);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        inFlight.delete(abort);
      }
    },
    async close() {
      closed = true;
      for (const a of inFlight) a.abort();
      await client.close();
    },
  };
}

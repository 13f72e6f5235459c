/**
 * How code reaches the data read-only, in either mode:
 *  - `openDirectReadOnly`: for a process that holds the data — the embedded pool on this process's
 *    chDB (read-only-pool.ts), or a ClickHouse server with `CLICKHOUSE_URL` (server-read-only.ts);
 *  - `openReadOnly`: for a tool — a server directly with `CLICKHOUSE_URL`, otherwise the embedded
 *    system's read-only ClickHouse HTTP interface (`QUERY_URL`, default http://127.0.0.1:8123,
 *    interface-client.ts), which applies its own guard and limits (chDB lets only that process open
 *    the data).
 */
import { dataDirSettings } from '../common/data-dir.js';
import type { Logger } from '../common/logger.js';
import { text } from '../common/settings.js';
import { runningSystem, SystemNotRunningError } from '../common/system-file.js';
import type { ClickHouseTarget } from './client.js';
import { openReadOnlyPool } from './read-only-pool.js';
import { openInterfaceReadOnly, SystemUnreachableError } from './interface-client.js';
import { readOnlyOptions, type ReadOnlyOptions, type ReadOnlyQueries } from './read-only.js';
import { openServerReadOnly } from './server-read-only.js';

export { SystemUnreachableError };

export const queryClientSettings = {
  queryUrl: text({
    flag: '--query-url',
    env: 'QUERY_URL',
    default: undefined,
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'Embedded mode: the running system’s read-only ClickHouse HTTP interface (npm start’s --clickhouse-http-port). Default: the one the system running on --data-dir announced (<data-dir>/system.json).',
  }),
  ...dataDirSettings,
};

/**
 * The interface a tool asks: the one given, or the one the system running on `dataDir` announced
 * in its system.json. Throws SystemUnreachableError saying why none runs and how to name one.
 */
export function interfaceUrl(queryUrl: string | undefined, dataDir: string): string {
  if (queryUrl !== undefined) return queryUrl;
  const how = '--query-url / QUERY_URL, or CLICKHOUSE_URL for a ClickHouse server';
  try {
    const { clickhouseHttp } = runningSystem(dataDir, how);
    if (clickhouseHttp === null) {
      throw new SystemUnreachableError(
        `the system running on ${dataDir} serves no ClickHouse HTTP interface (npm run server alone, or the interface turned off); give ${how}`,
      );
    }
    return clickhouseHttp;
  } catch (err) {
    if (err instanceof SystemNotRunningError) throw new SystemUnreachableError(err.message, { cause: err });
    throw err;
  }
}

/** The read-only path of a process that holds the data (embedded) or talks to a server. */
export async function openDirectReadOnly(params: {
  target: ClickHouseTarget;
  options: ReadOnlyOptions;
  logger: Logger;
}): Promise<ReadOnlyQueries> {
  const { target, options } = params;
  if (target.kind === 'server') return openServerReadOnly({ target, options });
  return openReadOnlyPool({ target, options, logger: params.logger });
}

/** The read-only path of a tool: a server directly, or the embedded system's ClickHouse interface. */
export function openReadOnly(params: {
  target: ClickHouseTarget;
  /** The embedded interface; undefined: the one announced in `<dataDir>/system.json`. */
  queryUrl: string | undefined;
  dataDir?: string;
  /** Server mode: the limits of each query (the embedded interface applies its own). */
  options?: Partial<ReadOnlyOptions>;
}): ReadOnlyQueries {
  if (params.target.kind === 'server') {
    return openServerReadOnly({ target: params.target, options: readOnlyOptions(params.options) });
  }
  let url: string;
  try {
    url = interfaceUrl(params.queryUrl, params.dataDir ?? dataDirSettings.dataDir.default);
  } catch (err) {
    // Reported at the first query, the way an unreachable system is.
    const failure = err instanceof Error ? err : new SystemUnreachableError(String(err));
    return { query: () => Promise.reject(failure), close: () => Promise.resolve() };
  }
  return openInterfaceReadOnly(url);
}

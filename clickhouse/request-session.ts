/**
 * The session of one ClickHouse HTTP request that asked for settings, parameters or a database
 * (read-only-pool.ts `execute`): opened for that request alone and closed after it, so nothing it
 * set reaches another caller (chDB keeps a `SET` on the session it was sent on).
 */
import { text } from 'node:stream/consumers';
import { createClickHouse, type ClickHouseClient, type ClickHouseTarget } from './client.js';
import { NAME, quote } from './http-protocol.js';
import { readOnlyClickHouseSettings, ReadOnlyViolationError, type ReadOnlyOptions } from './read-only.js';
import type { RequestLimits } from './request-settings.js';

/** A statement for a ClickHouse HTTP client (ReadOnlyPool.execute), with what its request asked for. */
export interface FormattedRequest {
  /** Output format when the statement has no FORMAT clause. */
  defaultFormat: string;
  database?: string | undefined;
  /** `param_<name>` values (ClickHouse's escaped text form), output settings and added restrictions. */
  params?: [name: string, value: string][];
  extras?: [name: string, value: string][];
  /** Limits the request tightens. */
  limits?: RequestLimits;
  signal?: AbortSignal;
}

export interface FormattedResult {
  body: Buffer;
  format: string;
}

/**
 * The statements that open a request's own session: its database, parameters and settings, then
 * the limits and `readonly = 1` last (after it, the engine refuses any other change). None when the
 * request asked for nothing beyond the pool's sessions.
 */
export function sessionStatements(request: FormattedRequest, limits: ReadOnlyOptions): string[] {
  const { database, params = [], extras = [], limits: asked = {} } = request;
  for (const name of [database ?? 'default', ...[...params, ...extras].map(([n]) => n)]) {
    if (!NAME.test(name)) throw new ReadOnlyViolationError(`not a name: ${name}`);
  }
  if (!database && params.length === 0 && extras.length === 0 && Object.keys(asked).length === 0) return [];
  const settings: Record<string, string | number> = { ...readOnlyClickHouseSettings(limits) };
  // Assigning an existing key keeps its place: `readonly` stays last.
  if (asked.resultOverflowMode) settings.result_overflow_mode = asked.resultOverflowMode;
  return [
    ...(database ? [`USE \`${database}\``] : []),
    ...[...params, ...extras].map(([name, value]) => `SET ${name} = ${quote(value)}`),
    ...Object.entries(settings).map(([name, value]) => `SET ${name} = ${quote(String(value))}`),
  ];
}

export async function openOwnSession(target: ClickHouseTarget, statements: string[]): Promise<ClickHouseClient> {
  const client = createClickHouse(target);
  try {
    const rs = await client.exec({ query: `${statements.join('; ')}; SELECT 1` });
    await text(rs.stream); // drained: the session is set
    return client;
  } catch (err) {
    await client.close();
    throw err;
  }
}

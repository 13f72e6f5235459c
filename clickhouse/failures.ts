/**
 * Why did an insert fail, and will trying again help? The ingest workers retry a batch forever on a
 * transient failure (ClickHouse away, overloaded, schema not there yet: none of it is the records'
 * fault, and giving up would lose them), and isolate and dead-letter the records of a permanent one
 * (ClickHouse could not parse a value: the same bytes fail every time).
 *
 *  - transient: no ClickHouse error code (connection refused or reset, timeouts, a closed client),
 *    or a code that describes the server's state rather than the data;
 *  - permanent: a code that describes the data (CANNOT_PARSE_*, TYPE_MISMATCH, …), or our own
 *    InvalidRecordError. The data may still be fine and the table changed (a dropped column makes
 *    every row an INCORRECT_DATA): the batcher tells the two apart before dead-lettering anything;
 *  - unknown: any other ClickHouse error. The server answered, so retrying a few times and then
 *    bisecting the batch tells whether one record is to blame (ingest `maxAttempts`).
 */
import { InvalidRecordError } from './errors.js';

export type FailureKind = 'transient' | 'permanent' | 'unknown';

/** ClickHouse error names that mean the data itself is wrong. */
const DATA_ERRORS = new Set([
  'ATTEMPT_TO_READ_AFTER_EOF',
  'CANNOT_CONVERT_TYPE',
  'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN',
  'CANNOT_READ_ARRAY_FROM_TEXT',
  'DECIMAL_OVERFLOW',
  'INCORRECT_DATA',
  'INCORRECT_NUMBER_OF_COLUMNS',
  'TOO_LARGE_STRING_SIZE',
  'TYPE_MISMATCH',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  // A CHECK constraint refused a row's values.
  'VIOLATED_CONSTRAINT',
]);

/** ClickHouse error names that describe the server's state: wait and try again. */
const STATE_ERRORS = new Set([
  'ABORTED',
  'ALL_CONNECTION_TRIES_FAILED',
  'AUTHENTICATION_FAILED',
  'CANNOT_ALLOCATE_MEMORY',
  'CANNOT_SCHEDULE_TASK',
  'KEEPER_EXCEPTION',
  'MEMORY_LIMIT_EXCEEDED',
  'NETWORK_ERROR',
  'NOT_ENOUGH_SPACE',
  'NO_FREE_CONNECTION',
  'QUERY_WAS_CANCELLED',
  'QUOTA_EXCEEDED',
  'READONLY',
  'SOCKET_TIMEOUT',
  'TABLE_IS_DROPPED',
  'TABLE_IS_READ_ONLY',
  'TIMEOUT_EXCEEDED',
  'TOO_MANY_PARTS',
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'TOO_SLOW',
  'UNKNOWN_DATABASE',
  'UNKNOWN_TABLE',
]);

/** The ClickHouse error name (`CANNOT_PARSE_UUID`) of an error, if it is a ClickHouse error. */
export function clickHouseErrorType(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, type } = err as { code?: unknown; type?: unknown };
  // ClickHouseError (server or chDB) carries a numeric `code` string and the error name in `type`.
  if (typeof code !== 'string' || !/^\d+$/.test(code)) return undefined;
  return typeof type === 'string' && type.length > 0 ? type : `CODE_${code}`;
}

export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof InvalidRecordError) return 'permanent';
  const type = clickHouseErrorType(err);
  if (type === undefined) return 'transient';
  if (type.startsWith('CANNOT_PARSE_') || DATA_ERRORS.has(type)) return 'permanent';
  if (STATE_ERRORS.has(type)) return 'transient';
  return 'unknown';
}

/** A short, stable description of a failure for logs and dead letters. */
export function describeFailure(err: unknown): string {
  const type = clickHouseErrorType(err);
  const message = err instanceof Error ? err.message : String(err);
  // ClickHouse messages carry the offending input and a stack of contexts; the first line is enough.
  const first = message.split('\n', 1)[0]!.slice(0, 500);
  return type ? `${type}: ${first}` : first;
}

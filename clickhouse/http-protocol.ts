/**
 * The parts of ClickHouse's HTTP protocol that both HTTP fronts of chDB share: the gateway that
 * serves the whole engine to the components (http-gateway.ts) and the read-only interface for people
 * and their tools (http-interface.ts). Request parameters that are not settings, the settings that
 * exist only in the HTTP layer, how a request body is read, which HTTP status an error type gets and
 * how an exception is written, so that clients see what a ClickHouse server would answer.
 */
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';

/** A request refused before it reaches chDB, answered the way ClickHouse would. */
export class ClickHouseHttpError extends Error {
  override readonly name = 'ClickHouseHttpError';
  constructor(
    readonly status: number,
    readonly code: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** URL parameters that are not settings (ClickHouse's HTTP handler reads them itself). */
export const RESERVED = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'user',
  'password',
  'quota_key',
  'role',
  'stacktrace',
  'buffer_size',
  'client_protocol_version',
  'session_timeout',
  'session_check',
  'close_session',
]);

/** Parameters asking for features the chDB fronts do not have: refused, never silently ignored. */
export const UNSUPPORTED: Record<string, string> = {
  session_id: 'HTTP sessions (session_id) are not supported here',
  compress: "ClickHouse's native compression (compress=1) is not supported here",
  decompress: "ClickHouse's native compression (decompress=1) is not supported here",
};

/**
 * Settings that exist only in ClickHouse's HTTP layer: the same list `chdb/connection` drops
 * (sending them as `SET` would fail with UNKNOWN_SETTING), plus the HTTP-only ones it never sees.
 * Their effect here: responses are never compressed and always sent whole after the query ended,
 * which is what `wait_end_of_query = 1` asks for anyway.
 */
export const HTTP_ONLY_SETTINGS = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_response_buffer_size',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_response_compression_method',
  'http_native_compression_disable_checksumming_on_decompress',
  'http_write_exception_in_output_format',
  'http_wait_end_of_query',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
]);

export const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A ClickHouse string literal: backslash and quote escaped (ClickHouse reads backslash escapes). */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The HTTP status a ClickHouse server answers for an error type (the common ones; 500 otherwise). */
export function statusForError(type: string | undefined): number {
  if (!type) return 500;
  if (type === 'READONLY' || type === 'ACCESS_DENIED' || type === 'NOT_ENOUGH_PRIVILEGES') return 403;
  if (type === 'AUTHENTICATION_FAILED' || type === 'REQUIRED_PASSWORD') return 401;
  if (/^UNKNOWN_(TABLE|DATABASE|FUNCTION|TYPE|AGGREGATE_FUNCTION|DICTIONARY|STORAGE)$/.test(type)) return 404;
  if (type === 'QUERY_IS_TOO_LARGE') return 413;
  if (type === 'NOT_IMPLEMENTED') return 501;
  if (type === 'TIMEOUT_EXCEEDED' || type === 'SOCKET_TIMEOUT') return 408;
  if (
    /^CANNOT_PARSE_|^CANNOT_READ_|^ILLEGAL_|^UNKNOWN_|^NO_SUCH_|^INCORRECT_|^TOO_MANY_ARGUMENTS|^TOO_FEW_ARGUMENTS/.test(
      type,
    ) ||
    [
      'SYNTAX_ERROR',
      'TYPE_MISMATCH',
      'BAD_ARGUMENTS',
      'EMPTY_QUERY',
      'NUMBER_OF_ARGUMENTS_DOESNT_MATCH',
      'UNKNOWN_QUERY_PARAMETER',
      'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
      'ATTEMPT_TO_READ_AFTER_EOF',
      'CANNOT_CONVERT_TYPE',
      'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN',
      'TABLE_ALREADY_EXISTS',
      'DATABASE_ALREADY_EXISTS',
    ].includes(type)
  ) {
    return 400;
  }
  return 500;
}

/** ClickHouse's exception text for an error from the chDB connection. */
export function exceptionText(err: unknown): { text: string; code: string; type: string | undefined } {
  const e = err as { message?: unknown; code?: unknown; type?: unknown; cause?: unknown };
  const raw = (e.cause as { message?: unknown } | undefined)?.message;
  const code = typeof e.code === 'string' && /^\d+$/.test(e.code) ? e.code : '1001';
  const type = typeof e.type === 'string' ? e.type : undefined;
  if (typeof raw === 'string' && /Code: \d+/.test(raw)) return { text: raw.trim(), code, type };
  const message = typeof e.message === 'string' ? e.message.trim() : String(err);
  return { text: `Code: ${code}. DB::Exception: ${message} (${type ?? 'STD_EXCEPTION'})`, code, type };
}

class BodyTooLargeError extends ClickHouseHttpError {
  constructor(limit: number, hint: string) {
    super(413, 36, 'BAD_ARGUMENTS', `the request body is larger than ${limit} bytes${hint}`);
  }
}

/**
 * Reads the whole body, at most `limit` bytes before and after decompression (`hint`, e.g. the flag
 * that sets the limit, ends the message of a larger one).
 */
export async function readBody(req: IncomingMessage, limit: number, hint = ''): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit, hint);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit, hint);
    chunks.push(chunk);
  }
  const buf = Buffer.concat(chunks);
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase().trim();
  if (encoding === '' || encoding === 'identity') return buf.toString('utf8');
  const options = { maxOutputLength: limit };
  try {
    if (encoding === 'gzip' || encoding === 'x-gzip') return zlib.gunzipSync(buf, options).toString('utf8');
    if (encoding === 'deflate') return zlib.inflateSync(buf, options).toString('utf8');
    if (encoding === 'br') return zlib.brotliDecompressSync(buf, options).toString('utf8');
  } catch (err) {
    if (err instanceof RangeError) throw new BodyTooLargeError(limit, hint);
    throw new ClickHouseHttpError(400, 354, 'CANNOT_DECOMPRESS', `cannot decompress the ${encoding} body`);
  }
  throw new ClickHouseHttpError(400, 48, 'NOT_IMPLEMENTED', `unsupported Content-Encoding: ${encoding}`);
}

const CONTENT_TYPES: [RegExp, string][] = [
  [/^JSON/, 'application/json; charset=UTF-8'],
  [/^(CSV|CSVWithNames|CSVWithNamesAndTypes)$/, 'text/csv; charset=UTF-8; header=absent'],
  [/^(Parquet|Arrow|ArrowStream|Native|RowBinary|Avro|ORC)/, 'application/octet-stream'],
];
export function contentType(format: string): string {
  return CONTENT_TYPES.find(([re]) => re.test(format))?.[1] ?? 'text/plain; charset=UTF-8';
}

/**
 * What the URL parameters of a request to the read-only ClickHouse HTTP interface may change. Pure.
 *
 * The interface's sessions run with `readonly = 1` and the read-only limits (read-only.ts). A
 * ClickHouse server with such a user refuses every setting a client sends ("Cannot modify … in
 * readonly mode"), which is why GUI clients fail on read-only users: DBeaver sends
 * `max_result_rows` and `result_overflow_mode`, Grafana's data source `max_execution_time`. Here a
 * request's settings are sorted, by allowlist, into:
 *  - limits, which may only tighten the interface's own (`max_execution_time` of 10 s where the
 *    interface allows 30 s runs 10 s; a looser value, or 0 for "none", keeps the interface's);
 *  - restrictions and output settings that change how a result is written or add a limit the
 *    interface does not set (`output_format_json_quote_64bit_integers`, `extremes`,
 *    `max_rows_to_read`…), applied before `readonly = 1`;
 *  - ClickHouse's HTTP-layer settings and `readonly` itself, which have no effect here (every request
 *    is `readonly = 1`, answered whole);
 * and anything else is refused with ClickHouse's own READONLY error (code 164, HTTP 403).
 */
import { ClickHouseHttpError, HTTP_ONLY_SETTINGS, NAME, RESERVED, UNSUPPORTED } from './http-protocol.js';
import type { ReadOnlyOptions } from './read-only.js';
import { OUTPUT_FORMATS } from './sql-guard/output-formats.js';

/** The limits a request may tighten (the interface's own options, by name). */
export type RequestLimits = Partial<
  Pick<ReadOnlyOptions, 'maxExecutionMs' | 'maxMemoryBytes' | 'maxResultRows' | 'maxResultBytes' | 'maxThreads'>
> & { resultOverflowMode?: 'throw' | 'break' };

export interface RequestSettings {
  /** Output format when the statement has no FORMAT clause (`default_format`); TabSeparated by default. */
  defaultFormat: string;
  /** `USE` before the statement (`database`), when not the default one. */
  database: string | undefined;
  queryId: string | undefined;
  /** `{name:Type}` placeholder values, in ClickHouse's escaped text form (`param_<name>`). */
  params: [name: string, value: string][];
  /** Output settings and added restrictions, in request order. */
  extras: [name: string, value: string][];
  limits: RequestLimits;
  /** Whether the response may be gzip-compressed (`enable_http_compression = 1`). */
  compress: boolean;
}

const LIMITS: Record<string, { key: keyof RequestLimits; scale: number }> = {
  max_execution_time: { key: 'maxExecutionMs', scale: 1000 },
  max_memory_usage: { key: 'maxMemoryBytes', scale: 1 },
  max_result_rows: { key: 'maxResultRows', scale: 1 },
  max_result_bytes: { key: 'maxResultBytes', scale: 1 },
  max_threads: { key: 'maxThreads', scale: 1 },
};

/** Settings that only change how the result is written, or only restrict the query further. */
export const EXTRA_SETTINGS: ReadonlySet<string> = new Set([
  // output
  'extremes',
  'date_time_output_format',
  'session_timezone',
  'format_csv_delimiter',
  'format_csv_null_representation',
  'format_tsv_null_representation',
  'output_format_arrow_string_as_string',
  'output_format_binary_write_json_as_string',
  'output_format_csv_crlf_end_of_line',
  'output_format_decimal_trailing_zeros',
  'output_format_json_array_of_rows',
  'output_format_json_escape_forward_slashes',
  'output_format_json_named_tuples_as_objects',
  'output_format_json_quote_64bit_floats',
  'output_format_json_quote_64bit_integers',
  'output_format_json_quote_decimals',
  'output_format_json_quote_denormals',
  'output_format_json_validate_utf8',
  'output_format_native_encode_types_in_binary_format',
  'output_format_parquet_string_as_string',
  'output_format_pretty_color',
  'output_format_pretty_grid_charset',
  'output_format_pretty_max_column_pad_width',
  'output_format_pretty_max_rows',
  'output_format_pretty_max_value_width',
  'output_format_pretty_row_numbers',
  'output_format_tsv_crlf_end_of_line',
  'output_format_write_statistics',
  'join_use_nulls',
  // further restrictions (the interface sets none of these)
  'max_block_size',
  'max_rows_to_read',
  'max_bytes_to_read',
  'read_overflow_mode',
  'max_rows_to_group_by',
  'group_by_overflow_mode',
  'max_rows_to_sort',
  'max_bytes_to_sort',
  'sort_overflow_mode',
  'max_rows_in_distinct',
  'max_bytes_in_distinct',
  'distinct_overflow_mode',
  'max_columns_to_read',
  'max_ast_depth',
  'max_ast_elements',
  'timeout_before_checking_execution_speed',
  'log_comment',
]);

/** Without effect here: every request is `readonly = 1`, so any value asks for as much or less. */
const IGNORED = new Set(['readonly', 'timeout_overflow_mode']);

const readOnlyRefusal = (name: string) =>
  new ClickHouseHttpError(
    403,
    164,
    'READONLY',
    `Cannot modify '${name}' setting in readonly mode: this interface is read-only and accepts output settings, limits that tighten its own, and further restrictions only`,
  );

/** The request's parameters sorted as above; ClickHouseHttpError for one that is refused. */
export function readRequestSettings(params: URLSearchParams): RequestSettings {
  for (const [name, reason] of Object.entries(UNSUPPORTED)) {
    const v = params.get(name);
    if (v !== null && v !== '' && v !== '0') throw new ClickHouseHttpError(400, 48, 'NOT_IMPLEMENTED', reason);
  }
  const out: RequestSettings = {
    defaultFormat: params.get('default_format') || 'TabSeparated',
    database: undefined,
    queryId: params.get('query_id') || undefined,
    params: [],
    extras: [],
    limits: {},
    compress: params.get('enable_http_compression') === '1',
  };
  if (!OUTPUT_FORMATS.has(out.defaultFormat)) {
    throw new ClickHouseHttpError(
      403,
      164,
      'READONLY',
      `default_format ${out.defaultFormat} is not accepted here; the output formats are ${[...OUTPUT_FORMATS].join(', ')}`,
    );
  }
  const database = params.get('database');
  if (database !== null && database !== '' && database !== 'default') {
    if (!NAME.test(database))
      throw new ClickHouseHttpError(400, 81, 'UNKNOWN_DATABASE', `Database ${database} does not exist`);
    out.database = database;
  }
  for (const [key, value] of params) {
    if (RESERVED.has(key) || key in UNSUPPORTED || HTTP_ONLY_SETTINGS.has(key) || IGNORED.has(key)) continue;
    if (key.startsWith('param_')) {
      if (!NAME.test(key)) throw new ClickHouseHttpError(400, 36, 'BAD_ARGUMENTS', `invalid parameter name ${key}`);
      out.params.push([key, value]);
      continue;
    }
    if (!NAME.test(key)) throw new ClickHouseHttpError(400, 115, 'UNKNOWN_SETTING', `Unknown setting ${key}`);
    const limit = LIMITS[key];
    if (limit) {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
        throw new ClickHouseHttpError(400, 36, 'BAD_ARGUMENTS', `setting ${key} must be a number >= 0, not '${value}'`);
      }
      // 0 is ClickHouse's "no limit": the interface's own stays.
      if (n > 0) (out.limits as Record<string, number>)[limit.key] = Math.max(1, Math.ceil(n * limit.scale));
      continue;
    }
    if (key === 'result_overflow_mode') {
      if (value !== 'throw' && value !== 'break') {
        throw new ClickHouseHttpError(
          400,
          36,
          'BAD_ARGUMENTS',
          `result_overflow_mode must be throw or break, not '${value}'`,
        );
      }
      out.limits.resultOverflowMode = value;
      continue;
    }
    if (!EXTRA_SETTINGS.has(key)) throw readOnlyRefusal(key);
    out.extras.push([key, value]);
  }
  return out;
}

/** The interface's limits tightened by the request's (a request never loosens them). */
export function tightenLimits(own: ReadOnlyOptions, requested: RequestLimits): ReadOnlyOptions {
  const min = (a: number, b: number | undefined) => (b === undefined ? a : Math.min(a, b));
  return {
    ...own,
    maxExecutionMs: Math.max(100, min(own.maxExecutionMs, requested.maxExecutionMs)),
    maxMemoryBytes: min(own.maxMemoryBytes, requested.maxMemoryBytes),
    maxResultRows: min(own.maxResultRows, requested.maxResultRows),
    maxResultBytes: min(own.maxResultBytes, requested.maxResultBytes),
    maxThreads: min(own.maxThreads, requested.maxThreads),
  };
}

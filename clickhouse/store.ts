/**
 * Writes and counts the product's rows. Inserts are JSONEachRow batches mapped by rows.ts; counts
 * read through the dedup views (queries.ts), so a duplicated delivery is never counted twice, and
 * also report what is physically there, so a check can show that duplicates exist and are harmless.
 *
 * Inserts are synchronous (`async_insert = 0`, chDB's default is 1): the ingest workers batch
 * themselves, and a job is acknowledged only once its rows are stored and queryable, which is what
 * a synchronous insert's return means. Insert-level deduplication (`insert_deduplication_token`)
 * is not used: a re-delivered job arrives in a differently composed batch, so block hashes would
 * not match; identity is the ReplacingMergeTree key, and reads use FINAL.
 *
 * A field the table does not have is an error (`input_format_skip_unknown_fields = 0`; ClickHouse
 * skips such fields by default): after a schema drift such as a dropped or renamed column, a row
 * would otherwise be stored without that value and nobody would know. The ingest workers hold the
 * records and retry until the table is fixed (ingest/batcher.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ExecutedEvent, WindowEvent } from '../common/contracts.js';
import { InvalidArgumentError } from '../common/errors.js';
import { IDENTIFIER } from './client.js';
import { checkRange, parseRecordCounts, recordCountsSql, type RecordCounts, type TickRange } from './counts.js';
import { tableNames, type TableNames } from './queries.js';
import { executionRows, windowRows, type ExecutionRow, type RunRow, type WindowRow } from './rows.js';

/** An inclusive range of absolute ticks. */
export interface Freshness {
  /** Executions measured (each once: the first time it became queryable). */
  count: number;
  /** Execution time to queryable (inserted_at − executed_at), in ms; null without executions. */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface StoreOptions {
  /** Database of the product tables (default `spike`). */
  database?: string;
}

/** The insert half of the store: what the ingest workers need (tests wrap it to inject faults). */
export interface RowSink {
  insertExecutionRows(rows: readonly ExecutionRow[]): Promise<void>;
  insertWindowRows(rows: readonly WindowRow[]): Promise<void>;
  /** Run start/end records; a sink without it has them inserted by a plain store. */
  insertRunRows?(rows: readonly RunRow[]): Promise<void>;
}

const INSERT_SETTINGS = { async_insert: 0, input_format_skip_unknown_fields: 0 } as const;

export class ClickHouseStore implements RowSink {
  readonly tables: TableNames;

  constructor(
    readonly client: ClickHouseClient,
    options: StoreOptions = {},
  ) {
    const database = options.database ?? 'spike';
    if (!IDENTIFIER.test(database))
      throw new InvalidArgumentError('database', `not an identifier: ${JSON.stringify(database)}`);
    this.tables = tableNames(database);
  }

  /** Validates and inserts executions; an invalid one throws InvalidRecordError and nothing is inserted. */
  async insertExecutions(events: readonly ExecutedEvent[]): Promise<void> {
    await this.insertExecutionRows(executionRows(events));
  }

  async insertWindows(events: readonly WindowEvent[]): Promise<void> {
    await this.insertWindowRows(windowRows(events));
  }

  async insertExecutionRows(rows: readonly ExecutionRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: this.tables.executions,
      values: rows as ExecutionRow[],
      format: 'JSONEachRow',
      clickhouse_settings: INSERT_SETTINGS,
    });
  }

  async insertWindowRows(rows: readonly WindowRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: this.tables.windows,
      values: rows as WindowRow[],
      format: 'JSONEachRow',
      clickhouse_settings: INSERT_SETTINGS,
    });
  }

  async insertRunRows(rows: readonly RunRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.client.insert({
      table: this.tables.runs,
      values: rows as RunRow[],
      format: 'JSONEachRow',
      clickhouse_settings: INSERT_SETTINGS,
    });
  }

  /** Executions whose executed tick is in the range. */
  async countExecutions(range: TickRange): Promise<RecordCounts> {
    return this.count(recordCountsSql(this.tables, 'executions', range));
  }

  /** Windows that closed in the range (their last tick is in it). */
  async countWindows(range: TickRange): Promise<RecordCounts> {
    return this.count(recordCountsSql(this.tables, 'windows', range));
  }

  private async count(query: string): Promise<RecordCounts> {
    const rs = await this.client.query({ query, format: 'JSONEachRow' });
    const [r] = await rs.json<Record<string, number | string>>();
    return parseRecordCounts(r ?? {});
  }

  /** How long executions in the range took from running to being queryable. */
  async freshness(range: TickRange): Promise<Freshness> {
    checkRange(range);
    const rs = await this.client.query({
      query: `SELECT count() AS n, quantilesExact(0.5, 0.99)(lag) AS q, max(lag) AS mx
        FROM (
          SELECT dateDiff('millisecond', min(executed_at), min(inserted_at)) AS lag
          FROM ${this.tables.executions}
          WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}
          GROUP BY execution_id
        )`,
      query_params: { from: range.from, to: range.to },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ n: number | string; q: (number | string)[]; mx: number | string }>();
    const count = Number(r?.n ?? 0);
    if (count === 0 || !r) return { count: 0, p50Ms: null, p99Ms: null, maxMs: null };
    return { count, p50Ms: Number(r.q[0]), p99Ms: Number(r.q[1]), maxMs: Number(r.mx) };
  }
}

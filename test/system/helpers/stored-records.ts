/**
 * Reads back, from the ClickHouse tables, what the pipeline stored for a tick range, row by row, and
 * compares it with what the database did (a replay). Counting goes through the product's own path
 * (`ClickHouseStore.countExecutions / countWindows`, the dedup views); these reads add the identity
 * check: the same set of execution ids and window ids, with the same contents, each once.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ExecutedEvent, WindowEvent } from '../../../common/contracts.js';
import {
  executionRows,
  tableNames,
  windowRows,
  type ExecutionRow,
  type TickRange,
  type WindowRow,
} from '../../../clickhouse/index.js';

const TABLES = tableNames('spike');

/** Columns of a row as the comparison sees them: times as epoch ms, ids as text. */
type Row = Record<string, string | number | null>;

export interface StoredSet {
  /** Each record once, by id, as read through the dedup view (what the product counts). */
  byId: Map<string, Row>;
  /** Ids the dedup view returned more than once: must be empty. */
  countedTwice: string[];
  /** Physical rows in the base table (duplicate deliveries not merged yet included). */
  physicalRows: number;
}

async function rows(client: ClickHouseClient, query: string, range: TickRange): Promise<Row[]> {
  const rs = await client.query({ query, query_params: { from: range.from, to: range.to }, format: 'JSONEachRow' });
  return rs.json<Row>();
}

async function storedSet(client: ClickHouseClient, query: string, countQuery: string, range: TickRange) {
  const byId = new Map<string, Row>();
  const countedTwice: string[] = [];
  for (const r of await rows(client, query, range)) {
    const id = String(r.id);
    if (byId.has(id)) countedTwice.push(id);
    byId.set(id, r);
  }
  const [c] = await rows(client, countQuery, range);
  return { byId, countedTwice, physicalRows: Number(c?.n ?? 0) };
}

export function storedExecutions(client: ClickHouseClient, range: TickRange): Promise<StoredSet> {
  return storedSet(
    client,
    `SELECT toString(execution_id) AS id, toString(execution_id) AS execution_id, toString(query_id) AS query_id, queued_tick, executed_tick,
       toUnixTimestamp64Milli(queued_at) AS queued_at, toUnixTimestamp64Milli(executed_at) AS executed_at,
       added_delay, delay_count, delayed_by, toJSONString(added_delay_by) AS added_delay_by
     FROM ${TABLES.executionsDedup} WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}`,
    `SELECT count() AS n FROM ${TABLES.executions} WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64}`,
    range,
  );
}

export function storedWindows(client: ClickHouseClient, range: TickRange): Promise<StoredSet> {
  return storedSet(
    client,
    `SELECT toString(window_id) AS id, window_id, first_tick, last_tick, samples, cpu_avg, cpu_min, cpu_max,
       io_avg, io_min, io_max, memory_avg, memory_min, memory_max, toUnixTimestamp64Milli(ts) AS ts
     FROM ${TABLES.windowsDedup} WHERE last_tick BETWEEN {from:Int64} AND {to:Int64}`,
    `SELECT count() AS n FROM ${TABLES.windows} WHERE last_tick BETWEEN {from:Int64} AND {to:Int64}`,
    range,
  );
}

const EXECUTION_COLUMNS: (keyof ExecutionRow)[] = [
  'execution_id',
  'query_id',
  'queued_tick',
  'executed_tick',
  'queued_at',
  'executed_at',
  'added_delay',
  'delay_count',
  'delayed_by',
  'added_delay_by',
];
const WINDOW_COLUMNS: (keyof WindowRow)[] = [
  'window_id',
  'first_tick',
  'last_tick',
  'samples',
  'cpu_avg',
  'cpu_min',
  'cpu_max',
  'io_avg',
  'io_min',
  'io_max',
  'memory_avg',
  'memory_min',
  'memory_max',
  'ts',
];

export interface Difference {
  expected: number;
  stored: number;
  /** Ids the database produced that are not stored (lost records). */
  missing: string[];
  /** Ids stored that the database did not produce in this range. */
  unexpected: string[];
  /** Ids stored with other contents than the database produced. */
  altered: string[];
}

function normalize(row: Row, keys: string[]): string {
  // JSON numbers vs strings (64-bit integers) and UUID case must not make equal rows differ.
  return JSON.stringify(
    keys.map((k) => (row[k] === null || row[k] === undefined ? null : String(row[k]).toLowerCase())),
  );
}

function difference(expected: Map<string, Row>, stored: StoredSet, keys: string[]): Difference {
  const missing: string[] = [];
  const altered: string[] = [];
  for (const [id, row] of expected) {
    const got = stored.byId.get(id);
    if (!got) missing.push(id);
    else if (normalize(got, keys) !== normalize(row, keys)) altered.push(id);
  }
  const unexpected = [...stored.byId.keys()].filter((id) => !expected.has(id));
  return { expected: expected.size, stored: stored.byId.size, missing, unexpected, altered };
}

/** Stored executions against the ones the database executed (every column compared). */
export function compareExecutions(executed: readonly ExecutedEvent[], stored: StoredSet): Difference {
  const expected = new Map<string, Row>();
  // The split is stored as a map, read back as JSON (an execution nobody moved has an empty one).
  for (const r of executionRows(executed))
    expected.set(r.execution_id, { ...r, added_delay_by: JSON.stringify(r.added_delay_by ?? {}) });
  return difference(expected, stored, EXECUTION_COLUMNS);
}

/** Stored windows against the ones the database closed (every column compared). */
export function compareWindows(windows: readonly WindowEvent[], stored: StoredSet): Difference {
  const expected = new Map<string, Row>();
  for (const r of windowRows(windows)) expected.set(String(r.window_id), { ...r });
  return difference(expected, stored, WINDOW_COLUMNS);
}

/**
 * How the product counts what it stored, for the completeness check: for a tick range, the records
 * stored (each counted once, through the dedup views, exactly as every product query counts), the
 * physical rows (duplicate deliveries not merged yet) and the records the counting query would count
 * twice (must be 0). One SQL text serves the store (a client) and the verify tool (the read-only
 * path, which takes no bound parameters — hence validated integers are spliced in).
 */
import { InvalidArgumentError } from '../common/errors.js';
import type { TableNames } from './queries.js';

export interface TickRange {
  from: number;
  to: number;
}

export interface RecordCounts {
  /** Records stored in the range, each counted once: what the product's own queries count. */
  stored: number;
  /** Physical rows in the range, duplicates included (until background merges collapse them). */
  rows: number;
  /** rows − distinct ids: duplicate deliveries not merged away yet. Harmless, informative. */
  duplicateRows: number;
  /** Records that the product's counting query returns more than once. Must be 0. */
  countedTwice: number;
}

export function checkRange(range: TickRange): void {
  for (const key of ['from', 'to'] as const) {
    if (!Number.isSafeInteger(range[key]) || range[key] < 0) {
      throw new InvalidArgumentError(key, `${key} must be an integer tick ≥ 0, got ${range[key]}`);
    }
  }
  if (range.to < range.from) throw new InvalidArgumentError('to', `to (${range.to}) must be ≥ from (${range.from})`);
}

const KINDS = {
  executions: { table: 'executions', dedup: 'executionsDedup', id: 'execution_id', tick: 'executed_tick' },
  windows: { table: 'windows', dedup: 'windowsDedup', id: 'window_id', tick: 'last_tick' },
} as const;

/** One row: stored, stored_distinct, rows, rows_distinct. Windows are counted by their last tick. */
export function recordCountsSql(tables: TableNames, kind: keyof typeof KINDS, range: TickRange): string {
  checkRange(range);
  const k = KINDS[kind];
  const where = `${k.tick} BETWEEN ${range.from} AND ${range.to}`;
  const dedup = tables[k.dedup];
  const table = tables[k.table];
  return `SELECT
    (SELECT count() FROM ${dedup} WHERE ${where}) AS stored,
    (SELECT uniqExact(${k.id}) FROM ${dedup} WHERE ${where}) AS stored_distinct,
    (SELECT count() FROM ${table} WHERE ${where}) AS rows,
    (SELECT uniqExact(${k.id}) FROM ${table} WHERE ${where}) AS rows_distinct`;
}

export function parseRecordCounts(r: Record<string, unknown>): RecordCounts {
  const n = (key: string) => Number(r[key] ?? 0);
  return {
    stored: n('stored'),
    rows: n('rows'),
    duplicateRows: n('rows') - n('rows_distinct'),
    countedTwice: n('stored') - n('stored_distinct'),
  };
}

/**
 * Capture completeness (ARCHITECTURE.md "Definitions"): for a tick range that has had time to
 * drain, the executions and windows the database reports (`GET /stats/executed`) against what the
 * pipeline stored in ClickHouse, each counted once. Works in either mode: the stored side comes
 * through the read-only SQL path (the embedded process's endpoint, or the ClickHouse server).
 */
import type { DatabaseStats } from '../common/contracts.js';
import { SpikeError } from '../common/errors.js';
import {
  parseRecordCounts,
  recordCountsSql,
  tableNames,
  type ReadOnlyQueries,
  type RecordCounts,
} from '../clickhouse/index.js';
import type { LedgerRange } from '../server/ledger.js';

/** What the database ran in a tick range (its ledger) against what the pipeline stored, each record counted once. */
export interface Completeness {
  executedByDatabase: number;
  stored: number;
  missing: number;
  /** Executions the product's own counting query counts more than once. Must be 0. */
  duplicatesCounted: number;
  /** Physical duplicate rows not merged away yet (harmless: never counted). */
  duplicateRows: number;
  windowsByDatabase: number;
  windowsStored: number;
  /** stored ÷ executedByDatabase (1 when nothing ran). The only acceptable value is 1. */
  completeness: number;
}

export interface CompletenessReport extends Completeness {
  from: number;
  to: number;
}

/** The completeness figures from the database's ledger and the stored counts of the same range. */
export function completenessOf(
  ledger: Pick<LedgerRange, 'executed' | 'windows'>,
  executions: RecordCounts,
  windows: RecordCounts,
): Completeness {
  return {
    executedByDatabase: ledger.executed,
    stored: executions.stored,
    missing: Math.max(0, ledger.executed - executions.stored),
    duplicatesCounted: executions.countedTwice,
    duplicateRows: executions.duplicateRows,
    windowsByDatabase: ledger.windows,
    windowsStored: windows.stored,
    completeness: ledger.executed === 0 ? 1 : executions.stored / ledger.executed,
  };
}

export class ApiUnreachableError extends SpikeError {
  constructor(url: string, options?: ErrorOptions) {
    super('UNREACHABLE', `cannot reach the database API at ${url} (is the system running? set API_URL)`, options);
  }
}

async function getJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new ApiUnreachableError(url, { cause: err });
  }
  if (!res.ok) throw new SpikeError('API_ERROR', `${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export interface VerifyParams {
  apiUrl: string;
  queries: ReadOnlyQueries;
  database: string;
  /** Defaults: from the run's first tick to `settleMs` before its latest tick. */
  from?: number;
  to?: number;
  settleMs: number;
}

export async function checkCompleteness(p: VerifyParams): Promise<CompletenessReport> {
  const stats = await getJson<DatabaseStats>(new URL('/stats', p.apiUrl).toString());
  const from = p.from ?? stats.firstTick;
  const to = p.to ?? stats.nextTick - 1 - Math.ceil(p.settleMs / stats.tickMs);
  const db = await getJson<LedgerRange>(new URL(`/stats/executed?from=${from}&to=${to}`, p.apiUrl).toString());
  const tables = tableNames(p.database);
  const count = async (kind: 'executions' | 'windows') => {
    const { columns, rows } = await p.queries.query(
      recordCountsSql(tables, kind, { from: Math.max(0, from), to: Math.max(0, to) }),
    );
    return parseRecordCounts(Object.fromEntries(columns.map((c, i) => [c.name, rows[0]?.[i]])));
  };
  const executions = await count('executions');
  const windows = await count('windows');
  return { from, to, ...completenessOf(db, executions, windows) };
}

/** Complete means every execution and window stored, nothing counted twice. */
export function isComplete(r: CompletenessReport): boolean {
  return (
    r.completeness === 1 && r.missing === 0 && r.duplicatesCounted === 0 && r.windowsStored === r.windowsByDatabase
  );
}

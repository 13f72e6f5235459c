/**
 * Capture completeness (docs/architecture.md "Definitions"): for a tick range that has had time to
 * drain, the executions and windows the database reports (`GET /stats/executed`) against what the
 * pipeline stored in ClickHouse, each counted once. Works in either mode: the stored side comes
 * through the read-only SQL path (the embedded process's endpoint, or the ClickHouse server). On a
 * stopped system the database's side comes from the ledger it kept on disk instead.
 */
import type { DatabaseStats } from '../common/contracts.js';
import { SpikeError } from '../common/errors.js';
import { integer, oneOf, text, toggle } from '../common/settings.js';
import {
  parseRecordCounts,
  recordCountsSql,
  tableNames,
  type ReadOnlyQueries,
  type RecordCounts,
} from '../clickhouse/index.js';
import type { LedgerRange } from '../server/ledger.js';
import { ledgerRange, type LedgerContents } from '../server/ledger-file.js';

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

/** The run is younger than the settle time: no tick is old enough to check yet. */
export class NothingSettledError extends SpikeError {
  constructor(
    readonly from: number,
    readonly to: number,
  ) {
    super(
      'NOTHING_SETTLED',
      `nothing to check yet: the run began at tick ${from}, and ticks up to ${to} are settled (lower --settle-ms, or wait with --wait-ms)`,
    );
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
  if (to < from) throw new NothingSettledError(from, to);
  const db = await getJson<LedgerRange>(new URL(`/stats/executed?from=${from}&to=${to}`, p.apiUrl).toString());
  return { from, to, ...(await storedAgainst(db, p)) };
}

/**
 * The same check on a stopped system: the database's counts come from the ledger it kept on disk
 * (server/ledger-file.ts), the stored ones from ClickHouse opened directly. Defaults: the whole run.
 */
export async function checkStoppedCompleteness(p: {
  ledger: LedgerContents;
  queries: ReadOnlyQueries;
  database: string;
  from?: number;
  to?: number;
}): Promise<CompletenessReport> {
  const first = p.ledger.run.firstTick;
  const from = p.from ?? first;
  const to = p.to ?? first + p.ledger.counts.length - 1;
  return { from, to, ...(await storedAgainst(ledgerRange(p.ledger, from, to), { ...p, from, to })) };
}

async function storedAgainst(
  db: LedgerRange,
  p: { queries: ReadOnlyQueries; database: string; from?: number; to?: number },
): Promise<Completeness> {
  const tables = tableNames(p.database);
  const range = { from: Math.max(0, db.from), to: Math.max(0, db.to) };
  const count = async (kind: 'executions' | 'windows') => {
    const { columns, rows } = await p.queries.query(recordCountsSql(tables, kind, range));
    return parseRecordCounts(Object.fromEntries(columns.map((c, i) => [c.name, rows[0]?.[i]])));
  };
  const executions = await count('executions');
  const windows = await count('windows');
  return completenessOf(db, executions, windows);
}

/** Complete means every execution and window stored, nothing counted twice. */
export function isComplete(r: CompletenessReport): boolean {
  return (
    r.completeness === 1 && r.missing === 0 && r.duplicatesCounted === 0 && r.windowsStored === r.windowsByDatabase
  );
}

/** `npm run verify`'s own flags (README "Checking that nothing was lost"). */
export const verifySettings = {
  apiUrl: text({
    flag: '--api-url',
    env: 'API_URL',
    default: undefined,
    pattern: /^https?:\/\/\S+$/,
    rule: 'must be an http:// or https:// URL',
    doc: 'The database API of the running system. Default: the one the system running on --data-dir announced (<data-dir>/system.json).',
  }),
  from: integer({
    flag: '--from',
    default: -1,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'First tick (default: the run’s first).',
  }),
  to: integer({
    flag: '--to',
    default: -1,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'Last tick (default: settle-ms before the latest).',
  }),
  settleMs: integer({
    flag: '--settle-ms',
    default: 5000,
    min: 0,
    max: 3_600_000,
    doc: 'Leave out the last ms of ticks: still in flight.',
  }),
  waitMs: integer({
    flag: '--wait-ms',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: 'Retry until complete for up to this long.',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print one JSON object.' }),
  source: oneOf({
    flag: '--source',
    default: 'auto',
    values: ['auto', 'api', 'ledger'] as const,
    doc: 'Where the database’s counts come from: the running system’s API, the ledger on disk (a stopped system), or auto: the API when it answers, else the ledger.',
  }),
  ledgerDir: text({
    flag: '--ledger-dir',
    env: 'LEDGER_DIR',
    default: '',
    maxLength: 4096,
    doc: 'The server’s execution ledger directory (its --ledger-dir). Empty: <OUTBOX_DIR or ./data/outbox>/ledger.',
  }),
  run: text({
    flag: '--run',
    default: 'latest',
    pattern: /^(latest|\d{1,20})$/,
    rule: 'must be latest or a run id (the first tick, as in ledger-<run>.jsonl)',
    doc: 'With the ledger: which run to check.',
  }),
};

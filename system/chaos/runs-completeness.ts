/**
 * Completeness over the whole chaos run, across the server's runs: the server is killed and
 * restarted, and each start is a new run with its own ledger on disk (server/ledger-file.ts). Every
 * execution of every completed tick of every run must be stored exactly once: the figures of each
 * ledger's range (system/verify.ts, from the ledger and ClickHouse) summed over the runs.
 *
 * A completed tick is one the ledger covers, except a tick that failed: a fail-stop (the full disk)
 * still writes the failed tick into the ledger, on purpose, so that a plain check shows its records
 * missing; here its tick is known from the server's log and the range ends before it (its records
 * are reported apart, never hidden: `failedTicks`).
 */
import type { ReadOnlyQueries } from '../../clickhouse/index.js';
import { listLedgers, readLedger } from '../../server/ledger-file.js';
import { checkStoppedCompleteness, type Completeness } from '../verify.js';

export interface RunsCompleteness extends Completeness {
  /** How many runs of the server the figures cover (one per start). */
  serverRuns: number;
  /** Per run: its id (first tick), the ticks counted, and whether it closed its ledger. */
  runs: { run: string; from: number; to: number; ended: boolean; executed: number; stored: number }[];
  /** Ticks left out because they failed (fail-stop), with what the database executed in them. */
  failedTicks: { tick: number; executed: number }[];
}

export async function runsCompleteness(p: {
  ledgerDir: string;
  queries: ReadOnlyQueries;
  database: string;
  failedTicks: readonly number[];
}): Promise<RunsCompleteness> {
  const sum: Completeness = {
    executedByDatabase: 0,
    stored: 0,
    missing: 0,
    duplicatesCounted: 0,
    duplicateRows: 0,
    windowsByDatabase: 0,
    windowsStored: 0,
    completeness: 1,
  };
  const runs: RunsCompleteness['runs'] = [];
  const failed: RunsCompleteness['failedTicks'] = [];
  for (const file of listLedgers(p.ledgerDir)) {
    const ledger = readLedger(file);
    const first = ledger.run.firstTick;
    let to = first + ledger.counts.length - 1;
    for (const tick of p.failedTicks) {
      if (tick < first || tick > to) continue;
      failed.push({ tick, executed: ledger.counts[tick - first]! });
      to = tick - 1;
    }
    if (to < first) continue;
    const r = await checkStoppedCompleteness({ ledger, queries: p.queries, database: p.database, from: first, to });
    runs.push({
      run: ledger.run.run,
      from: first,
      to,
      ended: ledger.ended,
      executed: r.executedByDatabase,
      stored: r.stored,
    });
    sum.executedByDatabase += r.executedByDatabase;
    sum.stored += r.stored;
    sum.missing += r.missing;
    sum.duplicatesCounted += r.duplicatesCounted;
    sum.duplicateRows += r.duplicateRows;
    sum.windowsByDatabase += r.windowsByDatabase;
    sum.windowsStored += r.windowsStored;
  }
  sum.completeness = sum.executedByDatabase === 0 ? 1 : sum.stored / sum.executedByDatabase;
  return { ...sum, serverRuns: runs.length, runs, failedTicks: failed };
}

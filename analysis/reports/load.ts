/**
 * Reads everything one report needs, through the caller's read-only `query` function (the CLI's
 * `openReadOnly`, or the analysis job's own read-only sessions): first the window range, then the per-window
 * series, the spike windows and their queries, per-query counts, the first delayed execution and
 * the latest estimates. Only reads; the heavy grouping happens in ClickHouse, the shaping in frames.ts.
 */
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import type { QueryResult } from '../../clickhouse/read-only.js';
import { loadEstimates, type EstimatesLoad } from './estimates-source.js';
import { periodFor, periodsSql, toPeriod, type PeriodRecord } from './periods.js';
import { rollupFits } from './rollups.js';
import { limitReads } from './read-limit.js';
import { loadSpreadDecomposition, type SpreadDecomposition } from './spread-decomposition.js';
import { loadScheduling, type SchedulingData } from './scheduling.js';
import type { ReportOptions } from './options.js';
import {
  objects,
  num,
  str,
  toQueryCount,
  toRange,
  toSpikeQueryCount,
  toTopWindow,
  toWindow,
  type QueryCount,
  type RangeInfo,
  type SpikeQueryCount,
  type TopWindow,
  type Row,
  type WindowRecord,
} from './records.js';
import { ReportDataError } from './errors.js';
import {
  firstDelayedSql,
  queryCountsSql,
  rangeSql,
  reportTables,
  runsSql,
  spikeQueriesSql,
  topWindowsSql,
  windowsSql,
  type ExecutionSource,
} from './sql.js';

export type QueryFn = (sql: string) => Promise<QueryResult>;

export interface FirstDelayed {
  /** Epoch ms of the first delayed execution in the range, who delayed it, and how many were delayed. */
  time: number;
  by: string;
  delayed: number;
}

/** A run that stored windows (`spike.runs`), newest first; `runId` '' for rows from before runs. */
export interface RunSummary {
  runId: string;
  windows: number;
  /** Epoch ms of its first and last window. */
  firstT: number;
  lastT: number;
  /** From `spike.runs` (null when it has no row there, e.g. rows from before runs). */
  startedAt: number | null;
  endedAt: number | null;
  seed: string | null;
  scheduler: string | null;
  /** When the run's in-process scheduler started deciding (null: not 'on', or rows from before runs). */
  schedulerStartedAt: number | null;
}

/**
 * Whether the reported run had its scheduler on from its first window (a plain `npm start`): then
 * there is no "before" in it, even when the scheduler's first move lands a window or two later.
 */
export function scheduledFromStart(run: RunSummary | null, range: RangeInfo): boolean {
  return run?.scheduler === 'on' && run.schedulerStartedAt !== null && run.schedulerStartedAt <= range.fromTime;
}

function toRunSummary(r: Row): RunSummary {
  const optional = (key: string) => (r[key] === null || r[key] === undefined ? null : num(r, key));
  const text = (key: string) => (r[key] === null || r[key] === undefined || r[key] === '' ? null : str(r, key));
  return {
    runId: str(r, 'run_id'),
    windows: num(r, 'windows'),
    firstT: num(r, 'first_t'),
    lastT: num(r, 'last_t'),
    startedAt: optional('started_at'),
    endedAt: optional('ended_at'),
    seed: text('seed'),
    scheduler: text('scheduler'),
    schedulerStartedAt: optional('scheduler_started_at'),
  };
}

/** A range longer than `maxPoints` windows, aggregated in ClickHouse (periods.ts). */
export interface Aggregated {
  periodMs: number;
  periods: PeriodRecord[];
  /** The windows read one by one (`windows`): the most recent `detailMinutes`. */
  detail: { firstWindow: number; lastWindow: number };
  /** Where the periods' (and the segments', counts', scheduling's) execution figures come from. */
  source: ExecutionSource;
}

export interface ReportData {
  database: string;
  /** Every run that stored windows, newest first, and the one reported (null: all of them). */
  runs: RunSummary[];
  run: RunSummary | null;
  range: RangeInfo;
  /** Every window of the range, or only the most recent ones when `aggregated` is set. */
  windows: WindowRecord[];
  aggregated: Aggregated | null;
  topWindows: TopWindow[];
  spikeQueries: SpikeQueryCount[];
  queryCounts: QueryCount[];
  firstDelayed: FirstDelayed | null;
  estimates: EstimatesLoad;
  /** Scheduling before/after; null when no window is stored. */
  scheduling: SchedulingData | null;
  /** Per resource, the spread split into count and mix (spread-decomposition.ts), over `windows`. */
  spreadDecomposition: SpreadDecomposition[];
}

export async function loadReportData(params: {
  query: QueryFn;
  database: string;
  options: ReportOptions;
  logger?: Logger;
}): Promise<ReportData> {
  const { database, options } = params;
  // Issued together below, but at most two at a time (read-limit.ts: the reports' session is one).
  const query = limitReads(params.query);
  const logger = params.logger ?? silentLogger;
  const t = reportTables(database);
  const started = performance.now();
  const runs = objects(await query(runsSql(t))).map(toRunSummary);
  const run =
    options.run === 'all'
      ? null
      : options.run === 'latest'
        ? (runs[0] ?? null)
        : (runs.find((r) => r.runId === options.run) ?? null);
  if (options.run !== 'all' && options.run !== 'latest' && !run) {
    throw new ReportDataError(
      `no run ${options.run} in ${database}.windows (the runs: SELECT run_id FROM ${database}.runs_dedup)`,
    );
  }
  const range = toRange(
    objects(await query(rangeSql(t, options.lastMinutes, options.maxWindows, run ? run.runId : 'all')))[0],
  );
  if (range.windows === 0) {
    return {
      database,
      runs,
      run,
      range,
      windows: [],
      aggregated: null,
      topWindows: [],
      spikeQueries: [],
      queryCounts: [],
      firstDelayed: null,
      estimates: await loadEstimates(query, database, logger),
      scheduling: null,
      spreadDecomposition: [],
    };
  }
  // A range longer than the charts can draw window by window is read as periods, plus the most recent
  // windows one by one.
  const long = range.windows > options.maxPoints;
  const detailWindows = Math.max(1, Math.round((options.detailMinutes * 60_000) / range.windowMs));
  const detail = long
    ? { firstWindow: Math.max(range.firstWindow, range.lastWindow - detailWindows + 1), lastWindow: range.lastWindow }
    : { firstWindow: range.firstWindow, lastWindow: range.lastWindow };
  const periodMs = periodFor(range, options.maxPoints);
  // A long range's execution figures come from the insert-time rollups (rollups.ts): their cost
  // follows the range's windows, not its executions. The detail windows and the spike windows'
  // queries are still read execution by execution.
  const source: ExecutionSource = long && rollupFits(range.windowTicks) ? 'rollups' : 'executions';
  // Independent reads: issue them together (chDB serialises them anyway; a server runs them in parallel).
  const [periods, windows, topWindows, spikeQueries, queryCounts, delayed, estimates, scheduling, decomposition] =
    await Promise.all([
      long
        ? query(periodsSql(t, range, periodMs, source)).then((r) => objects(r).map(toPeriod))
        : Promise.resolve(null),
      query(windowsSql(t, { ...range, ...detail })).then((r) => objects(r).map(toWindow)),
      query(topWindowsSql(t, range, options.topWindows)).then((r) => objects(r).map(toTopWindow)),
      query(spikeQueriesSql(t, range, options.topWindows)).then((r) => objects(r).map(toSpikeQueryCount)),
      query(queryCountsSql(t, range, source)).then((r) => objects(r).map(toQueryCount)),
      query(firstDelayedSql(t, range, source)).then((r) => objects(r)[0]),
      loadEstimates(query, database, logger),
      loadScheduling({
        query,
        database,
        range,
        warmupWindows: options.warmupWindows,
        maxPoints: options.maxPoints,
        source,
        fromStart: scheduledFromStart(run, range),
      }),
      loadSpreadDecomposition(query, t, { ...detail, windowTicks: range.windowTicks }),
    ]);
  const delayedCount = delayed ? num(delayed, 'delayed', 0) : 0;
  const firstDelayed =
    delayed && delayedCount > 0
      ? { time: num(delayed, 't'), by: str(delayed, 'delayed_by'), delayed: delayedCount }
      : null;
  logger.debug(
    { windows: windows.length, queries: queryCounts.length, ms: Math.round(performance.now() - started) },
    'report data loaded',
  );
  const aggregated = periods ? { periodMs, periods, detail, source } : null;
  return {
    database,
    runs,
    run,
    range,
    windows,
    aggregated,
    topWindows,
    spikeQueries,
    queryCounts,
    firstDelayed,
    estimates,
    scheduling,
    spreadDecomposition: decomposition,
  };
}

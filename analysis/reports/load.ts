/**
 * Reads everything one report needs, through the caller's read-only `query` function (the CLI's
 * `openReadOnly`, or the analysis job's own client): first the window range, then the per-window
 * series, the spike windows and their queries, per-query counts, the first delayed execution and
 * the latest estimates. Only reads; the heavy grouping happens in ClickHouse, the shaping in frames.ts.
 */
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import type { QueryResult } from '../../clickhouse/read-only.js';
import { loadEstimates, type EstimatesLoad } from './estimates-source.js';
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
  type WindowRecord,
} from './records.js';
import {
  firstDelayedSql,
  queryCountsSql,
  rangeSql,
  reportTables,
  spikeQueriesSql,
  topWindowsSql,
  windowsSql,
} from './sql.js';

export type QueryFn = (sql: string) => Promise<QueryResult>;

export interface FirstDelayed {
  /** Epoch ms of the first delayed execution in the range, who delayed it, and how many were delayed. */
  time: number;
  by: string;
  delayed: number;
}

export interface ReportData {
  database: string;
  range: RangeInfo;
  windows: WindowRecord[];
  topWindows: TopWindow[];
  spikeQueries: SpikeQueryCount[];
  queryCounts: QueryCount[];
  firstDelayed: FirstDelayed | null;
  estimates: EstimatesLoad;
  /** Scheduling before/after; null when no window is stored. */
  scheduling: SchedulingData | null;
}

export async function loadReportData(params: {
  query: QueryFn;
  database: string;
  options: ReportOptions;
  logger?: Logger;
}): Promise<ReportData> {
  const { query, database, options } = params;
  const logger = params.logger ?? silentLogger;
  const t = reportTables(database);
  const started = performance.now();
  const range = toRange(objects(await query(rangeSql(t, options.lastMinutes, options.maxWindows)))[0]);
  if (range.windows === 0) {
    return {
      database,
      range,
      windows: [],
      topWindows: [],
      spikeQueries: [],
      queryCounts: [],
      firstDelayed: null,
      estimates: await loadEstimates(query, database, logger),
      scheduling: null,
    };
  }
  // Independent reads: issue them together (chDB serialises them anyway; a server runs them in parallel).
  const [windows, topWindows, spikeQueries, queryCounts, delayed, estimates, scheduling] = await Promise.all([
    query(windowsSql(t, range)).then((r) => objects(r).map(toWindow)),
    query(topWindowsSql(t, range, options.topWindows)).then((r) => objects(r).map(toTopWindow)),
    query(spikeQueriesSql(t, range, options.topWindows)).then((r) => objects(r).map(toSpikeQueryCount)),
    query(queryCountsSql(t, range)).then((r) => objects(r).map(toQueryCount)),
    query(firstDelayedSql(t, range)).then((r) => objects(r)[0]),
    loadEstimates(query, database, logger),
    loadScheduling({
      query,
      database,
      range,
      warmupWindows: options.warmupWindows,
      maxPoints: options.maxPoints,
    }),
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
  return { database, range, windows, topWindows, spikeQueries, queryCounts, firstDelayed, estimates, scheduling };
}

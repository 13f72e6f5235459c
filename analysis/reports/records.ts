/**
 * The typed records the reports work on, and the checked conversion from a query result (columns +
 * rows, as the read-only path returns them) into them. Numbers are converted with `Number()`
 * because a ClickHouse server may quote 64-bit integers in JSON while chDB does not.
 */
import type { Resource } from '../../common/contracts.js';
import type { QueryResult } from '../../clickhouse/read-only.js';
import { ReportDataError } from './errors.js';

export interface RangeInfo {
  /** Windows in the report (0: nothing to report). */
  windows: number;
  /** Windows the time range alone would hold (more than `windows` when `maxWindows` capped it). */
  inTime: number;
  firstWindow: number;
  lastWindow: number;
  windowTicks: number;
  /** Epoch ms of the first and last window in the report. */
  fromTime: number;
  toTime: number;
  /** Length of one window in ms (from the windows' own timestamps; 1000 when there is one window). */
  windowMs: number;
}

/** Per resource: the average, min and max of a window (or, folded, of a period: periods.ts). */
export interface ResourceFields {
  cpuAvg: number;
  cpuMin: number;
  cpuMax: number;
  ioAvg: number;
  ioMin: number;
  ioMax: number;
  memoryAvg: number;
  memoryMin: number;
  memoryMax: number;
}

/** The executions that ran in a window (or a period): how many, delayed, and their added latency (ticks). */
export interface ExecutionFields {
  executions: number;
  /** Executions that somebody delayed, and their added latency (ticks). */
  delayed: number;
  addedDelaySum: number;
  addedDelayMax: number;
}

export interface WindowRecord extends ResourceFields, ExecutionFields {
  windowId: number;
  /** Epoch ms at which the window closed. */
  t: number;
  samples: number;
}

export interface TopWindow {
  resource: Resource;
  windowId: number;
  t: number;
  peak: number;
  avg: number;
  executions: number;
}

export interface SpikeQueryCount {
  resource: Resource;
  queryId: string;
  /** Executions of the query in the resource's top windows, and in how many of them it ran. */
  executions: number;
  windows: number;
}

export interface QueryCount {
  queryId: string;
  executions: number;
  firstSeen: number;
  lastSeen: number;
  meanAddedDelay: number;
}

/** One query's latest estimate for one resource, with its 95 % interval (migration 010). */
export interface EstimateRecord {
  queryId: string;
  resource: Resource;
  estimate: number;
  sd: number;
  lower: number;
  upper: number;
  /** Executions the regression saw; `prior`: none, the estimate is the prior alone. */
  observations: number;
  prior: boolean;
}

export type Row = Record<string, unknown>;

/** Rows as objects keyed by column name. */
export function objects(result: QueryResult): Row[] {
  const names = result.columns.map((c) => c.name);
  return result.rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]])));
}

/** A finite number from a column; `fallback` for null (e.g. an outer join's missing side). */
export function num(row: Row, key: string, fallback?: number): number {
  const v = row[key];
  if ((v === null || v === undefined) && fallback !== undefined) return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) {
    if (fallback !== undefined && (v === null || (typeof v === 'string' && /^(nan|inf|-inf)$/i.test(v))))
      return fallback;
    throw new ReportDataError(`column ${key}: expected a number, got ${JSON.stringify(v)}`);
  }
  return n;
}

export function str(row: Row, key: string): string {
  const v = row[key];
  if (typeof v !== 'string') throw new ReportDataError(`column ${key}: expected text, got ${JSON.stringify(v)}`);
  return v;
}

export function resource(row: Row, key = 'resource'): Resource {
  const v = str(row, key);
  if (v !== 'cpu' && v !== 'io' && v !== 'memory') throw new ReportDataError(`column ${key}: unknown resource ${v}`);
  return v;
}

export function toRange(row: Row | undefined): RangeInfo {
  if (!row || num(row, 'windows', 0) === 0) {
    return {
      windows: 0,
      inTime: 0,
      firstWindow: 0,
      lastWindow: -1,
      windowTicks: 1,
      fromTime: 0,
      toTime: 0,
      windowMs: 1000,
    };
  }
  const firstWindow = num(row, 'first_window');
  const lastWindow = num(row, 'last_window');
  const fromTime = num(row, 'from_time');
  const toTime = num(row, 'to_time');
  return {
    windows: num(row, 'windows'),
    inTime: num(row, 'in_time'),
    firstWindow,
    lastWindow,
    windowTicks: Math.max(1, num(row, 'window_ticks')),
    fromTime,
    toTime,
    windowMs: lastWindow > firstWindow ? (toTime - fromTime) / (lastWindow - firstWindow) : 1000,
  };
}

/** The resource columns `<prefix><resource>_avg|min|max` (windowsSql: no prefix; periodsSql: `p_`). */
export function toResourceFields(r: Row, prefix = ''): ResourceFields {
  return {
    cpuAvg: num(r, `${prefix}cpu_avg`),
    cpuMin: num(r, `${prefix}cpu_min`),
    cpuMax: num(r, `${prefix}cpu_max`),
    ioAvg: num(r, `${prefix}io_avg`),
    ioMin: num(r, `${prefix}io_min`),
    ioMax: num(r, `${prefix}io_max`),
    memoryAvg: num(r, `${prefix}memory_avg`),
    memoryMin: num(r, `${prefix}memory_min`),
    memoryMax: num(r, `${prefix}memory_max`),
  };
}

/** The execution columns; a window nothing ran in has none (NULL or 0 from the outer join): 0. */
export function toExecutionFields(r: Row): ExecutionFields {
  return {
    executions: num(r, 'executions', 0),
    delayed: num(r, 'delayed', 0),
    addedDelaySum: num(r, 'added_delay_sum', 0),
    addedDelayMax: num(r, 'added_delay_max', 0),
  };
}

export function toWindow(r: Row): WindowRecord {
  return {
    windowId: num(r, 'window_id'),
    t: num(r, 't'),
    samples: num(r, 'samples'),
    ...toResourceFields(r),
    ...toExecutionFields(r),
  };
}

export function toTopWindow(r: Row): TopWindow {
  return {
    resource: resource(r),
    windowId: num(r, 'window_id'),
    t: num(r, 't'),
    peak: num(r, 'peak'),
    avg: num(r, 'avg'),
    executions: num(r, 'executions', 0),
  };
}

export function toSpikeQueryCount(r: Row): SpikeQueryCount {
  return {
    resource: resource(r),
    queryId: str(r, 'query_id'),
    executions: num(r, 'executions'),
    windows: num(r, 'windows'),
  };
}

export function toQueryCount(r: Row): QueryCount {
  return {
    queryId: str(r, 'query_id'),
    executions: num(r, 'executions'),
    firstSeen: num(r, 'first_seen'),
    lastSeen: num(r, 'last_seen'),
    meanAddedDelay: num(r, 'mean_added_delay', 0),
  };
}

/**
 * Scheduling before and after: when the scheduler started (the first execution it moved,
 * `delayed_by = 'scheduler'`), the per-window series (in band, worst max/avg and min/avg, share
 * moved, added latency) and the before/after figures the lab reports (scheduler/lab/metrics.ts:
 * windows scored by their worst resource, nearest-rank percentiles, an idle window not in band).
 * Every aggregation runs in ClickHouse through the caller's read-only `query`; this only reads
 * the rows. A few windows after the start are left out of "after" as warm-up: they still hold
 * executions queued before the scheduler saw them, and its arrival rate and latency controller
 * take a few seconds to settle.
 */
import { ReportDataError } from './errors.js';
import type { QueryFn } from './load.js';
import { num, objects, str, type RangeInfo, type Row } from './records.js';
import {
  reportTables,
  schedulingPhasesSql,
  schedulingSeriesSql,
  schedulingStartSql,
  type ExecutionSource,
  type SchedulingSpan,
} from './sql.js';

export type SchedulingPhaseName = 'before' | 'warm-up' | 'after' | 'unscheduled';

export interface SchedulingPoint {
  /** Epoch ms of the (last) window's end. */
  t: number;
  windows: number;
  /** Share of the point's windows in band (per window: 0 or 1). */
  inBandRate: number;
  /** Worst over resources; null when every average was 0. */
  maxAvg: number | null;
  minAvg: number | null;
  executions: number;
  /** Share of executions the scheduler moved. */
  movedShare: number;
  /** Mean added latency over the executions, in ticks. */
  meanAddedLatency: number;
}

export interface SchedulingPhase {
  phase: SchedulingPhaseName;
  windows: number;
  from: number;
  to: number;
  inBandRate: number;
  maxAvgP50: number | null;
  maxAvgP95: number | null;
  minAvgP5: number | null;
  minAvgP50: number | null;
  executions: number;
  movedShare: number;
  /** Ticks; null without executions. */
  addedLatencyMean: number | null;
  addedLatencyP99: number | null;
}

export interface SchedulingData {
  /** The first execution the scheduler moved in the range: epoch ms, tick, window; null: not scheduled. */
  start: { time: number; tick: number; window: number; moved: number } | null;
  /** Whether the scheduler acted from the range's first window on (no "before" to compare). */
  scheduledThroughout: boolean;
  warmupWindows: number;
  bucketWindows: number;
  points: SchedulingPoint[];
  /** In time order; `before`/`warm-up`/`after`, or `unscheduled` alone. */
  phases: SchedulingPhase[];
}

const PHASES: readonly SchedulingPhaseName[] = ['before', 'warm-up', 'after', 'unscheduled'];

const nullable = (r: Row, key: string): number | null => {
  const v = r[key];
  return v === null || v === undefined ? null : num(r, key);
};

function toPoint(r: Row): SchedulingPoint {
  const executions = num(r, 'executions', 0);
  return {
    t: num(r, 't'),
    windows: num(r, 'windows'),
    inBandRate: num(r, 'in_band_rate'),
    maxAvg: nullable(r, 'max_ratio'),
    minAvg: nullable(r, 'min_ratio'),
    executions,
    movedShare: executions > 0 ? num(r, 'moved', 0) / executions : 0,
    meanAddedLatency: executions > 0 ? num(r, 'added_sum', 0) / executions : 0,
  };
}

export function toPhase(r: Row): SchedulingPhase {
  const phase = str(r, 'phase') as SchedulingPhaseName;
  if (!PHASES.includes(phase)) throw new ReportDataError(`column phase: unknown scheduling phase ${phase}`);
  const executions = num(r, 'executions', 0);
  return {
    phase,
    windows: num(r, 'windows'),
    from: num(r, 'first_t'),
    to: num(r, 'last_t'),
    inBandRate: num(r, 'in_band_rate'),
    maxAvgP50: nullable(r, 'max_avg_p50'),
    maxAvgP95: nullable(r, 'max_avg_p95'),
    minAvgP5: nullable(r, 'min_avg_p5'),
    minAvgP50: nullable(r, 'min_avg_p50'),
    executions,
    movedShare: executions > 0 ? num(r, 'moved', 0) / executions : 0,
    addedLatencyMean: executions > 0 ? nullable(r, 'added_mean') : null,
    addedLatencyP99: executions > 0 ? nullable(r, 'added_p99') : null,
  };
}

export async function loadScheduling(params: {
  query: QueryFn;
  database: string;
  range: RangeInfo;
  warmupWindows: number;
  maxPoints: number;
  /** Executions read one by one (default) or from the insert-time rollups (a long range, load.ts). */
  source?: ExecutionSource;
  /** The run's scheduler was on from its first window (load.ts `scheduledFromStart`): no "before". */
  fromStart?: boolean;
}): Promise<SchedulingData> {
  const { query, range, warmupWindows } = params;
  const source = params.source ?? 'executions';
  const t = reportTables(params.database);
  const bucketWindows = Math.max(1, Math.ceil(range.windows / params.maxPoints));
  const [startRow] = objects(await query(schedulingStartSql(t, range, source)));
  const moved = startRow ? num(startRow, 'moved', 0) : 0;
  const start =
    startRow && moved > 0
      ? {
          time: num(startRow, 't'),
          tick: num(startRow, 'tick'),
          // Scheduled from the first window: its first move may land a window or two in (nothing
          // queued needed moving yet), but the windows before it are not an unscheduled "before".
          window: params.fromStart ? range.firstWindow : Math.floor(num(startRow, 'tick') / range.windowTicks),
          moved,
        }
      : null;
  const span: SchedulingSpan = { ...range, startWindow: start?.window ?? null, warmupWindows, bucketWindows };
  const [points, phases] = await Promise.all([
    query(schedulingSeriesSql(t, span, source)).then((r) => objects(r).map(toPoint)),
    query(schedulingPhasesSql(t, span, source)).then((r) => objects(r).map(toPhase)),
  ]);
  return {
    start,
    scheduledThroughout: start !== null && start.window <= range.firstWindow,
    warmupWindows,
    bucketWindows,
    points,
    phases,
  };
}

/** The phase named `name`, if the range has windows in it. */
export function phase(data: SchedulingData, name: SchedulingPhaseName): SchedulingPhase | undefined {
  return data.phases.find((p) => p.phase === name);
}

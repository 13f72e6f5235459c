/**
 * Long ranges, aggregated in ClickHouse: a report over hours or days of history draws periods (a
 * minute, ten minutes, an hour, …: the shortest that keeps a chart within `maxPoints`) instead of
 * every window, and reads only those rows, so its cost follows what it shows, not the history. The
 * spikes stay visible: a period keeps the max of its windows' maxima and the min of their minima
 * (the band), the mean of their averages (the line), and the share of its windows in band, each
 * window judged on its own first. The before/after figures (segments.ts) are computed per window in
 * ClickHouse too, with the markers as exact boundaries. The most recent windows are still read one
 * by one for the detailed view (load.ts).
 */
import { RESOURCES } from '../../common/contracts.js';
import type { TableNames } from '../../clickhouse/queries.js';
import {
  num,
  objects,
  toExecutionFields,
  toResourceFields,
  type ExecutionFields,
  type RangeInfo,
  type ResourceFields,
  type Row,
} from './records.js';
import type { QueryResult } from '../../clickhouse/read-only.js';
import type { ReportMarker } from './options.js';
import type { SegmentSummary } from './segments.js';
import { round, type Series } from './series.js';
import { int } from './sql-literals.js';
import { windowsSql, type ExecutionSource, type WindowSpan } from './sql.js';

/** Period lengths a long range is aggregated into, shortest first. */
export const PERIODS_MS = [60_000, 600_000, 3_600_000, 6 * 3_600_000, 86_400_000] as const;

/** A period: its windows folded (resources: mean of the averages, min of the minima, max of the maxima). */
export interface PeriodRecord extends ResourceFields, ExecutionFields {
  /** Epoch ms of the period's start, and of its last window's end. */
  start: number;
  t: number;
  windows: number;
  /** Windows in band. */
  inBand: number;
  /** Per resource: Σ max/avg, Σ min/avg over the windows with avg > 0, and how many those are. */
  ratios: Record<(typeof RESOURCES)[number], { hi: number; lo: number; ok: number }>;
}

/** `1 min`, `10 min`, `1 h`, `6 h`, `1 day`. */
export function periodName(periodMs: number): string {
  if (periodMs >= 86_400_000) return `${periodMs / 86_400_000} day`;
  if (periodMs >= 3_600_000) return `${periodMs / 3_600_000} h`;
  return `${periodMs / 60_000} min`;
}

/** The shortest period that keeps the range within `maxPoints` periods. */
export function periodFor(range: RangeInfo, maxPoints: number): number {
  const span = range.toTime - range.fromTime + range.windowMs;
  return PERIODS_MS.find((p) => Math.ceil(span / p) + 1 <= maxPoints) ?? PERIODS_MS[PERIODS_MS.length - 1]!;
}

/** Per window: its time, in-band flag and ratios, from the report's per-window rows. */
function perWindow(t: TableNames, s: WindowSpan, source: ExecutionSource): string {
  const band = RESOURCES.map((r) => `${r}_min >= 0.9 * ${r}_avg AND ${r}_max <= 1.1 * ${r}_avg`).join(' AND ');
  return `SELECT *, (${band}) AS in_band FROM (${windowsSql(t, s, source)})`;
}

const ratioColumns = RESOURCES.map(
  (r) => `sumIf(${r}_max / ${r}_avg, ${r}_avg > 0) AS ${r}_hi, sumIf(${r}_min / ${r}_avg, ${r}_avg > 0) AS ${r}_lo,
  countIf(${r}_avg > 0) AS ${r}_ok`,
).join(',\n  ');

/** One row per period of `periodMs` over the span: the folded windows (see PeriodRecord). */
export function periodsSql(t: TableNames, s: WindowSpan, periodMs: number, source: ExecutionSource): string {
  const bands = RESOURCES.map(
    (r) => `avg(${r}_avg) AS p_${r}_avg, min(${r}_min) AS p_${r}_min, max(${r}_max) AS p_${r}_max`,
  ).join(', ');
  return `SELECT intDiv(t, ${int(periodMs)}) * ${int(periodMs)} AS start, max(t) AS t_end, count() AS windows,
  ${bands},
  sum(executions) AS executions, sum(delayed) AS delayed, sum(added_delay_sum) AS added_delay_sum,
  max(added_delay_max) AS added_delay_max, countIf(in_band) AS in_band,
  ${ratioColumns}
FROM (${perWindow(t, s, source)})
GROUP BY start ORDER BY start`;
}

export function toPeriod(r: Row): PeriodRecord {
  return {
    start: num(r, 'start'),
    t: num(r, 't_end'),
    windows: num(r, 'windows'),
    ...toResourceFields(r, 'p_'),
    ...toExecutionFields(r),
    inBand: num(r, 'in_band', 0),
    ratios: Object.fromEntries(
      RESOURCES.map((x) => [x, { hi: num(r, `${x}_hi`, 0), lo: num(r, `${x}_lo`, 0), ok: num(r, `${x}_ok`, 0) }]),
    ) as PeriodRecord['ratios'],
  };
}

/** The charts' series from periods: one point (and one in-band bar) per period. */
export function seriesFromPeriods(periods: readonly PeriodRecord[], windowMs: number, periodMs: number): Series {
  const resources: Series['resources'] = [];
  const spread: Series['spread'] = [];
  for (const p of periods) {
    for (const r of RESOURCES) {
      const key = (k: 'Avg' | 'Min' | 'Max') => p[`${r}${k}`];
      resources.push({ t: p.t, resource: r, avg: round(key('Avg')), min: key('Min'), max: key('Max') });
      const { hi, lo, ok } = p.ratios[r];
      if (ok > 0) {
        spread.push({ t: p.t, resource: r, ratio: 'max/avg', value: round(hi / ok, 3) });
        spread.push({ t: p.t, resource: r, ratio: 'min/avg', value: round(lo / ok, 3) });
      }
    }
  }
  const seconds = windowMs / 1000;
  return {
    bucketWindows: Math.max(1, Math.round(periodMs / windowMs)),
    resources,
    spread,
    load: periods.map((p) => ({ t: p.t, perSecond: round(p.executions / p.windows / seconds) })),
    minutes: periods.map((p) => ({
      t: p.start,
      windows: p.windows,
      inBandRate: round(p.inBand / p.windows, 4),
      executions: p.executions,
      meanAddedDelay: p.executions > 0 ? round(p.addedDelaySum / p.executions, 3) : 0,
      maxAddedDelay: p.addedDelayMax,
      delayedShare: p.executions > 0 ? round(p.delayed / p.executions, 4) : 0,
    })),
    rolling: periods.map((p) => ({ t: p.t, inBandRate: round(p.inBand / p.windows, 4) })),
    rollingWindows: Math.max(1, Math.round(periodMs / windowMs)),
  };
}

/**
 * The before/after figures of segments.ts, per window in ClickHouse: segment i holds the windows
 * with i markers at or before their time; p95 is the same linear-interpolated percentile.
 */
export function segmentsSql(
  t: TableNames,
  s: WindowSpan,
  markers: readonly ReportMarker[],
  source: ExecutionSource,
): string {
  const times = `[${markers.map((m) => `toInt64(${int(m.time)})`).join(', ')}]`;
  const segment = markers.length > 0 ? `arrayCount(m -> m <= t, ${times})` : '0';
  const ratios = RESOURCES.map(
    (r) => `${ratioColumns.split(',\n  ')[RESOURCES.indexOf(r)]},
  quantileExactInclusiveIf(0.95)(${r}_max / ${r}_avg, ${r}_avg > 0) AS ${r}_p95`,
  ).join(',\n  ');
  return `SELECT ${segment} AS segment, min(t) AS t_from, max(t) AS t_to, count() AS windows, avg(in_band) AS in_band,
  sum(executions) AS executions, sum(delayed) AS delayed, sum(added_delay_sum) AS added_delay_sum,
  max(added_delay_max) AS added_delay_max,
  ${ratios}
FROM (${perWindow(t, s, source)})
GROUP BY segment ORDER BY segment`;
}

export function toSegments(
  result: QueryResult,
  markers: readonly ReportMarker[],
  windowMs: number,
  label: (markers: readonly ReportMarker[], i: number) => string,
): SegmentSummary[] {
  return objects(result).map((g) => {
    const executions = num(g, 'executions', 0);
    const windows = num(g, 'windows');
    const spread = Object.fromEntries(
      RESOURCES.map((r) => {
        const ok = num(g, `${r}_ok`, 0);
        return [
          r,
          {
            meanMaxRatio: ok > 0 ? round(num(g, `${r}_hi`) / ok, 3) : null,
            p95MaxRatio: ok > 0 ? round(num(g, `${r}_p95`), 3) : null,
            meanMinRatio: ok > 0 ? round(num(g, `${r}_lo`) / ok, 3) : null,
          },
        ];
      }),
    ) as SegmentSummary['spread'];
    return {
      label: label(markers, num(g, 'segment')),
      from: num(g, 't_from'),
      to: num(g, 't_to'),
      windows,
      inBandRate: round(num(g, 'in_band'), 4),
      spread,
      executionsPerSecond: round(executions / ((windows * windowMs) / 1000)),
      delayedShare: executions > 0 ? round(num(g, 'delayed', 0) / executions, 4) : 0,
      meanAddedDelay: executions > 0 ? round(num(g, 'added_delay_sum', 0) / executions, 3) : 0,
      maxAddedDelay: num(g, 'added_delay_max', 0),
    };
  });
}

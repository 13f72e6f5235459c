/**
 * The time series the charts draw, from the per-window records: resource usage (average with the
 * min–max band) and executions per second, spread ratios (max/avg, min/avg), and per minute the
 * in-band rate and the latency the scheduler added. Long ranges are downsampled into buckets of
 * consecutive windows so that a chart holds at most `maxPoints` points whatever the range; the
 * in-band flag and rates are always computed per window first (docs/architecture.md "Definitions").
 */
import { RESOURCES, type Resource } from '../../common/contracts.js';
import { groupAggregate, rollingRate, type FrameRow } from './frames.js';
import type { WindowRecord } from './records.js';

export interface ResourcePoint {
  t: number;
  resource: Resource;
  avg: number;
  min: number;
  max: number;
}

export interface LoadPoint {
  t: number;
  /** Executions per second (mean over the bucket). */
  perSecond: number;
}

export interface SpreadPoint {
  t: number;
  resource: Resource;
  ratio: 'max/avg' | 'min/avg';
  value: number;
}

export interface MinutePoint {
  /** Epoch ms of the minute's start. */
  t: number;
  windows: number;
  inBandRate: number;
  executions: number;
  /** Mean added latency over the minute's executions, and the largest, in ticks. */
  meanAddedDelay: number;
  maxAddedDelay: number;
  delayedShare: number;
}

export interface RollingPoint {
  t: number;
  inBandRate: number;
}

export interface Series {
  /** Windows per plotted point (1: every window is drawn). */
  bucketWindows: number;
  resources: ResourcePoint[];
  load: LoadPoint[];
  spread: SpreadPoint[];
  minutes: MinutePoint[];
  rolling: RollingPoint[];
  /** Windows in the rolling in-band rate. */
  rollingWindows: number;
}

const ROLLING_MS = 5 * 60_000;

function avgOf(w: WindowRecord, r: Resource): number {
  return r === 'cpu' ? w.cpuAvg : r === 'io' ? w.ioAvg : w.memoryAvg;
}
function minOf(w: WindowRecord, r: Resource): number {
  return r === 'cpu' ? w.cpuMin : r === 'io' ? w.ioMin : w.memoryMin;
}
function maxOf(w: WindowRecord, r: Resource): number {
  return r === 'cpu' ? w.cpuMax : r === 'io' ? w.ioMax : w.memoryMax;
}

/** In band: every resource has min ≥ 0.9·avg and max ≤ 1.1·avg (an idle window, all zeros, is). */
export function inBand(w: WindowRecord): boolean {
  return RESOURCES.every((r) => minOf(w, r) >= 0.9 * avgOf(w, r) && maxOf(w, r) <= 1.1 * avgOf(w, r));
}

/**
 * Per window and resource, max/avg and min/avg with a validity flag: a ratio is undefined when the
 * average is 0, and the sums-and-counts form lets a group-by average only the defined ones.
 */
export function ratioColumns(w: WindowRecord): FrameRow {
  const row: FrameRow = {};
  for (const r of RESOURCES) {
    const avg = avgOf(w, r);
    const ok = avg > 0;
    row[`${r}Hi`] = ok ? maxOf(w, r) / avg : 0;
    row[`${r}Lo`] = ok ? minOf(w, r) / avg : 0;
    row[`${r}Ok`] = ok ? 1 : 0;
  }
  return row;
}

export async function buildSeries(
  windows: readonly WindowRecord[],
  opts: { maxPoints: number; windowMs: number },
): Promise<Series> {
  const k = Math.max(1, Math.ceil(windows.length / opts.maxPoints));
  const seconds = opts.windowMs / 1000;
  const rows: FrameRow[] = windows.map((w, i) => ({
    bucket: Math.floor(i / k),
    minute: Math.floor(w.t / 60_000) * 60_000,
    t: w.t,
    cpuAvg: w.cpuAvg,
    cpuMin: w.cpuMin,
    cpuMax: w.cpuMax,
    ioAvg: w.ioAvg,
    ioMin: w.ioMin,
    ioMax: w.ioMax,
    memoryAvg: w.memoryAvg,
    memoryMin: w.memoryMin,
    memoryMax: w.memoryMax,
    executions: w.executions,
    delayed: w.delayed,
    addedDelaySum: w.addedDelaySum,
    addedDelayMax: w.addedDelayMax,
    inBand: inBand(w) ? 1 : 0,
    ...ratioColumns(w),
  }));

  const buckets = downsample(rows, k);
  const [minutes, rolling] = await Promise.all([
    groupAggregate(rows, 'minute', {
      inBand: 'mean',
      t: 'count',
      executions: 'sum',
      delayed: 'sum',
      addedDelaySum: 'sum',
      addedDelayMax: 'max',
    }),
    rollingRate(
      rows.map((r) => r.inBand as number),
      Math.max(1, Math.round(ROLLING_MS / opts.windowMs)),
    ),
  ]);

  const n = (row: FrameRow, key: string) => Number(row[key]);
  const resources: ResourcePoint[] = [];
  const spread: SpreadPoint[] = [];
  for (const b of buckets) {
    const t = n(b, 't');
    for (const r of RESOURCES) {
      resources.push({ t, resource: r, avg: round(n(b, `${r}Avg`)), min: n(b, `${r}Min`), max: n(b, `${r}Max`) });
      const ok = n(b, `${r}Ok`);
      if (ok > 0) {
        spread.push({ t, resource: r, ratio: 'max/avg', value: round(n(b, `${r}Hi`) / ok, 3) });
        spread.push({ t, resource: r, ratio: 'min/avg', value: round(n(b, `${r}Lo`) / ok, 3) });
      }
    }
  }
  return {
    bucketWindows: k,
    resources,
    spread,
    load: buckets.map((b) => ({ t: n(b, 't'), perSecond: round(n(b, 'executions') / seconds) })),
    minutes: minutes.map((m) => {
      const executions = n(m, 'executions');
      return {
        t: n(m, 'minute'),
        windows: n(m, 't'),
        inBandRate: round(n(m, 'inBand'), 4),
        executions,
        meanAddedDelay: executions > 0 ? round(n(m, 'addedDelaySum') / executions, 3) : 0,
        maxAddedDelay: n(m, 'addedDelayMax'),
        delayedShare: executions > 0 ? round(n(m, 'delayed') / executions, 4) : 0,
      };
    }),
    // Sampled at the end of each bucket, like the other series.
    rolling: rolling
      .map((rate, i) => ({ i, rate }))
      .filter(({ i }) => (i + 1) % k === 0 || i === rolling.length - 1)
      .map(({ i, rate }) => ({ t: windows[i]!.t, inBandRate: round(rate, 4) })),
    rollingWindows: Math.max(1, Math.round(ROLLING_MS / opts.windowMs)),
  };
}

/** How each column folds when `k` consecutive windows become one point. */
const BUCKET_FOLD: Record<string, 'max' | 'min' | 'mean' | 'sum'> = {
  t: 'max',
  cpuAvg: 'mean',
  cpuMin: 'min',
  cpuMax: 'max',
  ioAvg: 'mean',
  ioMin: 'min',
  ioMax: 'max',
  memoryAvg: 'mean',
  memoryMin: 'min',
  memoryMax: 'max',
  executions: 'mean',
  ...Object.fromEntries(RESOURCES.flatMap((r) => [`${r}Hi`, `${r}Lo`, `${r}Ok`].map((c) => [c, 'sum' as const]))),
};

/**
 * Consecutive windows folded `k` at a time: the band keeps its extremes (min of minima, max of
 * maxima), averages stay averages. A plain pass rather than a danfo group-by: with a thousand
 * buckets danfo spends ~0.3 s, a blocking pause the embedded process (which also runs the
 * database's 100 ms ticks) should not take; danfo does the group-bys with few groups.
 */
export function downsample(rows: readonly FrameRow[], k: number): FrameRow[] {
  const out: FrameRow[] = [];
  for (let start = 0; start < rows.length; start += k) {
    const group = rows.slice(start, start + k);
    const folded: FrameRow = {};
    for (const [col, fold] of Object.entries(BUCKET_FOLD)) {
      const values = group.map((r) => Number(r[col]));
      folded[col] =
        fold === 'max'
          ? Math.max(...values)
          : fold === 'min'
            ? Math.min(...values)
            : fold === 'sum'
              ? values.reduce((a, b) => a + b, 0)
              : values.reduce((a, b) => a + b, 0) / values.length;
    }
    out.push(folded);
  }
  return out;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

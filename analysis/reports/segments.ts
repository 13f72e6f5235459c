/**
 * Before/after: the markers of a report (given, plus "scheduler on" detected from the first delayed
 * execution) cut its range into segments, and each segment gets the figures the scheduler is judged
 * by: in-band rate, spread ratios (mean and 95th percentile of max/avg, mean min/avg) per resource,
 * executions per second and the latency added. A run that starts unscheduled and then turns the
 * scheduler on gives exactly the before/after comparison.
 */
import { RESOURCES, type Resource } from '../../common/contracts.js';
import { groupAggregate, quantile, type FrameRow } from './frames.js';
import type { FirstDelayed } from './load.js';
import type { ReportMarker } from './options.js';
import type { RangeInfo, WindowRecord } from './records.js';
import { inBand, ratioColumns, round } from './series.js';

export interface SegmentSummary {
  label: string;
  from: number;
  to: number;
  windows: number;
  inBandRate: number;
  spread: Record<Resource, { meanMaxRatio: number | null; p95MaxRatio: number | null; meanMinRatio: number | null }>;
  executionsPerSecond: number;
  delayedShare: number;
  /** Ticks, over every execution of the segment (undelayed ones add 0). */
  meanAddedDelay: number;
  maxAddedDelay: number;
}

/** Explicit markers plus the detected scheduler start, inside the range, in time order. */
export function reportMarkers(
  given: readonly ReportMarker[],
  firstDelayed: FirstDelayed | null,
  range: RangeInfo,
  detect: boolean,
): ReportMarker[] {
  const out = given.filter((m) => m.time >= range.fromTime && m.time <= range.toTime);
  // Only a start inside the range is a change to compare; delays from the first window on mean the
  // whole range is scheduled, and the summary says so without a marker.
  if (detect && firstDelayed && firstDelayed.time > range.fromTime) {
    // The detected marker is the first delayed execution. Only the scheduler's is "scheduler on": a
    // delay sent by hand (`delayed_by` another name, or none) is named as what it is.
    const label =
      firstDelayed.by === 'scheduler' ? 'scheduler on' : `delays by ${firstDelayed.by || 'an unnamed client'}`;
    out.push({ time: firstDelayed.time, label });
  }
  return out.sort((a, b) => a.time - b.time);
}

export function segmentLabel(markers: readonly ReportMarker[], i: number): string {
  if (markers.length === 0) return 'whole range';
  if (i === 0) return `before ${markers[0]!.label}`;
  return `after ${markers[i - 1]!.label}`;
}

export async function summarizeSegments(
  windows: readonly WindowRecord[],
  markers: readonly ReportMarker[],
  windowMs: number,
): Promise<SegmentSummary[]> {
  if (windows.length === 0) return [];
  const segmentOf = (t: number) => markers.filter((m) => m.time <= t).length;
  const rows: (FrameRow & { segment: number; t: number })[] = windows.map((w) => ({
    segment: segmentOf(w.t),
    t: w.t,
    inBand: inBand(w) ? 1 : 0,
    executions: w.executions,
    delayed: w.delayed,
    addedDelaySum: w.addedDelaySum,
    addedDelayMax: w.addedDelayMax,
    ...ratioColumns(w),
  }));
  const ratioSums = Object.fromEntries(
    RESOURCES.flatMap((r) => [`${r}Hi`, `${r}Lo`, `${r}Ok`].map((c) => [c, 'sum' as const])),
  );
  const groups = await groupAggregate(rows, 'segment', {
    inBand: 'mean',
    executions: 'sum',
    delayed: 'sum',
    addedDelaySum: 'sum',
    addedDelayMax: 'max',
    ...ratioSums,
  });
  const firstT = new Map<number, number>();
  const lastT = new Map<number, number>();
  const counts = new Map<number, number>();
  for (const r of rows) {
    if (!firstT.has(r.segment)) firstT.set(r.segment, r.t);
    lastT.set(r.segment, r.t);
    counts.set(r.segment, (counts.get(r.segment) ?? 0) + 1);
  }
  return groups.map((g) => {
    const seg = Number(g.segment);
    const n = (k: string) => Number(g[k]);
    const mine = rows.filter((r) => r.segment === seg);
    const spread = Object.fromEntries(
      RESOURCES.map((r) => {
        const ok = n(`${r}Ok`);
        const highs = mine.filter((x) => x[`${r}Ok`] === 1).map((x) => Number(x[`${r}Hi`]));
        return [
          r,
          {
            meanMaxRatio: ok > 0 ? round(n(`${r}Hi`) / ok, 3) : null,
            p95MaxRatio: highs.length > 0 ? round(quantile(highs, 0.95), 3) : null,
            meanMinRatio: ok > 0 ? round(n(`${r}Lo`) / ok, 3) : null,
          },
        ];
      }),
    ) as SegmentSummary['spread'];
    const executions = n('executions');
    const windowCount = counts.get(seg) ?? 0;
    return {
      label: segmentLabel(markers, seg),
      from: firstT.get(seg) ?? 0,
      to: lastT.get(seg) ?? 0,
      windows: windowCount,
      inBandRate: round(n('inBand'), 4),
      spread,
      executionsPerSecond: round(executions / ((windowCount * windowMs) / 1000)),
      delayedShare: executions > 0 ? round(n('delayed') / executions, 4) : 0,
      meanAddedDelay: executions > 0 ? round(n('addedDelaySum') / executions, 3) : 0,
      maxAddedDelay: n('addedDelayMax'),
    };
  });
}

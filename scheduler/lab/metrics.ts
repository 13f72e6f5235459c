/**
 * How the lab scores a run (docs/architecture.md "Definitions"): per window and resource the spread
 * ratios max/avg and min/avg; a window is in band when all three resources have
 * min ≥ 0.9·avg and max ≤ 1.1·avg. Resources are pooled per window by taking the worst of the
 * three (the largest max/avg, the smallest min/avg), since a window is only as good as its worst
 * resource. Windows whose average is 0 on a resource have no ratio there and are left out of the
 * ratio percentiles. A window in which nothing ran at all satisfies the band's inequalities
 * literally (0 ≥ 0.9·0), but it says nothing about flatness and a policy could manufacture such
 * windows by holding everything back, so it is scored as NOT in band.
 */
import { RESOURCES, type WindowEvent } from '../../common/contracts.js';

import { BAND } from '../band.js';

export { BAND };

export interface WindowScore {
  windowId: number;
  inBand: boolean;
  /** Worst over resources with a non-zero average; undefined when every average is 0. */
  maxAvg: number | undefined;
  minAvg: number | undefined;
  /** Per resource (cpu, io, memory); undefined where the average is 0. */
  perResource: { inBand: boolean; maxAvg: number | undefined; minAvg: number | undefined }[];
}

export function scoreWindow(w: WindowEvent): WindowScore {
  let inBand = true;
  let maxAvg: number | undefined;
  let minAvg: number | undefined;
  const perResource = RESOURCES.map((r) => {
    const { average, min, max } = w[r];
    const ok = min >= (1 - BAND) * average && max <= (1 + BAND) * average;
    if (!ok) inBand = false;
    if (average <= 0) return { inBand: ok, maxAvg: undefined, minAvg: undefined };
    const hi = max / average;
    const lo = min / average;
    maxAvg = maxAvg === undefined ? hi : Math.max(maxAvg, hi);
    minAvg = minAvg === undefined ? lo : Math.min(minAvg, lo);
    return { inBand: ok, maxAvg: hi, minAvg: lo };
  });
  const idle = w.cpu.max === 0 && w.io.max === 0 && w.memory.max === 0;
  return { windowId: w.windowId, inBand: inBand && !idle, maxAvg, minAvg, perResource };
}

/** Nearest-rank percentile (q in [0, 1]) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

export interface SpreadSummary {
  windows: number;
  inBandRate: number;
  maxAvgP50: number;
  maxAvgP95: number;
  minAvgP5: number;
  minAvgP50: number;
  /** Per resource: max/avg p95 and min/avg p50, to see which resource limits the band. */
  perResource: Record<string, { maxAvgP95: number; minAvgP50: number; inBandRate: number }>;
}

export function summarizeWindows(scores: readonly WindowScore[]): SpreadSummary {
  const defined = (xs: (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);
  const maxes = defined(scores.map((s) => s.maxAvg));
  const mins = defined(scores.map((s) => s.minAvg));
  const perResource: SpreadSummary['perResource'] = {};
  RESOURCES.forEach((r, i) => {
    const hi = defined(scores.map((s) => s.perResource[i]!.maxAvg));
    const lo = defined(scores.map((s) => s.perResource[i]!.minAvg));
    const inBand = scores.filter((s) => s.perResource[i]!.inBand).length;
    perResource[r] = {
      maxAvgP95: percentile(hi, 0.95),
      minAvgP50: percentile(lo, 0.5),
      inBandRate: scores.length ? inBand / scores.length : Number.NaN,
    };
  });
  return {
    windows: scores.length,
    inBandRate: scores.length ? scores.filter((s) => s.inBand).length / scores.length : Number.NaN,
    maxAvgP50: percentile(maxes, 0.5),
    maxAvgP95: percentile(maxes, 0.95),
    minAvgP5: percentile(mins, 0.05),
    minAvgP50: percentile(mins, 0.5),
    perResource,
  };
}

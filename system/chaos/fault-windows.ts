/**
 * Which moments of the chaos run are inside a fault: from the fault's injection until the affected
 * component was healthy again (or, when it never was, the end of the fault phase). The scheduler's
 * hit rate and the in-band rate are reported outside and inside these windows: outside is what the
 * system delivers while nothing is broken (the issue's ≥ 99 %), inside is what a fault costs.
 */

export interface Interval {
  from: number;
  to: number;
}

/** The scheduler's cumulative figures at a moment (summed over its processes). */
export interface HitSample {
  at: number;
  decisions: number;
  hits: number;
}

export interface RateFigures {
  decisions: number;
  hitRate: number | null;
  windows: number;
  inBand: number | null;
}

export function overlaps(a: Interval, windows: readonly Interval[]): boolean {
  return windows.some((w) => a.from < w.to && w.from < a.to);
}

/**
 * Hit rate and in-band rate outside and inside the fault windows, between `from` and `to`: each
 * step between two samples goes inside when it overlaps a fault window; each metrics window (its
 * start `t`, `lengthMs` long) likewise.
 */
export function ratesAroundFaults(p: {
  faults: readonly Interval[];
  samples: readonly HitSample[];
  windows: readonly { t: number; inBand: boolean }[];
  windowMs: number;
  from: number;
  to: number;
}): { outsideFaults: RateFigures; insideFaults: RateFigures } {
  const acc = { outside: { d: 0, h: 0, w: 0, b: 0 }, inside: { d: 0, h: 0, w: 0, b: 0 } };
  for (let i = 1; i < p.samples.length; i++) {
    const a = p.samples[i - 1]!;
    const b = p.samples[i]!;
    if (b.at <= p.from || a.at >= p.to) continue;
    const side = overlaps({ from: a.at, to: b.at }, p.faults) ? acc.inside : acc.outside;
    side.d += b.decisions - a.decisions;
    side.h += b.hits - a.hits;
  }
  for (const w of p.windows) {
    if (w.t < p.from || w.t >= p.to) continue;
    const side = overlaps({ from: w.t, to: w.t + p.windowMs }, p.faults) ? acc.inside : acc.outside;
    side.w++;
    if (w.inBand) side.b++;
  }
  const figures = (s: { d: number; h: number; w: number; b: number }): RateFigures => ({
    decisions: s.d,
    hitRate: s.d > 0 ? s.h / s.d : null,
    windows: s.w,
    inBand: s.w > 0 ? s.b / s.w : null,
  });
  return { outsideFaults: figures(acc.outside), insideFaults: figures(acc.inside) };
}

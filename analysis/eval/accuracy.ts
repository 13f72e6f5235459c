/**
 * Compares loaded estimates with the simulation's ground truth (evaluation only). Every query of the
 * catalog is scored with the estimate the scheduler would use for it: its row, or the prior for a
 * query never seen. Errors are absolute, in cost units, per resource; coverage is the share of
 * (query, resource) estimates whose 95 % interval holds the true value.
 */
import { RESOURCES, type Resource, type TrueQuery } from '../../common/contracts.js';
import { Z95 } from '../estimator/solve.js';
import type { LatestEstimates } from '../../clickhouse/estimates.js';

/** A query is well observed from this many executions on (the accuracy target's population). */
export const WELL_OBSERVED = 30;

export const BUCKETS = [
  { name: '0', min: 0, max: 0 },
  { name: '1-9', min: 1, max: 9 },
  { name: '10-29', min: 10, max: 29 },
  { name: '30-99', min: 30, max: 99 },
  { name: '100+', min: 100, max: Number.POSITIVE_INFINITY },
] as const;

export interface ErrorSummary {
  mae: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface GroupAccuracy {
  queries: number;
  errors: Record<Resource, ErrorSummary>;
  coverage95: number | null;
}

export interface AccuracyReport {
  queries: number;
  /** Queries with an estimate row (seen at least once). */
  queriesEstimated: number;
  queriesWellObserved: number;
  maeWellObserved: Record<Resource, number | null>;
  /** Over every catalog query (never-seen ones scored with the prior's interval). */
  coverage95: number | null;
  /** Over the queries with an estimate row only. */
  coverage95Estimated: number | null;
  coverage95WellObserved: number | null;
  /**
   * RMS of (estimate − truth)/sd over the queries with an estimate row: ≈ 1 when the sd's are
   * calibrated, above 1 when they are too small (coverage alone also rewards intervals too wide).
   */
  normalisedErrorRms: number | null;
  overall: GroupAccuracy;
  byObservations: Record<string, GroupAccuracy>;
}

interface Scored {
  observations: number;
  estimated: boolean;
  error: Record<Resource, number>;
  covered: Record<Resource, boolean>;
  /** (estimate − truth)/sd. */
  z: Record<Resource, number>;
}

export function scoreEstimates(latest: LatestEstimates, truth: readonly TrueQuery[]): AccuracyReport {
  const scored: Scored[] = truth.map((q) => {
    const e = latest.costs.get(q.id);
    const error = {} as Record<Resource, number>;
    const covered = {} as Record<Resource, boolean>;
    const z = {} as Record<Resource, number>;
    for (const r of RESOURCES) {
      const mean = e ? e[r] : latest.prior[r];
      const lower = e ? e.lower[r] : Math.max(0, latest.prior[r] - Z95 * latest.prior.sd[r]);
      const upper = e ? e.upper[r] : latest.prior[r] + Z95 * latest.prior.sd[r];
      error[r] = Math.abs(mean - q[r]);
      covered[r] = q[r] >= lower && q[r] <= upper;
      z[r] = (mean - q[r]) / (e ? e.sd[r] : latest.prior.sd[r]);
    }
    return { observations: e?.observations ?? 0, estimated: e !== undefined, error, covered, z };
  });
  const well = scored.filter((s) => s.observations >= WELL_OBSERVED);
  const estimated = scored.filter((s) => s.estimated);
  return {
    queries: scored.length,
    queriesEstimated: estimated.length,
    queriesWellObserved: well.length,
    maeWellObserved: Object.fromEntries(RESOURCES.map((r) => [r, meanOf(well.map((s) => s.error[r]))])) as Record<
      Resource,
      number | null
    >,
    coverage95: coverage(scored),
    coverage95Estimated: coverage(estimated),
    coverage95WellObserved: coverage(well),
    normalisedErrorRms: rmsOf(estimated.flatMap((s) => RESOURCES.map((r) => s.z[r]))),
    overall: group(scored),
    byObservations: Object.fromEntries(
      BUCKETS.map((b) => [b.name, group(scored.filter((s) => s.observations >= b.min && s.observations <= b.max))]),
    ),
  };
}

function group(items: Scored[]): GroupAccuracy {
  const errors = {} as Record<Resource, ErrorSummary>;
  for (const r of RESOURCES) {
    const values = items.map((s) => s.error[r]).sort((a, b) => a - b);
    errors[r] = {
      mae: meanOf(values),
      p50: percentile(values, 0.5),
      p90: percentile(values, 0.9),
      p99: percentile(values, 0.99),
    };
  }
  return { queries: items.length, errors, coverage95: coverage(items) };
}

function coverage(items: Scored[]): number | null {
  if (items.length === 0) return null;
  let hits = 0;
  for (const s of items) for (const r of RESOURCES) if (s.covered[r]) hits++;
  return hits / (items.length * RESOURCES.length);
}

function rmsOf(values: number[]): number | null {
  const squares = meanOf(values.map((v) => v * v));
  return squares === null ? null : Math.sqrt(squares);
}

function meanOf(values: number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Linear interpolation between closest ranks, on sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

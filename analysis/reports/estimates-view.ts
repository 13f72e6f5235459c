/**
 * The estimates section's table: the latest estimate of each query and resource with its 95 %
 * interval, how well observed it is, and (when evaluating) the true cost next to it, plus the
 * accuracy figures over well-observed queries (≥ 30 executions, the threshold issue 4 uses).
 */
import { RESOURCES, type Resource, type TrueQuery } from '../../common/contracts.js';
import { queryLabel } from './attribution.js';
import type { EstimateRecord } from './records.js';
import { round } from './series.js';

export const WELL_OBSERVED = 30;

export type ObservationBucket = 'prior only' | `< ${typeof WELL_OBSERVED}` | `${typeof WELL_OBSERVED}–99` | '≥ 100';

export interface EstimatePoint {
  queryId: string;
  label: string;
  /** 0 for the most observed query: the chart's row order. */
  rank: number;
  resource: Resource;
  estimate: number;
  lower: number;
  upper: number;
  observations: number;
  bucket: ObservationBucket;
  truth: number | null;
  covered: boolean | null;
}

export interface EstimateAccuracy {
  resource: Resource;
  /** Well-observed queries with a true cost. */
  queries: number;
  meanAbsoluteError: number | null;
  /** Share of those whose 95 % interval holds the true cost. */
  coverage95: number | null;
}

export interface EstimatesView {
  points: EstimatePoint[];
  queriesShown: number;
  queriesTotal: number;
  accuracy: EstimateAccuracy[] | null;
}

export function bucketOf(observations: number, prior: boolean): ObservationBucket {
  if (prior || observations === 0) return 'prior only';
  if (observations < WELL_OBSERVED) return `< ${WELL_OBSERVED}`;
  return observations < 100 ? `${WELL_OBSERVED}–99` : '≥ 100';
}

export function estimatesView(
  estimates: readonly EstimateRecord[],
  truth: readonly TrueQuery[] | undefined,
  maxQueries: number,
): EstimatesView {
  const trueCost = new Map((truth ?? []).map((q) => [q.id, q]));
  // Most observed first: the queries whose estimates matter most to the scheduler lead the chart.
  const order = [...new Map(estimates.map((e) => [e.queryId, e.observations])).entries()].sort(
    (a, b) => b[1] - a[1] || a[0].localeCompare(b[0]),
  );
  const rankOf = new Map(order.slice(0, maxQueries).map(([id], i) => [id, i]));
  const points: EstimatePoint[] = [];
  for (const e of estimates) {
    const rank = rankOf.get(e.queryId);
    if (rank === undefined) continue;
    const t = trueCost.get(e.queryId);
    const tv = t ? t[e.resource] : null;
    points.push({
      queryId: e.queryId,
      label: queryLabel(e.queryId),
      rank,
      resource: e.resource,
      estimate: round(e.estimate),
      lower: round(e.lower),
      upper: round(e.upper),
      observations: e.observations,
      bucket: bucketOf(e.observations, e.prior),
      truth: tv,
      covered: tv === null ? null : tv >= e.lower && tv <= e.upper,
    });
  }
  points.sort((a, b) => a.rank - b.rank || a.resource.localeCompare(b.resource));
  return {
    points,
    queriesShown: rankOf.size,
    queriesTotal: order.length,
    accuracy: truth && truth.length > 0 ? accuracy(estimates, trueCost) : null,
  };
}

function accuracy(estimates: readonly EstimateRecord[], truth: Map<string, TrueQuery>): EstimateAccuracy[] {
  return RESOURCES.map((resource) => {
    const scored = estimates.filter(
      (e) => e.resource === resource && e.observations >= WELL_OBSERVED && truth.has(e.queryId),
    );
    if (scored.length === 0) return { resource, queries: 0, meanAbsoluteError: null, coverage95: null };
    let err = 0;
    let covered = 0;
    for (const e of scored) {
      const tv = truth.get(e.queryId)![resource];
      err += Math.abs(e.estimate - tv);
      if (tv >= e.lower && tv <= e.upper) covered++;
    }
    return {
      resource,
      queries: scored.length,
      meanAbsoluteError: round(err / scored.length, 3),
      coverage95: round(covered / scored.length, 4),
    };
  });
}

/**
 * Spike attribution: which queries make the highest window maxima. For each resource, the K windows
 * with the highest maximum are taken; a query's contribution there is its executions in those
 * windows times its cost per execution, and its share is that over the sum for all queries. The
 * cost is the latest estimate (the product's own belief), the true cost when evaluating without
 * estimates, and 1 when neither is known (then the share is a share of executions).
 *
 * The lift says how over-represented a query is in the spike windows: its executions per spike
 * window over its executions per window in the whole range. A rare heavy query that lands in most
 * spikes has a high lift; a frequent light one has a lift near 1.
 */
import { RESOURCES, type Resource, type TrueQuery } from '../../common/contracts.js';
import { groupAggregate } from './frames.js';
import type { EstimateRecord, QueryCount, RangeInfo, SpikeQueryCount, TopWindow } from './records.js';
import { round } from './series.js';

export type CostBasis = 'estimates' | 'truth' | 'executions';

export interface AttributionRow {
  resource: Resource;
  queryId: string;
  label: string;
  executions: number;
  windows: number;
  /** Cost per execution used for the share, and whether it is a stand-in (no estimate for the query). */
  cost: number;
  costKnown: boolean;
  share: number;
  lift: number | null;
}

export interface Attribution {
  basis: CostBasis;
  /** Top queries by share, per resource, at most `topQueries` each. */
  rows: AttributionRow[];
  /** Spike windows per resource, as taken. */
  windows: Record<Resource, number>;
}

/** A short, stable label for a query UUID (the first 8 hex digits), for axes. */
export function queryLabel(id: string): string {
  return id.slice(0, 8);
}

export async function attributeSpikes(params: {
  spikeQueries: readonly SpikeQueryCount[];
  topWindows: readonly TopWindow[];
  queryCounts: readonly QueryCount[];
  range: RangeInfo;
  estimates: readonly EstimateRecord[];
  truth?: readonly TrueQuery[];
  topQueries: number;
}): Promise<Attribution> {
  const basis: CostBasis =
    params.estimates.length > 0 ? 'estimates' : params.truth && params.truth.length > 0 ? 'truth' : 'executions';
  const costs = new Map<string, number>();
  if (basis === 'estimates') for (const e of params.estimates) costs.set(`${e.queryId}/${e.resource}`, e.estimate);
  if (basis === 'truth') for (const q of params.truth ?? []) for (const r of RESOURCES) costs.set(`${q.id}/${r}`, q[r]);
  // A query the estimator has not seen yet counts at the resource's mean estimate: the same
  // stand-in the scheduler uses for an unknown query, and better than 0 for a query that did run.
  const fallback = new Map<Resource, number>();
  for (const r of RESOURCES) {
    const known = params.estimates.filter((e) => e.resource === r).map((e) => e.estimate);
    fallback.set(r, known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1);
  }

  const windows = Object.fromEntries(
    RESOURCES.map((r) => [r, params.topWindows.filter((w) => w.resource === r).length]),
  ) as Record<Resource, number>;
  const total = new Map(params.queryCounts.map((q) => [q.queryId, q.executions]));

  const rows = params.spikeQueries.map((s) => {
    const known = basis === 'executions' ? true : costs.has(`${s.queryId}/${s.resource}`);
    const cost = basis === 'executions' ? 1 : (costs.get(`${s.queryId}/${s.resource}`) ?? fallback.get(s.resource)!);
    return { ...s, cost, costKnown: known, contribution: s.executions * Math.max(0, cost) };
  });
  const totals = await groupAggregate(
    rows.map((r) => ({ resource: r.resource, contribution: r.contribution })),
    'resource',
    { contribution: 'sum' },
  );
  const totalOf = new Map(totals.map((t) => [t.resource as string, Number(t.contribution)]));

  const out: AttributionRow[] = [];
  for (const r of RESOURCES) {
    const perSpike = windows[r];
    const mine = rows
      .filter((x) => x.resource === r)
      .map((x) => {
        const sum = totalOf.get(r) ?? 0;
        const overall = total.get(x.queryId) ?? 0;
        const baseline = overall / Math.max(1, params.range.windows);
        return {
          resource: r,
          queryId: x.queryId,
          label: queryLabel(x.queryId),
          executions: x.executions,
          windows: x.windows,
          cost: round(x.cost),
          costKnown: x.costKnown,
          share: sum > 0 ? round(x.contribution / sum, 4) : 0,
          lift: baseline > 0 && perSpike > 0 ? round(x.executions / perSpike / baseline) : null,
        };
      })
      .sort((a, b) => b.share - a.share || a.queryId.localeCompare(b.queryId))
      .slice(0, params.topQueries);
    out.push(...mine);
  }
  return { basis, rows: out, windows };
}

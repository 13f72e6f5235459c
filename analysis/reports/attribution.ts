/**
 * Spike attribution: which queries make the highest window maxima. For each resource, the K windows
 * with the highest maximum are taken; a query's contribution there is its executions in those
 * windows times its cost per execution, and its share is that over the sum for all queries. The
 * cost is the latest estimate (the product's own belief), the true cost when evaluating without
 * estimates, and 1 when neither is known (then the share is a share of executions).
 *
 * The lift says how over-represented a query is in the spike windows, measured against load: its
 * executions there over what its share of all executions predicts for the executions those windows
 * held. Spike windows hold more executions than most (arrivals bunch), so a lift per window would
 * make every query look guilty; this one is 1 for a query that merely runs as often there as
 * everywhere. A query **stands out** only when its lift is at least MIN_LIFT and a Poisson tail says
 * its count is not chance (p below 1 % over the number of queries tested, Bonferroni); otherwise the
 * page says no query stands out and the spikes come from arrivals bunching in ticks.
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
  /** P(count ≥ executions) for a Poisson with the load-adjusted expectation; null without one. */
  pValue: number | null;
  standsOut: boolean;
}

export interface Attribution {
  basis: CostBasis;
  /** Top queries by share, per resource, at most `topQueries` each. */
  rows: AttributionRow[];
  /** Spike windows per resource, as taken. */
  windows: Record<Resource, number>;
  /** Executions per spike window over executions per window in the whole range (load of the spikes). */
  loadRatio: Record<Resource, number | null>;
  /** Queries that stand out (see the module comment), per resource, by lift. */
  standouts: AttributionRow[];
}

export const MIN_LIFT = 1.5;
const ALPHA = 0.01;

/** P(X ≥ k) for X ~ Poisson(mu), summed from k upwards in log space (no overflow for large counts). */
export function poissonUpperTail(k: number, mu: number): number {
  if (k <= 0) return 1;
  if (mu <= 0) return 0;
  let logFact = 0;
  for (let i = 2; i <= k; i++) logFact += Math.log(i);
  let term = Math.exp(k * Math.log(mu) - mu - logFact);
  let sum = 0;
  for (let i = k; term > 0 && (i < mu + 10 || term > sum * 1e-15); i++) {
    sum += term;
    term *= mu / (i + 1);
  }
  return Math.min(1, sum);
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
  const allExecutions = params.queryCounts.reduce((n, q) => n + q.executions, 0);
  const spikeExecutions = Object.fromEntries(
    RESOURCES.map((r) => [r, params.topWindows.filter((w) => w.resource === r).reduce((n, w) => n + w.executions, 0)]),
  ) as Record<Resource, number>;
  const loadRatio = Object.fromEntries(
    RESOURCES.map((r) => [
      r,
      windows[r] > 0 && allExecutions > 0
        ? round(spikeExecutions[r] / windows[r] / (allExecutions / Math.max(1, params.range.windows)))
        : null,
    ]),
  ) as Record<Resource, number | null>;
  const tested = Math.max(1, params.queryCounts.length);

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
  const standouts: AttributionRow[] = [];
  for (const r of RESOURCES) {
    const all = rows
      .filter((x) => x.resource === r)
      .map((x): AttributionRow => {
        const sum = totalOf.get(r) ?? 0;
        const overall = total.get(x.queryId) ?? 0;
        // What the query's share of all executions predicts for the executions the spike windows held.
        const expected = allExecutions > 0 ? (overall / allExecutions) * spikeExecutions[r] : 0;
        const lift = expected > 0 ? x.executions / expected : null;
        const pValue = expected > 0 ? poissonUpperTail(x.executions, expected) : null;
        return {
          resource: r,
          queryId: x.queryId,
          label: queryLabel(x.queryId),
          executions: x.executions,
          windows: x.windows,
          cost: round(x.cost),
          costKnown: x.costKnown,
          share: sum > 0 ? round(x.contribution / sum, 4) : 0,
          lift: lift === null ? null : round(lift),
          pValue,
          standsOut: lift !== null && pValue !== null && lift >= MIN_LIFT && pValue < ALPHA / tested,
        };
      });
    standouts.push(...all.filter((x) => x.standsOut).sort((a, b) => b.lift! - a.lift!));
    out.push(
      ...all.sort((a, b) => b.share - a.share || a.queryId.localeCompare(b.queryId)).slice(0, params.topQueries),
    );
  }
  return { basis, rows: out, windows, loadRatio, standouts };
}

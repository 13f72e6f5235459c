/**
 * Why windows spread: a window's max/avg for a resource is the busiest tick's load over the mean
 * tick's load. A tick's load is the sum of the costs of the executions that ran in it, so the ratio
 * splits exactly into two factors:
 *
 *   max/avg = (max executions per tick ÷ mean executions per tick) × mix
 *
 * the **count** factor (how many executions land per tick: arrivals bunching, what a scheduler can
 * even out by moving executions) and the **mix** factor (which queries they are: one heavy query in
 * the busiest tick makes it above 1, light ones below). Summed in logarithms over the windows, the
 * count part's share of log(max/avg) says which dominates. Computed in ClickHouse over the windows
 * read one by one (the most recent ones on a long range): executions per tick, then per window.
 */
import { RESOURCES, type Resource } from '../../common/contracts.js';
import type { TableNames } from '../../clickhouse/queries.js';
import type { QueryFn } from './load.js';
import { num, objects, str, type Row } from './records.js';
import { int } from './sql-literals.js';
import type { WindowSpan } from './sql.js';

export interface SpreadDecomposition {
  resource: Resource;
  /** Windows where something ran and the resource's average was not 0. */
  windows: number;
  /** Means over those windows: max/avg, the count factor and the mix factor (dimensionless). */
  maxAvg: number;
  countFactor: number;
  mixFactor: number;
  /** Share of Σ log(max/avg) due to the count factor (the mix's is 1 − it); null when every window was flat. */
  countShare: number | null;
}

export function spreadDecompositionSql(t: TableNames, s: WindowSpan): string {
  const first = int(s.firstWindow);
  const last = int(s.lastWindow);
  const w = int(s.windowTicks);
  const triples = RESOURCES.map((r) => `('${r}', toFloat64(w.${r}_max), toFloat64(w.${r}_avg))`).join(', ');
  return `SELECT x.1 AS resource, count() AS windows, avg(x.2 / x.3) AS max_avg, avg(cf) AS count_factor,
  avg(x.2 / x.3 / cf) AS mix_factor, sum(log(x.2 / x.3)) AS log_max_avg, sum(log(cf)) AS log_count
FROM (
  SELECT arrayJoin([${triples}]) AS x, c.n_max * w.samples / c.n_sum AS cf
  FROM (SELECT window_id, samples, ${RESOURCES.map((r) => `${r}_max, ${r}_avg`).join(', ')}
    FROM ${t.windowsDedup} WHERE window_id BETWEEN ${first} AND ${last}) AS w
  INNER JOIN (
    SELECT intDiv(executed_tick, ${w}) AS window_id, max(n) AS n_max, sum(n) AS n_sum
    FROM (SELECT executed_tick, count() AS n FROM ${t.executionsDedup}
      WHERE executed_tick BETWEEN ${first} * ${w} AND (${last} + 1) * ${w} - 1 GROUP BY executed_tick)
    GROUP BY window_id
  ) AS c ON c.window_id = w.window_id
  WHERE w.samples > 0
)
WHERE x.3 > 0
GROUP BY resource
ORDER BY resource`;
}

function toDecomposition(r: Row): SpreadDecomposition {
  const logMaxAvg = num(r, 'log_max_avg', 0);
  return {
    resource: str(r, 'resource') as Resource,
    windows: num(r, 'windows'),
    maxAvg: num(r, 'max_avg'),
    countFactor: num(r, 'count_factor'),
    mixFactor: num(r, 'mix_factor'),
    countShare: logMaxAvg > 0 ? num(r, 'log_count', 0) / logMaxAvg : null,
  };
}

export async function loadSpreadDecomposition(
  query: QueryFn,
  t: TableNames,
  span: WindowSpan,
): Promise<SpreadDecomposition[]> {
  return objects(await query(spreadDecompositionSql(t, span))).map(toDecomposition);
}

/** Which factor dominates, with numbers, for the page and the summary. */
export function decompositionVerdict(rows: readonly SpreadDecomposition[]): string {
  const shares = rows.filter((r) => r.countShare !== null);
  if (shares.length === 0) return 'No window with a spread to explain.';
  const mean = shares.reduce((s, r) => s + r.countShare!, 0) / shares.length;
  const each = shares.map((r) => `${r.resource} ${Math.round(r.countShare! * 100)} %`).join(', ');
  return mean >= 0.5
    ? `The count dominates: ${Math.round(mean * 100)} % of the spread (of log max/avg; ${each}) comes from how many executions land per tick, the rest from which queries they are. Spikes are arrivals bunching in ticks.`
    : `The mix dominates: only ${Math.round(mean * 100)} % of the spread (of log max/avg; ${each}) comes from how many executions land per tick; the rest comes from which queries they are.`;
}

/**
 * The unscheduled spread of a scheduled run, from its own executions: each execution would have run
 * at `executed_tick − added_delay` (its queued tick plus the default delay) had nobody moved it. With
 * the latest estimates as the cost of each execution, the same windows are scored twice in
 * ClickHouse, as run and as they would have been unscheduled, as the lab scores them (in band: every
 * resource's min ≥ 0.9·avg and max ≤ 1.1·avg; the worst max/avg over the resources). Both sides use
 * the estimates, so estimate errors cancel in the comparison. This is what a run scheduled from its
 * first tick (a plain `npm start`) compares with, since it has no "before".
 */
import { RESOURCES } from '../../common/contracts.js';
import type { TableNames } from '../../clickhouse/queries.js';
import type { QueryFn } from './load.js';
import { num, objects, str, type Row } from './records.js';
import { int } from './sql-literals.js';
import type { WindowSpan } from './sql.js';

export interface CounterfactualSide {
  mode: 'as run' | 'unscheduled';
  windows: number;
  inBandRate: number;
  maxAvgP50: number | null;
  maxAvgP95: number | null;
}

/** Ticks an execution may have been moved by, at most, read past the span so its last windows are whole. */
const MAX_MOVE_TICKS = 200;

export function counterfactualSql(t: TableNames, s: WindowSpan, version: number): string {
  const w = int(s.windowTicks);
  const per = (fn: string) => RESOURCES.map((r) => `${fn.replaceAll('$', r)} AS ${r}`).join(', ');
  const band = RESOURCES.map((r) => `${r}_min >= 0.9 * ${r}_avg AND ${r}_max <= 1.1 * ${r}_avg`).join(' AND ');
  const ratios = `arrayFilter(x -> x >= 0, [${RESOURCES.map((r) => `if(${r}_avg > 0, ${r}_max / ${r}_avg, -1)`).join(', ')}])`;
  return `SELECT mode, count() AS windows, avg(in_band) AS in_band_rate, arraySort(groupArray(max_ratio)) AS sorted,
  if(empty(sorted), NULL, arrayElement(sorted, toUInt64(greatest(1, ceil(0.5 * length(sorted)))))) AS max_avg_p50,
  if(empty(sorted), NULL, arrayElement(sorted, toUInt64(greatest(1, ceil(0.95 * length(sorted)))))) AS max_avg_p95
FROM (
  SELECT mode, intDiv(tick, ${w}) AS window_id,
    ${RESOURCES.map((r) => `max(${r}) AS ${r}_max, sum(${r}) / ${w} AS ${r}_avg, if(count() < ${w}, 0, min(${r})) AS ${r}_min`).join(',\n    ')},
    toUInt8(${band} AND cpu_max + io_max + memory_max > 0) AS in_band,
    ${ratios} AS ratios, if(empty(ratios), NULL, arrayMax(ratios)) AS max_ratio
  FROM (
    SELECT x.1 AS mode, x.2 AS tick, ${per('sum(e.$)')}
    FROM (SELECT query_id, arrayJoin([('as run', executed_tick), ('unscheduled', executed_tick - added_delay)]) AS x
      FROM ${t.executionsDedup}
      WHERE executed_tick BETWEEN ${int(s.firstWindow)} * ${w} AND (${int(s.lastWindow)} + 1) * ${w} + ${MAX_MOVE_TICKS} - 1) AS ex
    LEFT JOIN (SELECT query_id, cpu, io, memory FROM ${t.database}.estimates FINAL WHERE version = ${int(version)}) AS e
      ON e.query_id = ex.query_id
    GROUP BY mode, tick
  )
  GROUP BY mode, window_id
  HAVING window_id BETWEEN ${int(s.firstWindow)} AND ${int(s.lastWindow)}
)
GROUP BY mode
ORDER BY mode`;
}

function toSide(r: Row): CounterfactualSide {
  const nullable = (k: string) => (r[k] === null || r[k] === undefined ? null : num(r, k));
  return {
    mode: str(r, 'mode') === 'unscheduled' ? 'unscheduled' : 'as run',
    windows: num(r, 'windows'),
    inBandRate: num(r, 'in_band_rate'),
    maxAvgP50: nullable('max_avg_p50'),
    maxAvgP95: nullable('max_avg_p95'),
  };
}

export async function loadCounterfactual(
  query: QueryFn,
  t: TableNames,
  span: WindowSpan,
  version: number,
): Promise<CounterfactualSide[]> {
  return objects(await query(counterfactualSql(t, span, version))).map(toSide);
}

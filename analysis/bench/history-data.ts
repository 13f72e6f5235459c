/**
 * Synthetic history for `npm run bench:history`, generated inside ClickHouse (INSERT … SELECT) into
 * the product's own `executions` and `windows` tables, row format as the ingest writes them (rows.ts):
 * hours of history take seconds instead of the hours a simulation would.
 *
 * The shape follows the simulated database's defaults: 100 ms ticks, 10-tick windows, a catalog of
 * `queryCount` queries, each running in a tick with its own probability (a skewed spread, scaled so
 * that the expected executions per tick are 1.43 × the probability scale, as measured with the
 * simulator: 514 k executions per hour at scale 10), each with fixed per-tick costs. A window's
 * samples are the per-tick sums of its executions' costs, so the window rows are consistent with the
 * executions the way the monitor's are (average truncated, min, max), and the regression has real
 * work to do. Randomness is a hash of (seed, tick, query): the same arguments give the same rows.
 *
 * History rows get `inserted_at` = their time + 200 ms (as if ingested live); rows added while the
 * bench measures keep the column's default (now), like the ingest's.
 */
import type { ClickHouseClient } from '@clickhouse/client';

export const TICK_MS = 100;
export const WINDOW_TICKS = 10;
/** Expected executions per tick at probability scale 1 (measured with the simulator's defaults). */
const EXECUTIONS_PER_TICK = 1.43;

export interface HistoryShape {
  database: string;
  queryCount: number;
  probabilityScale: number;
  seed: number;
}

/** The bench's catalog: query ids, per-tick probabilities and costs (a table next to the product's). */
export async function createCatalog(client: ClickHouseClient, s: HistoryShape): Promise<void> {
  const db = s.database;
  await client.command({ query: `DROP TABLE IF EXISTS ${db}.bench_catalog` });
  await client.command({
    query: `CREATE TABLE ${db}.bench_catalog (i UInt32, query_id UUID, p Float64, cpu UInt32, io UInt32, memory UInt32)
      ENGINE = Memory`,
  });
  // Weights 1/(i+1)^0.8: a few frequent queries and a long tail, normalized to the wanted rate.
  await client.command({
    query: `INSERT INTO ${db}.bench_catalog
      WITH (SELECT sum(pow(number + 1, -0.8)) FROM numbers({n:UInt32})) AS total
      SELECT toUInt32(number), reinterpretAsUUID(sipHash128(concat('bench-query-', toString({seed:UInt64}), '-', toString(number)))),
        least(1.0, pow(number + 1, -0.8) / total * {rate:Float64}),
        toUInt32(1 + cityHash64({seed:UInt64}, number, 'cpu') % 40),
        toUInt32(1 + cityHash64({seed:UInt64}, number, 'io') % 40),
        toUInt32(1 + cityHash64({seed:UInt64}, number, 'memory') % 40)
      FROM numbers({n:UInt32})`,
    query_params: { n: s.queryCount, seed: s.seed, rate: EXECUTIONS_PER_TICK * s.probabilityScale },
    clickhouse_settings: { async_insert: 0 },
  });
}

/**
 * Executions and windows of ticks [fromTick, toTick) (whole windows: both multiples of 10).
 * `historical`: inserted_at = row time + 200 ms; otherwise the default (now).
 */
export async function insertTicks(
  client: ClickHouseClient,
  s: HistoryShape,
  fromTick: number,
  toTick: number,
  historical: boolean,
): Promise<void> {
  const db = s.database;
  const ms = (tick: string) => `fromUnixTimestamp64Milli(toInt64(${tick}) * ${TICK_MS}, 'UTC')`;
  const inserted = (time: string) => (historical ? `, ${time} + toIntervalMillisecond(200)` : '');
  const insertedColumn = historical ? ', inserted_at' : '';
  const params = { from: fromTick, ticks: toTick - fromTick, seed: s.seed };
  const settings = { async_insert: 0, max_threads: 2 } as const;
  await client.command({
    query: `INSERT INTO ${db}.executions (execution_id, query_id, queued_tick, executed_tick, queued_at, executed_at,
        added_delay, delay_count, delayed_by${insertedColumn})
      SELECT reinterpretAsUUID(sipHash128(concat(toString({seed:UInt64}), '-', toString(tick), '-', toString(c.i)))),
        c.query_id, tick - 1, tick, ${ms('tick - 1')}, ${ms('tick')}, 0, 0, NULL${inserted(ms('tick'))}
      FROM (SELECT {from:Int64} + number AS tick FROM numbers({ticks:UInt64})) AS t
      CROSS JOIN ${db}.bench_catalog AS c
      WHERE cityHash64({seed:UInt64}, tick, c.i) < c.p * 18446744073709551615
      ORDER BY tick`,
    query_params: params,
    clickhouse_settings: settings,
  });
  const stats = ['cpu', 'io', 'memory']
    .map((r) => `toUInt32(intDiv(sum(${r}), ${WINDOW_TICKS})), toUInt32(min(${r})), toUInt32(max(${r}))`)
    .join(', ');
  await client.command({
    query: `INSERT INTO ${db}.windows (window_id, first_tick, last_tick, samples, cpu_avg, cpu_min, cpu_max, io_avg,
        io_min, io_max, memory_avg, memory_min, memory_max, ts${insertedColumn})
      SELECT intDiv(tick, ${WINDOW_TICKS}) AS w, w * ${WINDOW_TICKS}, w * ${WINDOW_TICKS} + ${WINDOW_TICKS - 1}, ${WINDOW_TICKS},
        ${stats}, ${ms(`w * ${WINDOW_TICKS} + ${WINDOW_TICKS - 1}`)}${inserted(ms(`w * ${WINDOW_TICKS} + ${WINDOW_TICKS - 1}`))}
      FROM (
        SELECT t.tick AS tick, sum(c.cpu) AS cpu, sum(c.io) AS io, sum(c.memory) AS memory
        FROM (SELECT {from:Int64} + number AS tick FROM numbers({ticks:UInt64})) AS t
        LEFT JOIN (
          SELECT e.executed_tick AS tick, c.cpu AS cpu, c.io AS io, c.memory AS memory
          FROM ${db}.executions AS e INNER JOIN ${db}.bench_catalog AS c ON e.query_id = c.query_id
          WHERE e.executed_tick >= {from:Int64} AND e.executed_tick < {from:Int64} + {ticks:UInt64}
        ) AS c ON t.tick = c.tick
        GROUP BY tick
      )
      GROUP BY w ORDER BY w`,
    query_params: params,
    clickhouse_settings: { ...settings, join_use_nulls: 0 },
  });
}

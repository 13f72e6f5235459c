/**
 * The in-memory statistics (window-stats.ts) against the SQL path: the same simulated run goes into
 * a real chDB (temporary directory) and, event by event as the database emits it, into the
 * accumulator. The sufficient statistics — and the costs `solveCosts` derives from them — must be
 * the same, so a tool that runs the accumulator (the scheduling lab) runs the product's estimator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStats } from '../../../analysis/estimator/blocks.js';
import { noPause } from '../../../analysis/estimator/pause.js';
import { DEFAULT_SOLVE_OPTIONS, solveCosts, type CostSolution } from '../../../analysis/estimator/solve.js';
import type { TotalMethod } from '../../../analysis/estimator/sql.js';
import type { SufficientStats } from '../../../analysis/estimator/stats.js';
import { WindowStatsAccumulator } from '../../../analysis/index.js';
import { silentLogger } from '../../../common/logger.js';
import type { ExecutedEvent, WindowEvent } from '../../../common/contracts.js';
import { ClickHouseStore, migrate } from '../../../clickhouse/index.js';
import { Database } from '../../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../../server/options.js';
import { openTempClickHouse, type TempClickHouse } from '../../clickhouse/helpers.js';

let ch: TempClickHouse;
let databases = 0;
beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => ch.close());

interface Run {
  executions: ExecutedEvent[];
  windows: WindowEvent[];
  /** The accumulators, fed live from the hooks (one per method). */
  accumulators: Record<TotalMethod, WindowStatsAccumulator>;
}

/**
 * A simulated run; every `dropEvery`-th execution is lost (from both paths alike), which leaves
 * some windows inconsistent, as missing rows would in the product.
 */
function simulate(ticks: number, overrides: Partial<SimulationOptions> & { seed: string }, dropEvery = 0): Run {
  const db = new Database(simulationOptions(overrides));
  const accumulators = {
    midpoint: new WindowStatsAccumulator('midpoint'),
    bounds: new WindowStatsAccumulator('bounds'),
  };
  const executions: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  let seen = 0;
  db.hooks.executed.add((e) => {
    if (dropEvery > 0 && ++seen % dropEvery === 0) return;
    executions.push(e);
    for (const a of Object.values(accumulators)) a.addExecution(e.queryId, e.executedTick);
  });
  db.hooks.window.add((w) => {
    windows.push(w);
    for (const a of Object.values(accumulators)) a.addWindow(w);
  });
  db.run(ticks);
  return { executions, windows, accumulators };
}

async function sqlStats(run: Run, method: TotalMethod, incremental: boolean) {
  const database = `ws_${++databases}`;
  await migrate(ch.client, { database });
  const store = new ClickHouseStore(ch.client, { database });
  await store.insertExecutions(run.executions);
  await store.insertWindows(run.windows);
  return collectStats(ch.client, {
    database,
    method,
    blockWindows: 25,
    settleMs: 0,
    blocksPerInsert: 4,
    incremental,
    version: 1,
    logger: silentLogger,
    insertMarginMs: 0,
  });
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

function expectSameStats(memory: SufficientStats, sql: SufficientStats): void {
  expect(memory.queries).toEqual(sql.queries);
  expect(memory.totals.windows).toBe(sql.totals.windows);
  expect(memory.totals.executions).toBe(sql.totals.executions);
  expect(memory.totals.inconsistent).toBe(sql.totals.inconsistent);
  for (const key of ['sumY', 'yy', 'noise12'] as const) {
    memory.totals[key].forEach((v, r) => expect(close(v, sql.totals[key][r]!), `${key}[${r}]`).toBe(true));
  }
  const arrays = (s: SufficientStats) => ({
    diag: s.gram.diag,
    executions: s.executions,
    windows: s.windows,
    cpu: s.xty[0],
    io: s.xty[1],
    memory: s.xty[2],
    values: s.gram.values,
  });
  const m = arrays(memory);
  const q = arrays(sql);
  for (const key of Object.keys(m) as (keyof typeof m)[]) {
    expect(m[key].length, key).toBe(q[key].length);
    const mismatches = Array.from(m[key]).filter((v, i) => !close(v, q[key][i]!));
    expect(mismatches, key).toEqual([]);
  }
  expect(Array.from(memory.gram.rows)).toEqual(Array.from(sql.gram.rows));
  expect(Array.from(memory.gram.cols)).toEqual(Array.from(sql.gram.cols));
}

function expectSameSolution(memory: CostSolution, sql: CostSolution): void {
  expect(memory.estimates.map((e) => e.queryId)).toEqual(sql.estimates.map((e) => e.queryId));
  const numbers = (s: CostSolution) => [
    ...s.estimates.flatMap((e) => [...e.mean, ...e.sd, e.observations, e.windows]),
    ...s.prior.mean,
    ...s.prior.sd,
    ...s.noise.sd,
  ];
  const m = numbers(memory);
  const q = numbers(sql);
  expect(m.length).toBe(q.length);
  expect(m.filter((v, i) => !close(v, q[i]!))).toEqual([]);
  expect(memory.clamped).toBe(sql.clamped);
}

describe('in-memory sufficient statistics', () => {
  it.each([
    ['bounds', false],
    ['bounds', true],
    ['midpoint', false],
  ] as [TotalMethod, boolean][])(
    'equal the SQL path (%s, incremental blocks: %s), and so do the solved costs',
    async (method, incremental) => {
      // A run that starts mid-window (its first window holds 5 samples), at 3× the default load.
      const run = simulate(3000, { seed: 'window-stats', probabilityScale: 3, startTick: 5 });
      const sql = await sqlStats(run, method, incremental);
      expect(sql.horizon.windowId).toBe(run.windows[run.windows.length - 1]!.windowId);
      const memory = run.accumulators[method].stats();
      expect(memory.totals.windows).toBeGreaterThan(250);
      expect(memory.gram.values.length).toBeGreaterThan(1000);
      expectSameStats(memory, sql.stats);
      expectSameSolution(
        await solveCosts(memory, DEFAULT_SOLVE_OPTIONS, noPause),
        await solveCosts(sql.stats, DEFAULT_SOLVE_OPTIONS, noPause),
      );
    },
  );

  it('leaves out the same inconsistent windows when executions are missing, at the default load', async () => {
    const run = simulate(3000, { seed: 'window-stats-missing' }, 7);
    const sql = await sqlStats(run, 'bounds', false);
    const memory = run.accumulators.bounds.stats();
    expect(memory.totals.inconsistent).toBeGreaterThan(10);
    expectSameStats(memory, sql.stats);
    expectSameSolution(
      await solveCosts(memory, DEFAULT_SOLVE_OPTIONS, noPause),
      await solveCosts(sql.stats, DEFAULT_SOLVE_OPTIONS, noPause),
    );
  });

  it('holds executions until their window closes and reports them as waiting', () => {
    const a = new WindowStatsAccumulator('bounds');
    const window = (firstTick: number, total: number) => ({
      firstTick,
      lastTick: firstTick + 9,
      samples: 10,
      // One execution on the last tick: average total/10 truncated, min 0, max total.
      cpu: { average: Math.trunc(total / 10), min: 0, max: total },
      io: { average: Math.trunc(total / 10), min: 0, max: total },
      memory: { average: Math.trunc(total / 10), min: 0, max: total },
    });
    a.addExecution('q1', 9);
    a.addExecution('q2', 10);
    expect([...a.waitingQueries()]).toEqual([
      ['q1', 1],
      ['q2', 1],
    ]);
    a.addWindow(window(0, 40));
    expect([...a.waitingQueries()]).toEqual([['q2', 1]]);
    const s = a.stats();
    expect(s.queries).toEqual(['q1']);
    // k = 1: the total is pinned to the max exactly.
    expect(s.totals.sumY).toEqual([40, 40, 40]);
    expect(s.totals.noise12).toEqual([0, 0, 0]);
    a.addExecution('q3', 5); // its window has closed: late, unused
    expect(a.late).toBe(1);
    a.addWindow({ ...window(10, 0), samples: 0 }); // no samples: its execution belongs nowhere
    expect(a.unassigned).toBe(1);
    expect(a.stats().totals.windows).toBe(1);
  });
});

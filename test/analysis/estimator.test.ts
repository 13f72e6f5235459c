/**
 * The estimator against a real chDB (a temporary directory for this file; one database per test):
 * costs recovered from a simulated run, duplicates that change nothing, incremental statistics equal
 * to a from-scratch computation (with late rows), and queries seen once or not yet.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectStats } from '../../analysis/estimator/blocks.js';
import { estimateCosts } from '../../analysis/estimator/estimate.js';
import { estimatorOptions } from '../../analysis/options.js';
import { silentLogger } from '../../common/logger.js';
import { ClickHouseStore, migrate } from '../../clickhouse/index.js';
import { openTempClickHouse, type TempClickHouse } from '../clickhouse/helpers.js';
import { executed, randomSchedule, simulatedRun, syntheticRun, type Costs } from './helpers.js';

let ch: TempClickHouse;
let databases = 0;
beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => ch.close());

async function freshDatabase(): Promise<{ database: string; store: ClickHouseStore }> {
  const database = `est_${++databases}`;
  await migrate(ch.client, { database });
  return { database, store: new ClickHouseStore(ch.client, { database }) };
}

const options = (overrides: Parameters<typeof estimatorOptions>[0] = {}) =>
  estimatorOptions({ settleMs: 0, ...overrides });

async function estimate(database: string, overrides: Parameters<typeof estimatorOptions>[0] = {}, incremental = true) {
  return estimateCosts(ch.client, {
    database,
    options: options(overrides),
    version: Date.now(),
    incremental,
    logger: silentLogger,
  });
}

async function stats(database: string, incremental: boolean, version: number, blockWindows = 20) {
  const r = await collectStats(ch.client, {
    database,
    method: 'bounds',
    blockWindows,
    settleMs: 0,
    blocksPerInsert: 4,
    incremental,
    version,
    logger: silentLogger,
    // Inserts here are synchronous and sequential: visible as soon as they return.
    insertMarginMs: 0,
  });
  return r;
}

/** Stored block statistics that no block of the latest state points to. */
async function strayStats(database: string): Promise<number> {
  const rs = await ch.client.query({
    query: `SELECT state FROM ${database}.estimate_state ORDER BY version DESC LIMIT 1`,
    format: 'JSONEachRow',
  });
  const [{ state }] = (await rs.json<{ state: string }>()) as [{ state: string }];
  const blocks = (JSON.parse(state) as { blocks: { block: number; version: number }[] }).blocks;
  const stray = await ch.client.query({
    query: `SELECT count() AS n FROM ${database}.estimate_stats
      WHERE (block, version) NOT IN (SELECT p.1, p.2 FROM (SELECT arrayJoin(arrayZip({b:Array(Int64)}, {v:Array(UInt64)})) AS p))`,
    query_params: { b: blocks.map((x) => x.block), v: blocks.map((x) => x.version) },
    format: 'JSONEachRow',
  });
  return Number((await stray.json<{ n: number | string }>())[0]!.n);
}

describe('estimator on stored data', () => {
  it('recovers the true costs of a simulated run: well-observed queries within a fraction of a unit', async () => {
    const { database, store } = await freshDatabase();
    const run = simulatedRun(3000, { seed: 'estimator-test' });
    await store.insertExecutions(run.executions);
    await store.insertWindows(run.windows);
    const { solution } = await estimate(database);
    const truth = new Map(run.truth.map((q) => [q.id, [q.cpu, q.io, q.memory]]));
    const well = solution.estimates.filter((e) => e.observations >= 30);
    expect(well.length).toBeGreaterThan(30);
    const errors = well.flatMap((e) => e.mean.map((m, r) => Math.abs(m - truth.get(e.queryId)![r]!)));
    expect(errors.reduce((a, b) => a + b, 0) / errors.length).toBeLessThan(1);
    expect(Math.max(...errors)).toBeLessThan(3);
    const covered = solution.estimates.flatMap((e) =>
      e.mean.map((_, r) => truth.get(e.queryId)![r]! >= e.lower[r]! && truth.get(e.queryId)![r]! <= e.upper[r]!),
    );
    expect(covered.filter(Boolean).length / covered.length).toBeGreaterThan(0.85);
    expect(solution.inconsistentWindows).toBe(0);
    expect(solution.windows).toBe(run.windows.length);
    // Observation counts are the executions of each query.
    const counts = new Map<string, number>();
    for (const e of run.executions) counts.set(e.queryId, (counts.get(e.queryId) ?? 0) + 1);
    for (const e of solution.estimates) expect(e.observations).toBe(counts.get(e.queryId));
  });

  it('is not changed by duplicated rows (the same executions and windows stored twice)', async () => {
    const { database, store } = await freshDatabase();
    const run = simulatedRun(1200, { seed: 'duplicates' });
    await store.insertExecutions(run.executions);
    await store.insertWindows(run.windows);
    const before = await estimate(database, {}, false);
    await store.insertExecutions(run.executions.slice(0, 500));
    await store.insertExecutions(run.executions);
    await store.insertWindows(run.windows);
    const after = await estimate(database, {}, false);
    expect(after.solution.estimates).toEqual(before.solution.estimates);
    expect(after.solution.executions).toBe(run.executions.length);
  });

  it('computes incrementally exactly what it computes from scratch, late rows included', async () => {
    const { database, store } = await freshDatabase();
    const run = simulatedRun(2000, { seed: 'incremental' });
    const byTick = (to: number) => run.executions.filter((e) => e.executedTick < to);
    // Hold back some executions and a window of the first half: they arrive late.
    const late = new Set(run.executions.filter((_, i) => i % 97 === 0 && run.executions[i]!.executedTick < 1000));
    const lateWindow = run.windows[30]!;
    await store.insertExecutions(byTick(1300).filter((e) => !late.has(e)));
    await store.insertWindows(run.windows.filter((w) => w.lastTick < 1300 && w !== lateWindow));
    const first = await stats(database, true, 1);
    expect(first.blocks.computed).toBeGreaterThan(3);

    await store.insertExecutions([...late, ...run.executions.filter((e) => e.executedTick >= 1300)]);
    await store.insertWindows([lateWindow, ...run.windows.filter((w) => w.lastTick >= 1300)]);
    const second = await stats(database, true, 2);
    // The late rows changed sealed blocks, which were recomputed; the others were reused.
    expect(second.blocks.reused).toBeGreaterThan(0);
    expect(second.blocks.computed).toBeGreaterThan(0);
    const third = await stats(database, true, 3);
    expect(third.blocks.computed).toBe(0);

    // Superseded statistics were deleted: every stored row belongs to a block of the current state.
    expect(await strayStats(database)).toBe(0);

    const scratch = await stats(database, false, 4);
    expect(second.stats).toEqual(scratch.stats);
    expect(third.stats).toEqual(scratch.stats);
    // A DELETE (a mutation rewrites the parts) drops the first block's rows: its statistics go.
    await ch.client.command({ query: `DELETE FROM ${database}.windows WHERE window_id < 20` });
    await ch.client.command({ query: `DELETE FROM ${database}.executions WHERE executed_tick < 200` });
    const expired = await stats(database, true, 5);
    expect(expired.blocks.computed).toBeGreaterThan(0);
    expect(expired.stats).toEqual((await stats(database, false, 6)).stats);
    expect(expired.stats.totals.windows).toBeLessThan(scratch.stats.totals.windows);
    expect(await strayStats(database)).toBe(0);
    expect(scratch.stats.totals.windows).toBe(
      run.windows.filter((w) =>
        run.executions.some((e) => e.executedTick >= w.firstTick && e.executedTick <= w.lastTick),
      ).length,
    );
  }, 120_000); // a dozen statistics runs and two DELETE mutations: slow on a loaded machine

  it('follows retention: statistics of rows in dropped parts go, incremental still equals from scratch', async () => {
    const { database, store } = await freshDatabase();
    const run = simulatedRun(1600, { seed: 'retention' });
    // The oldest 400 ticks in parts of their own, as a day partition would be.
    const old = (tick: number) => tick < 400;
    await store.insertExecutions(run.executions.filter((e) => old(e.executedTick)));
    await store.insertWindows(run.windows.filter((w) => old(w.lastTick)));
    await store.insertExecutions(run.executions.filter((e) => !old(e.executedTick)));
    await store.insertWindows(run.windows.filter((w) => !old(w.lastTick)));
    const before = await stats(database, true, 1);
    expect(before.blocks.computed).toBeGreaterThan(3);
    // Retention's TTL drops whole parts (ttl_only_drop_parts): the same as DROP PART.
    for (const table of ['executions', 'windows']) {
      const rs = await ch.client.query({
        query: `SELECT name FROM system.parts WHERE database = {db:String} AND table = {table:String} AND active
          ORDER BY min_block_number LIMIT 1`,
        query_params: { db: database, table },
        format: 'JSONEachRow',
      });
      const [{ name }] = (await rs.json<{ name: string }>()) as [{ name: string }];
      await ch.client.command({ query: `ALTER TABLE ${database}.${table} DROP PART '${name}'` });
    }
    const after = await stats(database, true, 2);
    expect(after.blocks.computed).toBeGreaterThan(0);
    expect(after.blocks.computed).toBeLessThan(before.blocks.computed);
    const scratch = await stats(database, false, 3);
    expect(after.stats).toEqual(scratch.stats);
    expect(after.stats.totals.windows).toBeLessThan(before.stats.totals.windows);
    expect(await strayStats(database)).toBe(0);
    // Nothing changed since: nothing is recomputed, the same numbers.
    const again = await stats(database, true, 4);
    expect(again.blocks.computed).toBe(0);
    expect(again.stats).toEqual(scratch.stats);
  }, 120_000); // several statistics runs and part drops: slow on a loaded machine

  it('shrinks a query seen once toward the prior, and gives a query not in any window yet the prior', async () => {
    const { database, store } = await freshDatabase();
    const ids = Array.from({ length: 12 }, () => randomUUID());
    const costs: Costs = new Map(ids.map((id, i) => [id, [30 + 3 * i, 60 - 2 * i, 25 + ((7 * i) % 12) * 4]]));
    const rare = randomUUID();
    costs.set(rare, [90, 10, 50]);
    const schedule = randomSchedule(
      ids,
      ids.map(() => 0.12),
      3000,
      3,
    );
    schedule.set(1505, [...(schedule.get(1505) ?? []), rare]);
    const data = syntheticRun({ costs, schedule, windows: 300 });
    await store.insertExecutions(data.executions);
    await store.insertWindows(data.windows);
    // Ran after the last window: no window holds it yet.
    const unseen = randomUUID();
    await store.insertExecutions([executed(unseen, 1_000_000 + 3000 + 2)]);

    const { solution } = await estimate(database);
    const byId = new Map(solution.estimates.map((e) => [e.queryId, e]));
    for (const id of ids) {
      const e = byId.get(id)!;
      e.mean.forEach((m, r) => expect(Math.abs(m - costs.get(id)![r]!)).toBeLessThan(1));
    }
    const once = byId.get(rare)!;
    expect(once.observations).toBe(1);
    expect(once.prior).toBe(false);
    for (let r = 0; r < 3; r++) {
      // One window pins it down to about the truncation noise: near the truth, never negative,
      // and far less certain than the others.
      expect(Math.abs(once.mean[r]! - costs.get(rare)![r]!)).toBeLessThan(8);
      expect(once.lower[r]).toBeGreaterThanOrEqual(0);
      expect(once.sd[r]).toBeGreaterThan(3 * byId.get(ids[0]!)!.sd[r]!);
      const truth = costs.get(rare)![r]!;
      expect(truth).toBeGreaterThanOrEqual(once.lower[r]!);
      expect(truth).toBeLessThanOrEqual(once.upper[r]!);
    }
    const never = byId.get(unseen)!;
    expect(never).toMatchObject({ observations: 0, prior: true });
    expect(never.mean).toEqual(solution.prior.mean);
    expect(never.sd).toEqual(solution.prior.sd);
  });

  it('leaves out windows that are not settled yet, and windows whose min/max contradict their executions', async () => {
    const { database, store } = await freshDatabase();
    const run = simulatedRun(600, { seed: 'settle' });
    // A window whose reported max is impossible for its executions (a row is missing).
    const broken = run.windows[10]!;
    const tampered = { ...broken, cpu: { ...broken.cpu, max: 100_000 } };
    await store.insertExecutions(run.executions);
    await store.insertWindows([...run.windows.filter((w) => w !== broken), tampered]);
    const all = await estimate(database, { settleMs: 0 }, false);
    expect(all.solution.inconsistentWindows).toBe(1);
    expect(all.solution.windows).toBe(run.windows.length - 1);
    // 5 s settle: windows that ended in the last 5 s before the newest execution wait.
    const settled = await estimate(database, { settleMs: 5000 }, false);
    expect(settled.horizon.windowId).toBe(run.windows[run.windows.length - 1]!.windowId - 5);
  });
});

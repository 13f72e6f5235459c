/**
 * Other clients' delays, live: a real-time database at probability scale 3 (issue 10's scenario)
 * on the shared Redis, the scheduler in this process talking to it through a recording proxy, and
 * people moving executions with `POST /delay` meanwhile. A delay set by another client is that
 * client's decision: the scheduler leaves the execution where they put it, sends no request the
 * database refuses, keeps its hit rate, and the stored rows say who moved what. The rows are
 * stored the way the ingest workers store them (ClickHouseStore, into a chDB of this test file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ClickHouseStore, createClickHouse, migrate } from '../../../clickhouse/index.js';
import type { DelayedEvent, DelayResponse } from '../../../common/contracts.js';
import { silentLogger } from '../../../common/logger.js';
import { loadSettings } from '../../../common/settings.js';
import { policySettings } from '../../../scheduler/options.js';
import { startScheduler, type SchedulerHandle } from '../../../scheduler/service.js';
import { compileServiceOptions, schedulerServiceSettings } from '../../../scheduler/service-options.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import { REDIS_URL, startLiveDatabase, truthSource, type LiveDatabase } from './live-database.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let live: LiveDatabase | undefined;
let proxy: DelayProxy | undefined;
let scheduler: SchedulerHandle | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await scheduler?.close();
  await proxy?.close();
  await live?.close();
  scheduler = proxy = live = undefined;
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(seed: string, refuse?: Parameters<typeof startDelayProxy>[1]) {
  live = await startLiveDatabase({ seed, probabilityScale: 3 });
  proxy = await startDelayProxy(live.server.url, refuse);
  const { serverUrl: _s, ...own } = loadSettings(schedulerServiceSettings, { flags: {}, env: {} });
  scheduler = startScheduler({
    options: { ...compileServiceOptions({ ...own, redisUrl: REDIS_URL, prefix: live.prefix }), serverUrl: proxy.url },
    policy: loadSettings(policySettings, { flags: {}, env: {} }),
    estimates: truthSource(live.server),
    logger: silentLogger,
  });
  await scheduler.ready;
  // Every accepted delay, in the order the database applied it.
  const moves: (DelayedEvent & { at: number })[] = [];
  live.server.db.hooks.delayed.add((e) => moves.push({ ...e, at: Date.now() }));
  return { live, proxy, scheduler, moves };
}

/** A person's `POST /delay`, straight to the database. */
async function move(id: string, delay: number, by: string): Promise<DelayResponse | null> {
  const res = await fetch(`${live!.server.url}/delay`, {
    method: 'POST',
    body: JSON.stringify({ id, delay, by }),
    headers: { 'content-type': 'application/json' },
  });
  if (res.status === 404) return null; // it ran meanwhile
  expect(res.status).toBe(200);
  return (await res.json()) as DelayResponse;
}

/** Moves the first queued execution that `pick` accepts (another one if it ran meanwhile). */
async function moveOne(
  pick: (i: ReturnType<LiveDatabase['server']['db']['queued']>[number]) => boolean,
  delay: number,
  by: string,
): Promise<DelayResponse> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const item = live!.server.db.queued().find(pick);
    if (item) {
      const answer = await move(item.execution.id, delay, by);
      if (answer) return answer;
    }
    await sleep(50);
  }
  throw new Error(`no queued execution to move by ${by}`);
}

describe('scheduler and other clients’ delays', () => {
  it('leaves executions others moved where they put them, is never refused, and the rows say who moved what', async () => {
    const { live, proxy, scheduler, moves } = await start('external-1');
    const db = live.server.db;
    await sleep(3000);
    const held = (i: ReturnType<typeof db.queued>[number]) =>
      i.execution.addedDelayBy?.scheduler !== undefined &&
      Object.keys(i.execution.addedDelayBy).length === 1 &&
      i.execution.scheduledTick >= db.currentTick + 3;

    // alice postpones an execution nobody moved yet by +600, twice (the reproduction).
    const a1 = await moveOne((i) => i.execution.addedDelayBy === undefined, 600, 'alice');
    const a = a1.id;
    const a2 = (await move(a, 600, 'alice'))!;
    expect(a2.scheduledTick).toBe(a1.scheduledTick + 600);
    // bob brings forward an execution the scheduler is holding: it runs at the next tick.
    const b1 = await moveOne(held, -600, 'bob');
    // carol postpones, by 20 ticks, another execution the scheduler had already moved.
    const c1 = await moveOne((i) => held(i) && i.execution.id !== b1.id, 20, 'carol');

    await sleep(15_000);
    // Fifteen seconds (150 ticks) on, alice's execution is still exactly where she put it.
    expect(db.queued().find((i) => i.execution.id === a)?.execution.scheduledTick).toBe(a2.scheduledTick);
    // She changes her mind and brings it back (to the next tick: the floor).
    await move(a, -600, 'alice');
    await move(a, -600, 'alice');
    const ids = [a, b1.id, c1.id];
    for (let waited = 0; !ids.every((id) => live.executed.some((e) => e.executionId === id)); waited += 100) {
      expect(waited).toBeLessThan(10_000);
      await sleep(100);
    }
    const f = scheduler.figures();
    await scheduler.close();

    // Not one request of the scheduler was refused (before the fix: one per tick, ~400 in 40 s).
    // A 409 is a request that raced another client's move (its expectedTick no longer held): it
    // changed nothing and is never sent again.
    const failed = proxy.delays.filter((d) => d.status >= 400 && d.status !== 404);
    expect(failed.filter((d) => d.status !== 409)).toEqual([]);
    expect(failed.length).toBeLessThanOrEqual(ids.length);
    expect(new Set(failed.map((d) => d.id)).size).toBe(failed.length);
    expect(f.misses.refused).toBe(0);
    expect(f.misses.contested).toBe(failed.length);
    // The start, and at most one rebuild more: before the fix it rebuilt once per refused request
    // (~400 in 40 s). One more was seen in one of three runs on a loaded machine, its cause not yet
    // found (a tick-end whose counts did not match, or a failed step).
    expect(f.resyncs).toBeGreaterThanOrEqual(1);
    expect(f.resyncs).toBeLessThanOrEqual(2);
    expect(f.released.movedByOthers).toBeGreaterThanOrEqual(3);
    // Hit rate on the executions it owns. Decisions on executions another client had just moved
    // (the 409s above) are not its own, and
    // timing misses (a stale tick-end, or a request that reached the database after its tick ran)
    // depend on the load of the shared machine, not on other clients. Every decision that reached
    // the database in time was applied where intended.
    expect(f.decisions).toBeGreaterThan(300); // ~790 in its ~18 s at scale 3 on a quiet machine, fewer on a loaded one
    const timing = f.misses.stale + f.misses.late + f.misses.notQueued;
    expect(f.hits / (f.decisions - f.misses.contested - timing)).toBeGreaterThanOrEqual(0.999);
    expect(f.misses.failed).toBe(0);
    // After another client's first move the scheduler never moves the execution again, and asks
    // at most once more (a request already on its way, refused with 409).
    for (const id of ids) {
      const first = moves.findIndex((m) => m.executionId === id && m.by !== 'scheduler');
      expect(
        moves.slice(first + 1).filter((m) => m.executionId === id && m.by === 'scheduler'),
        id,
      ).toEqual([]);
      // Asked after the move: sent after the database applied it (a request applied just before
      // the move may be answered just after it; the moves above show it came first).
      const asked = proxy.delays.filter((d) => d.id === id && d.sentAt > moves[first]!.at);
      expect(
        asked.filter((d) => d.status !== 409),
        id,
      ).toEqual([]);
      expect(asked.length, id).toBeLessThanOrEqual(1);
    }
    // carol's execution ran 20 ticks after where the scheduler had put it, as she asked.
    expect(live.executed.find((e) => e.executionId === c1.id)?.executedTick).toBe(c1.scheduledTick);

    // The stored rows: added_delay split per mover, each part the sum of that mover's moves.
    const dataPath = mkdtempSync(join(tmpdir(), 'external-delays-ch-'));
    dirs.push(dataPath);
    const client = createClickHouse({ kind: 'embedded', dataPath });
    try {
      await migrate(client, { database: 'spike' });
      await new ClickHouseStore(client, { database: 'spike' }).insertExecutions(live.executed);
      const rs = await client.query({
        query: `SELECT toString(execution_id) AS id, added_delay, delayed_by, added_delay_by
                FROM spike.executions_dedup WHERE execution_id IN ({ids:Array(UUID)})`,
        query_params: { ids },
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ id: string; added_delay: number; delayed_by: string; added_delay_by: object }>();
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        const parts: Record<string, number> = {};
        for (const m of moves)
          if (m.executionId === row.id) parts[m.by ?? ''] = (parts[m.by ?? ''] ?? 0) + m.appliedDelay;
        expect(row.added_delay_by, row.id).toEqual(parts);
        expect(Object.values(parts).reduce((s, v) => s + v, 0)).toBe(row.added_delay);
      }
      const byId = new Map(rows.map((r) => [r.id, r]));
      expect(Object.keys(byId.get(a)!.added_delay_by)).toContain('alice');
      expect(byId.get(b1.id)!.added_delay_by).toMatchObject({ bob: b1.appliedDelay });
      expect(byId.get(c1.id)!.added_delay_by).toMatchObject({ carol: 20 });
      expect(byId.get(c1.id)!.delayed_by).toBe('carol');
    } finally {
      await client.close();
    }
  }, 90_000);

  it('never repeats a request the database refused, and does not rebuild its plan for it', async () => {
    // The database never refuses a well-formed request of the scheduler: the proxy injects one 400.
    let refusedId: string | undefined;
    const { proxy, scheduler } = await start('external-2', (req, index) => {
      if (refusedId === undefined && index >= 20 && req.by === 'scheduler') refusedId = req.id;
      return req.id === refusedId;
    });
    await sleep(8000);
    const f = scheduler.figures();
    expect(refusedId).toBeDefined();
    const refused = proxy.delays.filter((d) => d.status >= 400 && d.status !== 404);
    expect(refused).toEqual([expect.objectContaining({ id: refusedId, by: 'scheduler' })]);
    // Nothing more was asked for that execution after the refusal.
    expect(proxy.delays.filter((d) => d.id === refusedId && d.sentAt > refused[0]!.at)).toEqual([]);
    expect(f.misses.refused).toBe(1);
    expect(f.released.refused).toBe(1);
    expect(f.resyncs).toBe(1);
    expect(f.decisions).toBeGreaterThan(200);
  }, 30_000);

  it('counts the decisions of a stale tick-end as missed rather than leaving them out', async () => {
    const { scheduler } = await start('external-3');
    await sleep(3000);
    const before = scheduler.figures();
    // Hold this process (database and scheduler alike) for half a second: the database then runs
    // the ticks it owes back to back, and the scheduler reads their tick-ends in one batch, all
    // but the last stale. The policy may intend no decision at all for those few ticks (it moves
    // nothing when the executions due are exactly the ones it would choose; seen once in CI), so
    // the hold is repeated, up to three times, until some stale tick had decisions to count.
    let after = before;
    for (let hold = 0; hold < 3 && after.misses.stale === before.misses.stale; hold++) {
      const until = Date.now() + 500;
      while (Date.now() < until); // busy on purpose
      await sleep(2000);
      after = scheduler.figures();
      expect(after.staleTicks - before.staleTicks).toBeGreaterThanOrEqual(2 * (hold + 1));
    }
    expect(after.misses.stale).toBeGreaterThan(before.misses.stale);
    // Every intended decision is a hit or a miss with its cause.
    const misses = Object.values(after.misses).reduce((a, b) => a + b, 0);
    expect(after.hits + misses).toBe(after.decisions);
    expect(after.hitRate).toBeCloseTo(after.hits / after.decisions, 12);
  }, 30_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClickHouseStore,
  InvalidRecordError,
  migrate,
  perWindowQueryCountsSql,
  queriesInWindowSql,
  spikiestWindowsSql,
} from '../../clickhouse/index.js';
import { BASE_TICK, execution, executions, openTempClickHouse, window, type TempClickHouse } from './helpers.js';

let ch: TempClickHouse;
let store: ClickHouseStore;

beforeAll(async () => {
  ch = openTempClickHouse();
  await migrate(ch.client, { database: 'spike' });
  store = new ClickHouseStore(ch.client, { database: 'spike' });
});
afterAll(async () => ch.close());

/** Each test uses its own block of ticks so that tests do not see each other's rows. */
const block = (n: number) => n * 100_000;

describe('ClickHouseStore', () => {
  it('inserts executions and counts them in a tick range', async () => {
    const b = block(1);
    await store.insertExecutions(executions(b, 1000));
    const all = await store.countExecutions({ from: BASE_TICK + b, to: BASE_TICK + b + 999 });
    expect(all).toEqual({ stored: 1000, rows: 1000, duplicateRows: 0, countedTwice: 0 });
    // Inclusive bounds: ticks b+10 … b+19.
    expect((await store.countExecutions({ from: BASE_TICK + b + 10, to: BASE_TICK + b + 19 })).stored).toBe(10);
    expect((await store.countExecutions({ from: BASE_TICK + b + 1000, to: BASE_TICK + b + 5000 })).stored).toBe(0);
  });

  it('counts an execution inserted twice once, in every counting helper', async () => {
    const b = block(2);
    const batch = executions(b, 500);
    await store.insertExecutions(batch);
    await store.insertExecutions(batch.slice(0, 200)); // re-delivery, in a separate insert (part)
    // Twice in one batch: ReplacingMergeTree collapses duplicates inside a block as it writes it
    // (optimize_on_insert), so this adds one physical row, not two.
    await store.insertExecutions([batch[7]!, batch[7]!]);
    const range = { from: BASE_TICK + b, to: BASE_TICK + b + 499 };
    expect(await store.countExecutions(range)).toEqual({ stored: 500, rows: 701, duplicateRows: 201, countedTwice: 0 });

    const perWindow = await ch.client.query({
      query: perWindowQueryCountsSql(store.tables),
      query_params: { ...range, windowTicks: 10 },
      format: 'JSONEachRow',
    });
    const counted = (await perWindow.json<{ executions: number }>()).reduce((s, r) => s + Number(r.executions), 0);
    expect(counted).toBe(500);

    const f = await store.freshness(range);
    expect(f.count).toBe(500);
    expect(f.p50Ms).not.toBeNull();

    // After merges the physical duplicates are gone too; the counts do not change.
    await ch.client.command({ query: 'OPTIMIZE TABLE spike.executions FINAL' });
    expect(await store.countExecutions(range)).toEqual({ stored: 500, rows: 500, duplicateRows: 0, countedTwice: 0 });
  });

  it('stores every column as given (ticks above 2^32, nulls, delays)', async () => {
    const b = block(3);
    const e = execution(b, { addedDelay: -3, delayCount: 2, delayedBy: 'scheduler', queuedTick: BASE_TICK + b - 5 });
    e.runId = '20260101T081959Z-5e1f0a';
    await store.insertExecutions([e]);
    const rs = await ch.client.query({
      query: 'SELECT * EXCEPT inserted_at FROM spike.executions_dedup WHERE execution_id = {id:UUID}',
      query_params: { id: e.executionId },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      {
        execution_id: e.executionId,
        query_id: e.queryId,
        queued_tick: e.queuedTick,
        executed_tick: e.executedTick,
        queued_at: new Date(e.queuedAt).toISOString().replace('T', ' ').replace('Z', ''),
        executed_at: new Date(e.executedAt).toISOString().replace('T', ' ').replace('Z', ''),
        added_delay: -3,
        delay_count: 2,
        delayed_by: 'scheduler',
        // A record without the split (an older capture's): the default credits the last mover.
        added_delay_by: { scheduler: -3 },
        run_id: '20260101T081959Z-5e1f0a',
      },
    ]);
  });

  it('stores who moved an execution by how much, and answers per-mover questions', async () => {
    const b = block(5);
    const both = execution(b, {
      addedDelay: 1197,
      delayCount: 3,
      delayedBy: 'scheduler',
      queuedTick: BASE_TICK + b - 1198,
    });
    both.addedDelayBy = { scheduler: -3, alice: 1200 };
    const alone = execution(b + 1, { addedDelay: 4, delayCount: 1, delayedBy: 'scheduler' });
    alone.addedDelayBy = { scheduler: 4 };
    const untouched = execution(b + 2);
    await store.insertExecutions([both, alone, untouched]);
    const rs = await ch.client.query({
      query: `SELECT toString(execution_id) AS id, added_delay_by AS parts, added_delay_by['scheduler'] AS by_scheduler,
                arrayExists(m -> m != 'scheduler', mapKeys(added_delay_by)) AS moved_by_others
              FROM spike.executions_dedup WHERE executed_tick BETWEEN {from:Int64} AND {to:Int64} ORDER BY executed_tick`,
      query_params: { from: BASE_TICK + b, to: BASE_TICK + b + 2 },
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { id: both.executionId, parts: { scheduler: -3, alice: 1200 }, by_scheduler: -3, moved_by_others: 1 },
      { id: alone.executionId, parts: { scheduler: 4 }, by_scheduler: 4, moved_by_others: 0 },
      { id: untouched.executionId, parts: {}, by_scheduler: 0, moved_by_others: 0 },
    ]);
  });

  it('refuses an invalid record before inserting anything', async () => {
    const b = block(4);
    const batch = executions(b, 3);
    const bad = { ...batch[1]!, delayCount: 70_000 };
    const error = await store.insertExecutions([batch[0]!, bad, batch[2]!]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error).toMatchObject({ field: '[1].delayCount' });
    expect((await store.countExecutions({ from: BASE_TICK + b, to: BASE_TICK + b + 10 })).rows).toBe(0);
  });

  it('refuses rows whose field the table lost, instead of dropping the value', async () => {
    // A database of its own: the drift must not touch the other tests' tables.
    await migrate(ch.client, { database: 'drift' });
    const drifted = new ClickHouseStore(ch.client, { database: 'drift' });
    const batch = executions(block(5), 3).map((e) => ({ ...e, delayCount: 2, delayedBy: 'scheduler' }));
    await ch.client.command({
      query: 'ALTER TABLE drift.executions DROP COLUMN queued_at',
    });
    const error = await drifted.insertExecutions(batch).catch((e: unknown) => e);
    expect(error).toMatchObject({ type: 'INCORRECT_DATA' });
    expect((error as Error).message).toMatch(/Unknown field found while parsing JSONEachRow format: queued_at/);
    const count = async () => {
      const rs = await ch.client.query({ query: 'SELECT count() AS n FROM drift.executions', format: 'JSONEachRow' });
      return Number((await rs.json<{ n: number }>())[0]!.n);
    };
    expect(await count()).toBe(0);
    await ch.client.command({
      query:
        "ALTER TABLE drift.executions ADD COLUMN queued_at DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)) AFTER executed_tick",
    });
    await drifted.insertExecutions(batch);
    const rs = await ch.client.query({ query: 'SELECT delayed_by FROM drift.executions', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual(batch.map(() => ({ delayed_by: 'scheduler' })));
  });

  it('inserts windows, collapses re-deliveries and counts windows closed in the range', async () => {
    const ws = Array.from({ length: 20 }, (_, w) => window(1000 + w));
    await store.insertWindows(ws);
    await store.insertWindows(ws.slice(5, 8));
    const from = ws[0]!.firstTick;
    expect(await store.countWindows({ from, to: ws[19]!.lastTick })).toEqual({
      stored: 20,
      rows: 23,
      duplicateRows: 3,
      countedTwice: 0,
    });
    // A window counts when its last tick is in the range: the first one ends at from + 9.
    expect((await store.countWindows({ from, to: from + 8 })).stored).toBe(0);
    expect((await store.countWindows({ from, to: from + 9 })).stored).toBe(1);
  });

  it('answers the investigation queries through the dedup views', async () => {
    const w = window(2000, { cpu: { average: 10, min: 0, max: 90 } });
    await store.insertWindows([w, w]);
    const inside = [execution(20_000), execution(20_001), execution(20_009)];
    const q = inside[0]!.queryId;
    inside[1]!.queryId = q;
    await store.insertExecutions([...inside, inside[0]!]);
    const spiky = await ch.client.query({
      query: spikiestWindowsSql(store.tables),
      query_params: { from: w.firstTick, to: w.lastTick, limit: 5 },
      format: 'JSONEachRow',
    });
    expect(await spiky.json()).toMatchObject([{ window_id: w.windowId, cpu_spread: 9, worst_spread: 9 }]);
    const which = await ch.client.query({
      query: queriesInWindowSql(store.tables),
      query_params: { windowId: w.windowId },
      format: 'JSONEachRow',
    });
    const found = await which.json<{ query_id: string; executions: number }>();
    expect(found).toHaveLength(2);
    expect(found[0]).toMatchObject({ query_id: q, executions: 2 });
  });

  it('validates ranges', async () => {
    await expect(store.countExecutions({ from: 10, to: 5 })).rejects.toThrow(/must be ≥ from/);
    await expect(store.countExecutions({ from: -1, to: 5 })).rejects.toThrow(/integer tick/);
    await expect(store.countWindows({ from: 0.5, to: 5 })).rejects.toThrow(/integer tick/);
  });
});

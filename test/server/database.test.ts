import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DelayedEvent, ExecutedEvent, QueuedEvent, WindowEvent } from '../../common/contracts.js';
import {
  ExecutionNotQueuedError,
  GroundTruthDisabledError,
  InvalidArgumentError,
  ScheduleChangedError,
} from '../../common/errors.js';
import { Database } from '../../server/database.js';
import { simulationOptions } from '../../server/options.js';
import { trafficScale } from '../../server/traffic.js';
import { recordedDatabase, type AnyEvent } from './helpers.js';

const byType = <T extends AnyEvent['type']>(events: AnyEvent[], type: T) =>
  events.filter((e) => e.type === type) as Extract<AnyEvent, { type: T }>[];

function digest(events: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(events)).digest('hex');
}

describe('Database: selection', () => {
  it('selects query i at tick t with probability min(1, p_i·scale·s(t))', () => {
    const scale = 3;
    const ticks = 60_000;
    const { db, events } = recordedDatabase({ seed: 'rate', queryCount: 12, probabilityScale: scale });
    db.run(ticks);
    const truth = db.groundTruth();
    const s = Array.from({ length: ticks }, (_, t) => trafficScale(db.options.traffic, t));
    let clamped = 0;
    const counts = new Map<string, number>();
    for (const e of byType(events, 'queued')) counts.set(e.queryId, (counts.get(e.queryId) ?? 0) + 1);
    let total = 0;
    let expectedTotal = 0;
    for (const q of truth) {
      // A probability above 1 acts as 1 (the query is selected at every such tick).
      const expected = s.reduce((a, st) => a + Math.min(1, q.probability * scale * st), 0);
      if (q.probability * scale * 2 > 1) clamped++;
      const observed = counts.get(q.id) ?? 0;
      // Binomial: within five standard deviations.
      expect(Math.abs(observed - expected), `query ${q.id}`).toBeLessThan(5 * Math.sqrt(expected) + 1);
      total += observed;
      expectedTotal += expected;
    }
    expect(Math.abs(total - expectedTotal)).toBeLessThan(4 * Math.sqrt(expectedTotal));
    expect(clamped).toBeGreaterThan(0); // the seed exercises the clamp
  });

  it('follows the traffic curve: twice the arrivals at its peak as at its trough', () => {
    const { db, events } = recordedDatabase({ seed: 'curve', probabilityScale: 5 });
    db.run(20_000); // one period: peak s = 2 at t = 5500, trough s = 1 at t = 15500
    const queued = byType(events, 'queued');
    const near = (c: number) => queued.filter((e) => Math.abs(e.tick - c) < 1000).length;
    const ratio = near(5500) / near(15500);
    expect(ratio).toBeGreaterThan(1.75);
    expect(ratio).toBeLessThan(2.25);
  });

  it('is reproducible: the same seed and parameters give the same event stream', () => {
    const run = (seed: string, probabilityScale = 1) => {
      const { db, events } = recordedDatabase({ seed, probabilityScale });
      db.run(3000);
      return digest(events);
    };
    expect(run('same')).toBe(run('same'));
    expect(run('same')).not.toBe(run('other'));
    // The catalog has its own random stream: traffic parameters do not change the queries.
    const a = new Database(simulationOptions({ seed: 'cat', exposeTruth: true }));
    const b = new Database(simulationOptions({ seed: 'cat', exposeTruth: true, probabilityScale: 7 }));
    expect(a.groundTruth()).toEqual(b.groundTruth());
  });
});

describe('Database: one tick', () => {
  it('runs executions first, then closes the window, then queues new ones', () => {
    const { db, events } = recordedDatabase({ seed: 'order', probabilityScale: 8 });
    db.run(200);
    const order = { executed: 0, window: 1, queued: 2 };
    const tickOf = (e: AnyEvent) =>
      e.type === 'queued' ? e.tick : e.type === 'executed' ? e.executedTick : e.lastTick;
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i - 1]!, events[i]!];
      if (tickOf(a) === tickOf(b)) expect(order[a.type]).toBeLessThanOrEqual(order[b.type]);
      else expect(tickOf(a)).toBeLessThan(tickOf(b));
    }
  });

  it('runs an undelayed execution exactly defaultDelay ticks after the tick that queued it', () => {
    for (const defaultDelay of [1, 3]) {
      const { db, events } = recordedDatabase({ seed: 'dd', probabilityScale: 4, defaultDelay });
      db.run(500);
      const queued = new Map(byType(events, 'queued').map((e) => [e.executionId, e]));
      const executed = byType(events, 'executed');
      expect(executed.length).toBeGreaterThan(100);
      for (const e of executed) {
        const q = queued.get(e.executionId)!;
        expect(e.executedTick).toBe(q.tick + defaultDelay);
        expect(q.scheduledTick).toBe(q.tick + defaultDelay);
        expect(e.addedDelay).toBe(0);
      }
      expect(db.stats().queueLength).toBe(db.stats().queuedTotal - db.stats().executedTotal);
    }
  });

  it('aggregates windows from the samples of the executions that ran (zeros included), aligned to ticks', () => {
    for (const metricsWindowTicks of [10, 7]) {
      const { db, events } = recordedDatabase({ seed: 'windows', metricsWindowTicks, probabilityScale: 0.5 });
      db.run(70 * 20);
      const cost = new Map(db.groundTruth().map((q) => [q.id, q]));
      const samples = new Map<number, { cpu: number; io: number; memory: number }>();
      for (const e of byType(events, 'executed')) {
        const s = samples.get(e.executedTick) ?? { cpu: 0, io: 0, memory: 0 };
        const q = cost.get(e.queryId)!;
        samples.set(e.executedTick, { cpu: s.cpu + q.cpu, io: s.io + q.io, memory: s.memory + q.memory });
      }
      const windows = byType(events, 'window');
      expect(windows).toHaveLength(20 * (70 / metricsWindowTicks));
      let sawZeroMin = false;
      let sawFraction = false;
      windows.forEach((w, k) => {
        expect(w.windowId).toBe(k);
        expect(w.firstTick).toBe(k * metricsWindowTicks);
        expect(w.lastTick).toBe(w.firstTick + metricsWindowTicks - 1);
        expect(w.samples).toBe(metricsWindowTicks);
        expect(w.timestamp).toBe(db.timeOf(w.lastTick));
        for (const r of ['cpu', 'io', 'memory'] as const) {
          const xs = Array.from({ length: metricsWindowTicks }, (_, i) => samples.get(w.firstTick + i)?.[r] ?? 0);
          const sum = xs.reduce((a, b) => a + b, 0);
          expect(w[r]).toEqual({ average: Math.trunc(sum / xs.length), min: Math.min(...xs), max: Math.max(...xs) });
          if (Math.min(...xs) === 0) sawZeroMin = true;
          if (sum % xs.length !== 0) sawFraction = true;
        }
      });
      // The run must have exercised empty ticks and fractional averages for the check to mean anything.
      expect(sawZeroMin && sawFraction).toBe(true);
    }
  });

  it('starts mid-window with a partial first window when the run starts at a later tick', () => {
    const { db, events } = recordedDatabase({ seed: 'offset', startTick: 1_234_567, startTime: 5_000 });
    db.run(30);
    const windows = byType(events, 'window');
    expect(windows[0]).toMatchObject({ windowId: 123_456, firstTick: 1_234_567, lastTick: 1_234_569, samples: 3 });
    expect(windows[1]).toMatchObject({ windowId: 123_457, firstTick: 1_234_570, lastTick: 1_234_579, samples: 10 });
    expect(db.timeOf(1_234_568)).toBe(5_100);
  });

  it('returns zeros from resources() before the first window closes', () => {
    const db = new Database(simulationOptions({ seed: 'zero' }));
    db.run(5);
    const r = db.resources();
    expect(r.samples).toBe(0);
    expect([r.cpu, r.io, r.memory]).toEqual([
      { average: 0, min: 0, max: 0 },
      { average: 0, min: 0, max: 0 },
      { average: 0, min: 0, max: 0 },
    ]);
  });
});

describe('Database: delay', () => {
  function withQueue(seed: string) {
    const rec = recordedDatabase({ seed, probabilityScale: 20 });
    rec.db.run(3);
    const target = rec.db.queued()[0]!;
    return { ...rec, id: target.execution.id, scheduled: target.execution.scheduledTick };
  }
  const executedOf = (events: AnyEvent[], id: string) =>
    byType(events, 'executed').filter((e: ExecutedEvent) => e.executionId === id);

  it('postpones a queued execution by d ticks and records the added delay and who asked', () => {
    const { db, events, id, scheduled } = withQueue('delay+');
    const r = db.delay(id, 5, 'scheduler');
    expect(r).toMatchObject({ id, requestedDelay: 5, appliedDelay: 5, scheduledTick: scheduled + 5 });
    expect(r.timestamp).toBe(db.timeOf(scheduled + 5));
    db.run(10);
    const [e] = executedOf(events, id);
    expect(e).toMatchObject({ executedTick: scheduled + 5, addedDelay: 5, delayCount: 1, delayedBy: 'scheduler' });
    expect(executedOf(events, id)).toHaveLength(1);
  });

  it('brings a postponed execution forward with a negative delay, never before the next tick', () => {
    const { db, events, id, scheduled } = withQueue('delay-');
    db.delay(id, 10);
    expect(db.delay(id, -4).scheduledTick).toBe(scheduled + 6);
    const floor = db.delay(id, -100);
    expect(floor.scheduledTick).toBe(db.currentTick); // remaining delay 1: the next tick
    expect(floor.appliedDelay).toBe(db.currentTick - (scheduled + 6));
    db.tick();
    expect(executedOf(events, id)[0]).toMatchObject({ executedTick: db.currentTick - 1, delayCount: 3 });
  });

  it('refuses unknown and already-executed executions, out-of-bound or fractional delays, and a stale expectedTick, changing nothing', () => {
    const { db, id, scheduled } = withQueue('delay-bad');
    const before = JSON.stringify([db.queued(), db.stats()]);
    expect(() => db.delay('00000000-0000-4000-8000-000000000000', 1)).toThrow(ExecutionNotQueuedError);
    expect(() => db.delay(id, 601)).toThrow(InvalidArgumentError);
    expect(() => db.delay(id, -601)).toThrow(InvalidArgumentError);
    expect(() => db.delay(id, 1.5)).toThrow(InvalidArgumentError);
    expect(() => db.delay(id, 1, 'scheduler', scheduled + 1)).toThrow(ScheduleChangedError);
    expect(JSON.stringify([db.queued(), db.stats()])).toBe(before);
    db.run(2); // it has now executed
    expect(() => db.delay(id, 1)).toThrow(ExecutionNotQueuedError);
  });

  it('splits the added delay by mover, announces each accepted delay, and shows the split in the queue', () => {
    const { db, events, id, scheduled } = withQueue('delay-split');
    const delayed: DelayedEvent[] = [];
    db.hooks.delayed.add((e) => delayed.push(e));
    db.delay(id, 10, 'scheduler');
    db.delay(id, 600, 'alice');
    db.delay(id, -3, 'scheduler');
    db.delay(id, 2); // a client that names nobody
    expect(delayed.map((e) => [e.by, e.requestedDelay, e.appliedDelay, e.scheduledTick])).toEqual([
      ['scheduler', 10, 10, scheduled + 10],
      ['alice', 600, 600, scheduled + 610],
      ['scheduler', -3, -3, scheduled + 607],
      [null, 2, 2, scheduled + 609],
    ]);
    const item = db.queued().find((i) => i.execution.id === id)!;
    expect(item.execution.addedDelayBy).toEqual({ scheduler: 7, alice: 600, '': 2 });
    // A bring-forward past the floor is credited with what it actually moved, not what it asked.
    db.delay(id, -600, 'bob');
    db.delay(id, -100, 'bob');
    const floor = db.currentTick - (scheduled + 9);
    expect(delayed.at(-1)).toMatchObject({ by: 'bob', requestedDelay: -100, appliedDelay: floor });
    db.tick();
    const [e] = executedOf(events, id);
    expect(e).toMatchObject({ delayCount: 6, delayedBy: 'bob' });
    expect(e!.addedDelayBy).toEqual({ scheduler: 7, alice: 600, '': 2, bob: floor - 600 });
    const parts = Object.values(e!.addedDelayBy!).reduce((a, b) => a + b, 0);
    expect(parts).toBe(e!.addedDelay);
    // Executions nobody moved carry no split; `by` is free text, so a hostile name is just a key.
    expect(byType(events, 'executed').find((x) => x.delayCount === 0)?.addedDelayBy).toBeUndefined();
    const other = db.queued()[0]!.execution.id;
    db.delay(other, 1, '__proto__');
    expect(db.queued().find((i) => i.execution.id === other)!.execution.addedDelayBy).toEqual(
      JSON.parse('{"__proto__":1}'),
    );
  });

  it('lists the queue soonest first with the scheduled time in ms', () => {
    const { db } = withQueue('queued-list');
    const q = db.queued();
    const id = q[q.length - 1]!.execution.id;
    db.delay(id, 50);
    const after = db.queued();
    expect(after[after.length - 1]!.execution.id).toBe(id);
    for (const item of after) expect(item.execution.timestamp).toBe(db.timeOf(item.execution.scheduledTick));
  });
});

describe('Database: ground truth', () => {
  it('is refused without the evaluation option', () => {
    const db = new Database(simulationOptions({ seed: 'truth' }));
    expect(() => db.groundTruth()).toThrow(GroundTruthDisabledError);
  });
});

// Silence unused-type lint for the helper re-exports used only in annotations.
export type { QueuedEvent, WindowEvent };

describe('Database: ledger', () => {
  it('answers what ran and which windows closed in any tick range of the run', () => {
    const { db, events } = recordedDatabase({ seed: 'ledger', probabilityScale: 3, startTick: 95 });
    db.run(200);
    const executed = byType(events, 'executed');
    const windows = byType(events, 'window');
    for (const [from, to] of [
      [0, 1000],
      [95, 294],
      [100, 149],
      [120, 120],
      [290, 400],
    ] as const) {
      const r = db.executedIn(from, to);
      expect(r.executed).toBe(executed.filter((e) => e.executedTick >= from && e.executedTick <= to).length);
      expect(r.windows).toBe(windows.filter((w) => w.lastTick >= from && w.lastTick <= to).length);
    }
    expect(() => db.executedIn(10, 5)).toThrow(InvalidArgumentError);
  });
});

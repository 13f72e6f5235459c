import { describe, expect, it } from 'vitest';
import type { DelayParts, QueuedItem } from '../../common/contracts.js';
import { Ownership } from '../../scheduler/ownership.js';

function item(id: string, scheduledTick: number, addedDelayBy?: DelayParts): QueuedItem {
  return {
    query: { id: 'q' },
    execution: { id, timestamp: 0, scheduledTick, queuedTick: 1, ...(addedDelayBy ? { addedDelayBy } : {}) },
  };
}

describe('Ownership', () => {
  it('plans executions nobody else moved, and releases the ones another client moved from GET /queued', () => {
    const o = new Ownership('scheduler');
    const items = [
      item('a', 5),
      item('b', 6, { scheduler: 3 }),
      item('c', 1205, { alice: 1200 }),
      item('d', 9, { scheduler: 4, bob: -1 }),
      item('e', 7, { '': 2 }), // a client that named nobody is another client too
    ];
    expect(o.plannable(items).map((i) => i.execution.id)).toEqual(['a', 'b']);
    expect(o.counts).toEqual({ movedByOthers: 3, refused: 0 });
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => o.owns(id))).toEqual([true, true, false, false, false]);
    // A second rebuild finds the same moves: counted once.
    o.plannable(items);
    expect(o.counts.movedByOthers).toBe(3);
  });

  it('tells its own moves from others, including requests that name nobody', () => {
    const o = new Ownership('scheduler');
    expect(o.isOther('scheduler')).toBe(false);
    expect(o.isOther('alice')).toBe(true);
    expect(o.isOther(null)).toBe(true);
  });

  it('keeps a refused execution out until it has left the queue, a moved one until its tick has passed', () => {
    const o = new Ownership('scheduler');
    expect(o.release('moved', 'movedByOthers', 100)).toBe(true);
    expect(o.release('moved', 'movedByOthers', 700)).toBe(false); // moved again, later
    expect(o.release('refused', 'refused')).toBe(true);
    // Released before its tick was known (a 409), then its mover's entry arrives with the tick.
    expect(o.release('raced', 'movedByOthers')).toBe(true);
    expect(o.release('raced', 'movedByOthers', 600)).toBe(false);
    o.prune(500);
    expect(o.owns('moved')).toBe(false);
    o.prune(701);
    expect(o.owns('moved')).toBe(true);
    expect(o.owns('raced')).toBe(true);
    expect(o.owns('refused')).toBe(false);
    // A rebuild keeps it while it is queued and forgets it once it ran.
    expect(o.plannable([item('refused', 900)])).toEqual([]);
    expect(o.plannable([])).toEqual([]);
    expect(o.owns('refused')).toBe(true);
    expect(o.size).toBe(0);
    expect(o.counts).toEqual({ movedByOthers: 2, refused: 1 });
  });
});

import { describe, expect, it } from 'vitest';
import { ArrivalRate } from '../../scheduler/arrival-rate.js';

describe('ArrivalRate', () => {
  it('is unbiased from the first tick and counts ticks without arrivals as zeros', () => {
    const a = new ArrivalRate(50);
    expect(a.perTick()).toBeUndefined();
    a.add(0, [10, 20, 30]);
    a.add(0, [10, 20, 30]);
    a.closeBefore(1);
    expect(a.perTick()!.load).toEqual([20, 40, 60]);
    expect(a.perTick()!.count).toBe(2);
    a.closeBefore(2); // tick 1 had nothing
    const { load, count } = a.perTick()!;
    expect(load[0]).toBeGreaterThan(9);
    expect(load[0]).toBeLessThan(11);
    expect(count).toBeCloseTo(load[0] / 10);
  });

  it('skips gaps in one step and round-trips its state', () => {
    const a = new ArrivalRate(10);
    for (let t = 0; t < 100; t++) a.add(t, [5, 5, 5]);
    a.closeBefore(1000); // a long gap: the rate decays to almost nothing
    expect(a.perTick()!.load[0]).toBeLessThan(0.01);
    const b = new ArrivalRate(10);
    b.restore(JSON.parse(JSON.stringify(a.state())) as ReturnType<ArrivalRate['state']>);
    a.add(1000, [1, 2, 3]);
    b.add(1000, [1, 2, 3]);
    a.closeBefore(1001);
    b.closeBefore(1001);
    expect(b.perTick()).toEqual(a.perTick());
  });
});

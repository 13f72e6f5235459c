import { describe, expect, it } from 'vitest';
import { HoldController } from '../../scheduler/hold-controller.js';

/** One window: `n` executions scheduled with the latency the current hold gives (latency = wait). */
function window(h: HoldController, n: number, ratio = 1): number {
  for (let i = 0; i < n; i++) h.record(h.wait);
  return h.update(ratio);
}

describe('HoldController', () => {
  it('holds more in light traffic than at the peak, and keeps the execution-weighted mean near the target', () => {
    const h = new HoldController(3, 12);
    let latency = 0;
    let executions = 0;
    const waits = { peak: 0, trough: 0 };
    for (let cycle = 0; cycle < 4; cycle++) {
      for (const [phase, n, ratio] of [
        ['peak', 12, 0.75],
        ['trough', 6, 1.5],
      ] as const) {
        for (let w = 0; w < 200; w++) {
          latency += n * h.wait;
          executions += n;
          window(h, n, ratio);
          if (w === 199) waits[phase] = h.wait;
        }
      }
    }
    expect(waits.trough).toBeGreaterThan(waits.peak * 1.4);
    expect(latency / executions).toBeGreaterThan(2.7);
    expect(latency / executions).toBeLessThan(3.3);
    expect(h.setpoint(1.5)).toBeLessThanOrEqual(4.5);
  });

  it('cuts the setpoint while the long-run mean latency is above the target, and only then', () => {
    const h = new HoldController(3, 12);
    expect(h.setpoint(1)).toBe(3);
    for (let i = 0; i < 100; i++) h.record(3.3); // 10 % over the target
    h.update(1);
    expect(h.setpoint(1)).toBeCloseTo(3 * (1 - 3 * 0.1), 5);
    const under = new HoldController(3, 12);
    for (let i = 0; i < 100; i++) under.record(2);
    under.update(1);
    expect(under.setpoint(1)).toBe(3);
  });

  it('weighs a window by its executions: a busy window under the setpoint outweighs a quiet one over it', () => {
    const h = new HoldController(3, 12);
    window(h, 10); // sets the average window size
    const before = h.wait;
    for (let i = 0; i < 30; i++) h.record(2); // busy, 1 tick under
    h.update(1);
    for (let i = 0; i < 3; i++) h.record(4); // quiet, 1 tick over
    h.update(1);
    expect(h.wait).toBeGreaterThan(before + 0.1); // +0.05 × 3 windows' weight, −0.05 × 0.3
    expect(h.wait).toBeLessThan(before + 0.15);
  });

  it('restores a state saved before the guard existed, and stays within [0, budget]', () => {
    const h = new HoldController(3, 12);
    h.restore({ wait: 50, sum: 0, count: 0 });
    expect(h.wait).toBe(12);
    expect(h.setpoint(1)).toBe(3);
    const copy = new HoldController(3, 12);
    window(h, 10);
    copy.restore(JSON.parse(JSON.stringify(h.state())) as ReturnType<HoldController['state']>);
    expect(copy.state()).toEqual(h.state());
  });
});

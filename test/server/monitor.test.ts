import { describe, expect, it } from 'vitest';
import { Monitor } from '../../server/monitor.js';

describe('Monitor', () => {
  it('truncates the average toward zero and keeps min and max', () => {
    const m = new Monitor();
    for (const v of [1, 2, 2]) m.record({ cpu: v, io: v * 10, memory: 0 });
    const a = m.flush();
    expect(a.samples).toBe(3);
    expect(a.cpu).toEqual({ average: 1, min: 1, max: 2 }); // 5 / 3 = 1.67 → 1
    expect(a.io).toEqual({ average: 16, min: 10, max: 20 }); // 50 / 3 = 16.7 → 16
    expect(a.memory).toEqual({ average: 0, min: 0, max: 0 });
  });

  it('reports all zeros for a window with no samples, and starts over after each flush', () => {
    const m = new Monitor();
    m.record({ cpu: 9, io: 9, memory: 9 });
    m.flush();
    const empty = m.flush();
    expect(empty).toEqual({
      samples: 0,
      cpu: { average: 0, min: 0, max: 0 },
      io: { average: 0, min: 0, max: 0 },
      memory: { average: 0, min: 0, max: 0 },
    });
  });

  it('counts a tick where nothing ran as a zero sample', () => {
    const m = new Monitor();
    m.record({ cpu: 0, io: 0, memory: 0 });
    m.record({ cpu: 100, io: 50, memory: 7 });
    const a = m.flush();
    expect(a.samples).toBe(2);
    expect(a.cpu).toEqual({ average: 50, min: 0, max: 100 });
    expect(a.memory).toEqual({ average: 3, min: 0, max: 7 });
  });
});

import { describe, expect, it } from 'vitest';
import type { ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import { windowInBand } from '../../common/definitions.js';
import { Hook } from '../../server/hook.js';
import { SchedulingMonitor } from '../../server/scheduling-monitor.js';
import { execution } from './capture/records.js';
import { recordedDatabase } from './helpers.js';

function window(id: number, cpu: [number, number, number], io = cpu, memory = cpu): WindowEvent {
  const s = ([average, min, max]: [number, number, number]) => ({ average, min, max });
  return {
    type: 'window',
    windowId: id,
    firstTick: id * 10,
    lastTick: id * 10 + 9,
    samples: 10,
    cpu: s(cpu),
    io: s(io),
    memory: s(memory),
    timestamp: 0,
  };
}

/** An execution that ran `addedDelay` ticks late, last moved by `delayedBy`. */
function executed(i: number, addedDelay: number, delayedBy: string | null): ExecutedEvent {
  const e = execution(i);
  return { ...e, executedTick: e.executedTick + addedDelay, addedDelay, delayCount: delayedBy ? 1 : 0, delayedBy };
}

describe('SchedulingMonitor', () => {
  it('reports the in-band rate, spread and added latency of the most recent windows and executions', () => {
    const hooks = { executed: new Hook<ExecutedEvent>(), window: new Hook<WindowEvent>() };
    const m = new SchedulingMonitor(hooks, { windows: 3, executions: 4 });
    expect(m.figures().inBandRate).toBeNull();
    hooks.window.emit(window(0, [100, 0, 300])); // out of band; pushed out by the three below
    hooks.window.emit(window(1, [100, 95, 105])); // in band
    hooks.window.emit(window(2, [100, 80, 120])); // out
    hooks.window.emit(window(3, [0, 0, 0])); // idle: in band by the definition, no ratio
    const runs = [
      [9, null],
      [0, null],
      [2, 'scheduler'],
      [4, 'scheduler'],
      [10, 'other'],
    ] as const;
    runs.forEach(([d, by], i) => hooks.executed.emit(executed(i, d, by)));
    const f = m.figures();
    expect(f.windows).toBe(3);
    expect(f.inBandRate).toBeCloseTo(2 / 3);
    // Ratios: the three most recent windows with load (the idle one has none).
    expect(f.maxAvgMean).toBeCloseTo((3 + 1.05 + 1.2) / 3);
    expect(f.executions).toBe(4);
    expect(f.addedLatencyMean).toBeCloseTo((0 + 2 + 4 + 10) / 4);
    expect(f.addedLatencyP99).toBe(10);
    expect(f.movedByScheduler).toBeCloseTo(2 / 4);
  });

  it('agrees with the definition on a simulated run', () => {
    const { db, events } = recordedDatabase({ seed: 'monitor', probabilityScale: 10 });
    const m = new SchedulingMonitor(db.hooks, { windows: 1000, executions: 100_000 });
    db.run(3000);
    const windows = events.filter((e): e is WindowEvent => e.type === 'window');
    const f = m.figures();
    expect(f.windows).toBe(windows.length);
    expect(f.inBandRate).toBeCloseTo(windows.filter((w) => windowInBand(w)).length / windows.length);
    expect(f.addedLatencyMean).toBe(0); // nobody delayed anything
  });
});

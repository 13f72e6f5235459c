import { describe, expect, it } from 'vitest';
import {
  fixedCount,
  planWindow,
  recordPlaced,
  tickTarget,
  type WindowLevelInput,
} from '../../scheduler/window-level.js';

const input = (over: Partial<WindowLevelInput> = {}): WindowLevelInput => ({
  arrivals: { load: [100, 60, 40], count: 2 },
  held: [0, 0, 0],
  wait: 3,
  levelGain: 0.5,
  windowTicks: 10,
  heldCount: 6,
  fixedCountMax: 8,
  ...over,
});

describe('window level: a fixed count per tick', () => {
  it('runs what arrives plus a share of the executions held beyond the wait', () => {
    // 2 per tick, 6 held = 3 ticks of arrivals: nothing in excess.
    expect(fixedCount(input())).toBe(2);
    // 26 held, 20 beyond the wait: half of it over 10 ticks adds one per tick.
    expect(fixedCount(input({ heldCount: 26 }))).toBe(3);
    // Far below the wait: never fewer than none.
    expect(fixedCount(input({ heldCount: 0, levelGain: 10 }))).toBe(0);
  });

  it('keeps no fixed count above the limit, when disabled, or without an arrival history', () => {
    expect(fixedCount(input({ arrivals: { load: [450, 270, 180], count: 9 }, heldCount: 27 }))).toBeUndefined();
    expect(fixedCount(input({ fixedCountMax: 0 }))).toBeUndefined();
    expect(fixedCount(input({ arrivals: undefined }))).toBeUndefined();
  });

  it("sets the window's level to that many executions of the arrivals' mean cost", () => {
    // 26 held of the arrivals' mean cost (50, 30, 20): the pool leans nowhere.
    const w = planWindow(0, input({ heldCount: 26, held: [1300, 780, 520] }));
    expect(w.count).toBe(3);
    expect(w.level).toEqual([150, 90, 60]);
    const free = planWindow(0, input({ fixedCountMax: 0, held: [600, 360, 240] }));
    expect(free.count).toBeUndefined();
    // rate + gain · (held − wait · rate) / W
    expect(free.level[0]).toBeCloseTo(100 + (0.5 * (600 - 300)) / 10);
  });

  it('leans a fixed-count level the way the held pool leans, by the level gain', () => {
    // The same 26 held, 200 more cpu and 100 less io than 26 of the mean cost: gain 0.5 over 10 ticks.
    const w = planWindow(0, input({ heldCount: 26, held: [1500, 680, 520] }));
    expect(w.count).toBe(3);
    expect(w.level[0]).toBeCloseTo(150 + (0.5 * 200) / 10);
    expect(w.level[1]).toBeCloseTo(90 - (0.5 * 100) / 10);
    expect(w.level[2]).toBeCloseTo(60);
  });
});

describe('window level: tick targets', () => {
  it('at a fixed count, aims every tick after the first at the mean of those placed', () => {
    const w = planWindow(0, input({ heldCount: 26, held: [1300, 780, 520] }));
    expect(tickTarget(w, [0, 0, 0])).toEqual([150, 90, 60]);
    recordPlaced(w, [160, 80, 60]);
    recordPlaced(w, [140, 100, 62]);
    expect(tickTarget(w, [0, 0, 0])).toEqual([150, 90, 61]);
  });

  it('at a fixed count, leans toward what the candidates lean to, within 2 % of the aim', () => {
    const w = planWindow(0, input({ heldCount: 26, held: [1300, 780, 520] }));
    recordPlaced(w, [150, 90, 60]);
    // Window 0 ends at tick 9; at tick 5 five ticks are left. Nine candidates = three ticks of 3:
    // cpu 30 above three templates (2 × 30 / 5 = 12, capped at 2 % of 150 = 3), io 4 below
    // (2 × −4 / 5 = −1.6, within the cap of 1.8), memory exactly three templates (no lean).
    const pool = { load: [480, 266, 180] as [number, number, number], count: 9, tick: 5 };
    const [cpu, io, memory] = tickTarget(w, [0, 0, 0], pool);
    expect(cpu).toBeCloseTo(153);
    expect(io).toBeCloseTo(88.4);
    expect(memory).toBeCloseTo(60);
    // A window's first tick aims at the level (the pool's lean is in the level already).
    expect(tickTarget(planWindow(0, input({ heldCount: 26, held: [1300, 780, 520] })), [0, 0, 0], pool)).toEqual([
      150, 90, 60,
    ]);
  });

  it('does not lean below three executions per tick: one or two cannot be steered by 2 %', () => {
    const w = planWindow(0, input({ heldCount: 6, held: [300, 180, 120] }));
    expect(w.count).toBe(2);
    recordPlaced(w, [100, 60, 40]);
    expect(tickTarget(w, [0, 0, 0], { load: [900, 60, 40], count: 3, tick: 1 })).toEqual([100, 60, 40]);
  });
});

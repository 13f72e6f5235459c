import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../scheduler/arrival-rate.js';
import { planWindowGroups, type PlanType, type WindowPlanInput } from '../../scheduler/window-planner.js';

const exact = (mean: Vec3): PlanType => ({ mean, variance: [0, 0, 0] });
const input = (types: PlanType[], itemType: number[], overrides: Partial<WindowPlanInput> = {}): WindowPlanInput => ({
  types,
  itemType,
  itemLatest: itemType.map(() => 100),
  ticks: 10,
  counts: [1, 2],
  tolerance: 0.05,
  z: 1,
  maxFailures: 40,
  maxWork: 100_000,
  bankMin: 0,
  bankUrgent: 0,
  ...overrides,
});
const tickSums = (x: WindowPlanInput, ticks: number[][]) =>
  ticks.map((items) =>
    items.reduce<Vec3>((s, i) => s.map((v, r) => v + x.types[x.itemType[i]!]!.mean[r]!) as Vec3, [0, 0, 0]),
  );

describe('planWindowGroups', () => {
  it('fills a window of one execution per tick with exact repeats of one query, even with uncertain costs', () => {
    const types = [
      { mean: [60, 40, 40] as Vec3, variance: [400, 400, 400] as Vec3 },
      exact([30, 70, 40]),
      exact([40, 30, 75]),
    ];
    const itemType = [1, 2, ...Array<number>(10).fill(0), 1];
    const x = input(types, itemType);
    const plan = planWindowGroups(x);
    expect(plan?.k).toBe(1);
    expect(plan!.ticks).toHaveLength(10);
    for (const items of plan!.ticks) expect(items.map((i) => itemType[i])).toEqual([0]);
  });

  it('fills a window of one execution per tick from different queries of near-equal cost around a cluster centre', () => {
    // Six urgent outliers first (their own costs and the backlog's centre make no window), then
    // twelve different queries within ±2 % of (60, 40, 40): no query repeats.
    const types: PlanType[] = [];
    for (let i = 0; i < 6; i++) types.push(exact([20 + 15 * i, 90 - 10 * i, 30 + 8 * i]));
    for (let i = 0; i < 12; i++) types.push(exact([60 + (i % 3) - 1, 40 + (i % 2) * 0.8, 40 - (i % 4) * 0.25]));
    const itemType = types.map((_, t) => t);
    const x = input(types, itemType, { counts: [1], itemLatest: itemType.map((t) => (t < 6 ? 5 : 100)) });
    const plan = planWindowGroups(x)!;
    expect(plan.k).toBe(1);
    expect(plan.ticks).toHaveLength(10);
    for (const items of plan.ticks) expect(itemType[items[0]!]).toBeGreaterThanOrEqual(6);
    for (const s of tickSums(x, plan.ticks))
      for (let r = 0; r < 3; r++)
        expect(Math.abs(s[r]! - plan.template[r]!)).toBeLessThanOrEqual(0.05 * plan.template[r]!);
  });

  it('pairs different queries whose sums match one template, every tick within the tolerance', () => {
    // Ten pairs (a_i, b_i) with a_i + b_i = (100, 100, 100) ± 2, no two a's alike.
    const types: PlanType[] = [];
    const itemType: number[] = [];
    for (let i = 0; i < 10; i++) {
      types.push(exact([40 + 2 * i, 60 - 2 * i, 50 + (i % 3)]), exact([60 - 2 * i, 40 + 2 * i, 50 - (i % 2)]));
      itemType.push(2 * i, 2 * i + 1);
    }
    const x = input(types, itemType, { counts: [2] });
    const plan = planWindowGroups(x)!;
    expect(plan.k).toBe(2);
    const sums = tickSums(x, plan.ticks);
    expect(sums).toHaveLength(10);
    for (const s of sums)
      for (let r = 0; r < 3; r++)
        expect(Math.abs(s[r]! - plan.template[r]!)).toBeLessThanOrEqual(0.05 * plan.template[r]! + 1e-9);
    // Every execution is used once.
    expect(new Set(plan.ticks.flat()).size).toBe(20);
  });

  it('refuses a window it cannot fill rather than plan a tick off the template', () => {
    const types = Array.from({ length: 12 }, (_, i) => exact([30 + 5 * i, 80 - 4 * i, 40 + ((7 * i) % 30)]));
    const x = input(
      types,
      types.map((_, i) => i),
      { counts: [1] },
    );
    expect(planWindowGroups(x)).toBeUndefined();
  });

  it('does not group queries whose estimates are too uncertain to tell them apart, unless told to trust them', () => {
    const types = Array.from({ length: 10 }, (_, i) => ({
      mean: [50 + (i % 2), 50, 50] as Vec3,
      variance: [100, 100, 100] as Vec3,
    }));
    const itemType = types.map((_, i) => i);
    expect(planWindowGroups(input(types, itemType, { counts: [1] }))).toBeUndefined();
    expect(planWindowGroups(input(types, itemType, { counts: [1], z: 0 }))?.k).toBe(1);
  });

  it('puts the groups whose executions must run soonest on the earliest ticks', () => {
    const types = [exact([50, 50, 50])];
    const itemType = Array<number>(12).fill(0);
    const itemLatest = [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 2, 0];
    // Deadline order is the caller's: the two urgent ones come first.
    const order = [11, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const x = input(
      types,
      order.map((i) => itemType[i]!),
      { counts: [1], itemLatest: order.map((i) => itemLatest[i]!) },
    );
    const plan = planWindowGroups(x)!;
    plan.ticks.forEach((items, tick) => {
      for (const i of items) expect(x.itemLatest[i]!).toBeGreaterThanOrEqual(tick);
    });
  });

  it('keeps banked repeats out of pairs and plans their own window once there are enough', () => {
    const repeat = exact([55, 45, 45]);
    const types = [repeat, ...Array.from({ length: 20 }, (_, i) => exact([30 + i, 70 - i, 45]))];
    // Nine repeats (banked, not enough for a window) and twenty others that pair up.
    const itemType = [...Array<number>(9).fill(0), ...Array.from({ length: 20 }, (_, i) => i + 1)];
    const x = input(types, itemType, { counts: [2], bankMin: 5, bankUrgent: 10 });
    const plan = planWindowGroups(x)!;
    expect(plan.k).toBe(2);
    for (const items of plan.ticks) for (const i of items) expect(itemType[i]).not.toBe(0);
    const full = input(types, [...itemType, 0], { counts: [2], bankMin: 5, bankUrgent: 10 });
    const repeats = planWindowGroups(full)!;
    expect(repeats.k).toBe(1);
    for (const items of repeats.ticks) expect(full.itemType[items[0]!]).toBe(0);
  });

  it('gives up within its work budget', () => {
    const types = Array.from({ length: 80 }, (_, i) => exact([30 + (i % 40), 70 - (i % 35), 40 + ((3 * i) % 30)]));
    const itemType = Array.from({ length: 300 }, (_, i) => (i * 7) % 80);
    expect(planWindowGroups(input(types, itemType, { counts: [3], tolerance: 0.001, maxWork: 1000 }))).toBeUndefined();
  });
});

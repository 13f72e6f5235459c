/**
 * `offline-window`: a clairvoyant reference for what placement inside a window can achieve. It
 * takes each window's own executions as they arrive without scheduling, knows their true costs,
 * and rearranges them freely among that window's ticks (even earlier than they arrived) to make the
 * window as flat as it can: a local search minimising the worst resource's relative deviation
 * max(max/avg − 1, 1 − min/avg). It may not move anything to another window.
 *
 * It is neither a bound nor an optimum for online scheduling (an online policy may move work
 * across windows, but may not run it before it arrives; the search is a heuristic). It answers
 * "with this window's work, how flat could the window be?" — at low load, quantisation in whole
 * executions dominates that answer, which is the point of showing it. No latency is reported.
 */
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';
import { scoreWindow, type WindowScore } from './metrics.js';

export interface OfflineWindowResult {
  scores: WindowScore[];
  /** Executions that arrived into each window (its work, before any scheduling). */
  executionsPerWindow: number[];
}

export function offlineWindow(
  simulation: SimulationOptions,
  ticks: number,
  iterationsPerItem = 30,
): OfflineWindowResult {
  const db = new Database({ ...simulation, exposeTruth: true });
  const cost = new Map(db.groundTruth().map((q) => [q.id, [q.cpu, q.io, q.memory] as const]));
  let items: (readonly [number, number, number])[] = [];
  const scores: WindowScore[] = [];
  const executionsPerWindow: number[] = [];
  let seed = 0x9e3779b9;
  // A small deterministic generator (xorshift32): the reference must be reproducible.
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  db.hooks.executed.add((e) => items.push(cost.get(e.queryId)!));
  db.hooks.window.add((w) => {
    const loads = arrange(items, w.samples, iterationsPerItem, random);
    executionsPerWindow.push(items.length);
    items = [];
    const stat = (r: number) => {
      const xs = loads.map((l) => l[r]!);
      const sum = xs.reduce((a, b) => a + b, 0);
      return { average: Math.trunc(sum / xs.length), min: Math.min(...xs), max: Math.max(...xs) };
    };
    scores.push(scoreWindow({ ...w, cpu: stat(0), io: stat(1), memory: stat(2) }));
  });
  db.run(ticks);
  return { scores, executionsPerWindow };
}

/** Assigns items to `ticks` ticks, flattest first (largest first onto the lightest tick), then improves by local search. */
function arrange(
  items: readonly (readonly [number, number, number])[],
  ticks: number,
  iterationsPerItem: number,
  random: () => number,
): number[][] {
  const loads = Array.from({ length: ticks }, () => [0, 0, 0]);
  const total = [0, 1, 2].map((r) => items.reduce((a, c) => a + c[r]!, 0));
  const norm = (c: readonly number[]) => c.reduce((a, x, r) => a + x / Math.max(1, total[r]!), 0);
  const order = items.map((_, i) => i).sort((a, b) => norm(items[b]!) - norm(items[a]!));
  const at = new Int32Array(items.length);
  for (const i of order) {
    let best = 0;
    for (let t = 1; t < ticks; t++) if (norm(loads[t]!) < norm(loads[best]!)) best = t;
    at[i] = best;
    for (let r = 0; r < 3; r++) loads[best]![r]! += items[i]![r]!;
  }
  if (items.length === 0 || ticks < 2) return loads;
  const avg = total.map((s) => s / ticks);
  const deviation = () => {
    let d = 0;
    for (let r = 0; r < 3; r++) {
      if (avg[r]! <= 0) continue;
      for (const l of loads) d = Math.max(d, Math.abs(l[r]! / avg[r]! - 1));
    }
    return d;
  };
  const shift = (i: number, from: number, to: number) => {
    for (let r = 0; r < 3; r++) {
      loads[from]![r]! -= items[i]![r]!;
      loads[to]![r]! += items[i]![r]!;
    }
    at[i] = to;
  };
  let current = deviation();
  for (let k = 0; k < iterationsPerItem * items.length; k++) {
    const i = Math.floor(random() * items.length);
    const from = at[i]!;
    if (random() < 0.5) {
      const to = Math.floor(random() * ticks);
      if (to === from) continue;
      shift(i, from, to);
      const d = deviation();
      if (d <= current) current = d;
      else shift(i, to, from);
    } else {
      const j = Math.floor(random() * items.length);
      const other = at[j]!;
      if (other === from) continue;
      shift(i, from, other);
      shift(j, other, from);
      const d = deviation();
      if (d <= current) current = d;
      else {
        shift(j, from, other);
        shift(i, other, from);
      }
    }
  }
  return loads;
}

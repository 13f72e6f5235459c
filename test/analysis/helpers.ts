/**
 * Test helpers for the analysis component: synthetic runs with known costs (executions placed on
 * chosen ticks, windows aggregated exactly as the simulated database's monitor does), a simulated
 * run, and a random Redis key prefix that is removed afterwards.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ExecutedEvent, TrueQuery, WindowEvent } from '../../common/contracts.js';
import { Database } from '../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../server/options.js';
import { REDIS_URL, removePrefixAndQuit, waitFor } from '../helpers/shared-redis.js';

export { REDIS_URL, waitFor };
export const BASE_TIME = Date.UTC(2026, 0, 1);

export type Costs = Map<string, [number, number, number]>;

/**
 * Executions of `schedule` (tick → query ids run in that tick, ticks relative to `baseTick`) and
 * the windows of `windowTicks` ticks covering [baseTick, baseTick + windows·windowTicks): average
 * truncated toward zero, min and max, as the monitor computes them.
 */
export function syntheticRun(params: {
  costs: Costs;
  schedule: Map<number, string[]>;
  windows: number;
  windowTicks?: number;
  baseTick?: number;
}): { executions: ExecutedEvent[]; windows: WindowEvent[] } {
  const W = params.windowTicks ?? 10;
  const base = params.baseTick ?? 1_000_000;
  const executions: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  for (let w = 0; w < params.windows; w++) {
    const samples: [number, number, number][] = [];
    for (let t = w * W; t < (w + 1) * W; t++) {
      const sample: [number, number, number] = [0, 0, 0];
      for (const q of params.schedule.get(t) ?? []) {
        const c = params.costs.get(q)!;
        for (let r = 0; r < 3; r++) sample[r]! += c[r]!;
        executions.push(executed(q, base + t));
      }
      samples.push(sample);
    }
    const stats = (r: number) => {
      const values = samples.map((s) => s[r]!);
      const sum = values.reduce((a, b) => a + b, 0);
      return { average: Math.trunc(sum / values.length), min: Math.min(...values), max: Math.max(...values) };
    };
    const firstTick = base + w * W;
    windows.push({
      type: 'window',
      windowId: firstTick / W,
      firstTick,
      lastTick: firstTick + W - 1,
      samples: W,
      cpu: stats(0),
      io: stats(1),
      memory: stats(2),
      timestamp: BASE_TIME + (w * W + W - 1) * 100,
    });
  }
  return { executions, windows };
}

export function executed(queryId: string, tick: number): ExecutedEvent {
  return {
    type: 'executed',
    executionId: randomUUID(),
    queryId,
    queuedTick: tick - 1,
    executedTick: tick,
    addedDelay: 0,
    delayCount: 0,
    delayedBy: null,
    queuedAt: BASE_TIME + (tick - 1 - 1_000_000) * 100,
    executedAt: BASE_TIME + (tick - 1_000_000) * 100,
  };
}

/** A seeded random schedule: each tick, each query runs with its probability. */
export function randomSchedule(
  queries: string[],
  probabilities: number[],
  ticks: number,
  seed = 1,
): Map<number, string[]> {
  let state = seed >>> 0 || 1;
  const next = () => {
    // xorshift32: reproducible and good enough for placing executions.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const schedule = new Map<number, string[]>();
  for (let t = 0; t < ticks; t++) {
    const ran = queries.filter((_, i) => next() < probabilities[i]!);
    if (ran.length > 0) schedule.set(t, ran);
  }
  return schedule;
}

/** The simulated database for `ticks` ticks: its events and ground truth. */
export function simulatedRun(
  ticks: number,
  overrides: Partial<SimulationOptions> & { seed: string },
): { executions: ExecutedEvent[]; windows: WindowEvent[]; truth: TrueQuery[] } {
  const db = new Database(simulationOptions({ exposeTruth: true, ...overrides }));
  const executions: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  db.hooks.executed.add((e) => executions.push(e));
  db.hooks.window.add((w) => windows.push(w));
  db.run(ticks);
  return { executions, windows, truth: db.groundTruth() };
}

/** A random key prefix on the shared Redis; `cleanup` deletes every key under it. */
export class TestRedis {
  readonly prefix = `test-analysis-${randomUUID()}`;
  readonly redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });

  cleanup(): Promise<void> {
    return removePrefixAndQuit(this.redis, this.prefix);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

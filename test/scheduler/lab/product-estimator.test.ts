/**
 * The product's estimator as the lab runs it (scheduler/lab/product-estimator.ts): fed the events of
 * a simulated run, it knows nothing until its first solve (the policy's prior), then gives prior
 * rows to queries that ran after the settle horizon only, and learns the true costs closely.
 */
import { describe, expect, it } from 'vitest';
import type { TrueQuery } from '../../../common/contracts.js';
import { productEstimatorProvider } from '../../../scheduler/lab/cost-model-provider.js';
import { DEFAULT_PRODUCT_ESTIMATOR, ProductEstimator } from '../../../scheduler/lab/product-estimator.js';
import { runPolicy } from '../../../scheduler/lab/run.js';
import { NoScheduling } from '../../../scheduler/lab/none.js';
import { Database } from '../../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../../server/options.js';

/** Drives a database tick by tick, feeding the estimator and awaiting its solves, as the lab does. */
function drive(overrides: Partial<SimulationOptions> & { seed: string }, options = {}) {
  const simulation = simulationOptions({ exposeTruth: true, ...overrides });
  const db = new Database(simulation);
  const model = productEstimatorProvider(options)({ simulation }) as ProductEstimator;
  const firstRun = new Map<string, number>();
  db.hooks.executed.add((e) => {
    if (!firstRun.has(e.queryId)) firstRun.set(e.queryId, e.executedTick);
    model.observe(e);
  });
  db.hooks.window.add((w) => model.observe(w));
  return {
    model,
    firstRun,
    truth: db.groundTruth(),
    async run(ticks: number) {
      for (let i = 0; i < ticks; i++) {
        db.tick();
        await model.flush();
      }
    },
  };
}

function meanAbsoluteError(model: ProductEstimator, truth: TrueQuery[], minObservations: number) {
  const errors: number[] = [];
  for (const q of truth) {
    const c = model.cost(q.id);
    if (!c || c.observations < minObservations) continue;
    errors.push(Math.abs(c.cpu - q.cpu), Math.abs(c.io - q.io), Math.abs(c.memory - q.memory));
  }
  return { queries: errors.length / 3, mae: errors.reduce((a, b) => a + b, 0) / Math.max(1, errors.length) };
}

describe('product estimator in the lab', () => {
  it('cold start: the prior (undefined) for every query until the first solve, then estimates and prior rows', async () => {
    // The periodic schedule alone (no early solves), so the first solve is the interval's.
    const d = drive({ seed: 'cold-start' }, { intervalWindows: 30, settleWindows: 10, earlySolves: [] });
    await d.run(299); // 29 windows closed: no solve yet
    expect(d.firstRun.size).toBeGreaterThan(40);
    for (const q of d.firstRun.keys()) expect(d.model.cost(q)).toBeUndefined();
    expect(d.model.solves).toBe(0);

    await d.run(1); // window 29 closes: the first solve, on the windows settled 10 windows before
    expect(d.model.solves).toBe(1);
    const latest = d.model.latest!;
    expect(latest.horizonTick).toBeGreaterThanOrEqual(189);
    expect(latest.horizonTick).toBeLessThanOrEqual(199);
    let priorRows = 0;
    for (const [q, tick] of d.firstRun) {
      const c = d.model.cost(q)!;
      expect(c, q).toBeDefined();
      if (tick <= latest.horizonTick) {
        expect(c.observations).toBeGreaterThan(0);
      } else {
        // Ran after the horizon only: the solve's prior, with 0 observations (estimate.ts).
        priorRows++;
        expect(c.observations).toBe(0);
        expect([c.cpu, c.io, c.memory]).toEqual(latest.solution.prior.mean);
      }
    }
    expect(priorRows).toBeGreaterThan(0);
    // A query that has never run is still unknown: the policy's prior.
    expect(d.model.cost('never-ran')).toBeUndefined();
  });

  it('learns the true costs from the run: well-observed queries within a fraction of a unit', async () => {
    const d = drive({ seed: 'learns' });
    await d.run(6000);
    const { queries, mae } = meanAbsoluteError(d.model, d.truth, 30);
    expect(queries).toBeGreaterThan(50);
    expect(mae).toBeLessThan(1);
    // The job's early solves during the cold start, then one per interval after the last of them.
    const early = DEFAULT_PRODUCT_ESTIMATOR.earlySolves;
    expect(early.length).toBeGreaterThan(0);
    const periodic = Math.floor((600 - Math.max(...early)) / DEFAULT_PRODUCT_ESTIMATOR.intervalWindows);
    expect(d.model.solves).toBe(early.length + periodic);
    // Solving 100 queries is cheap: well under a second per solve (loose: shared machine).
    expect(d.model.solveMs / d.model.solves).toBeLessThan(150);
  });

  it('solves early during the cold start: estimates after the first few windows, not the first interval', async () => {
    const d = drive({ seed: 'early' });
    const first = Math.min(...DEFAULT_PRODUCT_ESTIMATOR.earlySolves);
    expect(first).toBeLessThan(DEFAULT_PRODUCT_ESTIMATOR.intervalWindows);
    await d.run(first * 10 - 1);
    expect(d.model.solves).toBe(0);
    await d.run(1);
    expect(d.model.solves).toBe(1);
  });

  it('counts its durations in 1 s windows: with 5-tick windows it solves after twice as many of them', async () => {
    const d = drive(
      { seed: 'short-windows', metricsWindowTicks: 5 },
      { intervalWindows: 3, earlySolves: [], settleWindows: 0 },
    );
    expect(d.model.name).toMatch(/every 6 windows, settle 0/);
    // 3 s = 30 ticks = 6 windows of 5 ticks: no solve before the 6th window closes, one after.
    await d.run(29);
    expect(d.model.solves).toBe(0);
    await d.run(1);
    expect(d.model.solves).toBe(1);
  });

  it('works asynchronously: the synchronous runner refuses it', () => {
    const simulation = simulationOptions({ seed: 'sync' });
    expect(() =>
      runPolicy({
        simulation,
        ticks: 400,
        policy: () => ({ policy: new NoScheduling(), observers: [productEstimatorProvider()({ simulation })] }),
      }),
    ).toThrow(/runPolicyAsync/);
  });
});

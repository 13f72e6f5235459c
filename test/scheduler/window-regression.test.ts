import { describe, expect, it } from 'vitest';
import { Database } from '../../server/database.js';
import { WindowRegression } from '../../scheduler/lab/window-regression.js';
import { simulation } from './helpers.js';

describe('window-regression estimator', () => {
  it('learns every frequent query’s true cost from executed events and window totals alone', () => {
    const db = new Database(simulation({ seed: 'est', probabilityScale: 10 }));
    const est = new WindowRegression({ priorMean: 47, priorSd: 12 });
    db.hooks.executed.add((e) => est.observe(e));
    db.hooks.window.add((w) => est.observe(w));
    expect(est.cost(db.queryIds()[0]!)).toBeUndefined();
    db.run(3000);
    let checked = 0;
    for (const q of db.groundTruth()) {
      const c = est.cost(q.id);
      if (!c || c.observations < 30) continue;
      checked++;
      for (const r of ['cpu', 'io', 'memory'] as const) expect(Math.abs(c[r] - q[r])).toBeLessThan(2);
      expect(c.sd!.cpu).toBeLessThan(2);
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('reports a rarely seen query as uncertain', () => {
    const db = new Database(simulation({ seed: 'est2', probabilityScale: 10 }));
    const est = new WindowRegression({ priorMean: 47, priorSd: 12 });
    db.hooks.executed.add((e) => est.observe(e));
    db.hooks.window.add((w) => est.observe(w));
    db.run(30);
    const seen = db
      .queryIds()
      .map((id) => est.cost(id))
      .filter((c) => c !== undefined);
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen.map((c) => c.sd!.cpu))).toBeGreaterThan(3);
  });
});

/** Drives a policy against a real simulated database in virtual time, recording what happened. */
import type { ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import { Database } from '../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../server/options.js';
import type { DelayResult } from '../../server/database.js';
import type { Decision, SchedulingPolicy } from '../../scheduler/decision.js';

export interface Drive {
  db: Database;
  executed: ExecutedEvent[];
  windows: WindowEvent[];
  /** Every decision with the tick before which it was applied and the database's answer. */
  applied: { nextTick: number; decision: Decision; result: DelayResult }[];
}

export function simulation(overrides: Partial<SimulationOptions> & { seed: string }): SimulationOptions {
  return simulationOptions({ exposeTruth: true, ...overrides });
}

/** Runs `ticks` ticks; `make` builds the policy for the database (it may read ground truth). */
export function drive(sim: SimulationOptions, ticks: number, make: (db: Database) => SchedulingPolicy): Drive {
  const db = new Database(sim);
  const policy = make(db);
  const out: Drive = { db, executed: [], windows: [], applied: [] };
  let pending: Decision[] = [];
  db.hooks.executed.add((e) => {
    out.executed.push(e);
    policy.onExecuted(e);
  });
  db.hooks.window.add((w) => {
    out.windows.push(w);
    policy.onWindow(w);
  });
  db.hooks.queued.add((q) => {
    pending = pending.concat(policy.onQueued(q));
  });
  const apply = (ds: Decision[]) => {
    for (const decision of ds) {
      // Throws on a rejected decision (unknown execution, bad delay): the test fails loudly.
      out.applied.push({ nextTick: db.currentTick, decision, result: db.delay(decision.executionId, decision.delay) });
    }
  };
  for (let i = 0; i < ticks; i++) {
    db.tick();
    apply(pending);
    pending = [];
    apply(policy.beforeTick(db.currentTick));
  }
  return out;
}

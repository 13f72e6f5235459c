/**
 * What a server run executed, recomputed: the simulated database is deterministic when nobody sends
 * `/delay` (same seed, parameters and start tick give the same execution ids, queries and windows),
 * so the ground truth of a run that was killed, and cannot be asked any more, is its replay.
 */
import type { ExecutedEvent, WindowEvent } from '../../../common/contracts.js';
import { Database } from '../../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../../server/options.js';

export interface RunIdentity {
  seed: string;
  probabilityScale: number;
  tickMs: number;
  traffic: SimulationOptions['traffic'];
  /** The run's first tick, from its `GET /stats` (`firstTick`). */
  firstTick: number;
}

export interface Replay {
  executed: ExecutedEvent[];
  windows: WindowEvent[];
  db: Database;
}

/** Replays the run from its first tick through `lastTick` (inclusive). */
export function replayRun(run: RunIdentity, lastTick: number): Replay {
  // The server numbers ticks on the wall clock: startTime is the start tick's epoch ms.
  const db = new Database(
    simulationOptions({
      seed: run.seed,
      probabilityScale: run.probabilityScale,
      tickMs: run.tickMs,
      traffic: run.traffic,
      startTick: run.firstTick,
      startTime: run.firstTick * run.tickMs,
    }),
  );
  const executed: ExecutedEvent[] = [];
  const windows: WindowEvent[] = [];
  db.hooks.executed.add((e) => executed.push(e));
  db.hooks.window.add((w) => windows.push(w));
  db.run(Math.max(0, lastTick - run.firstTick + 1));
  return { executed, windows, db };
}

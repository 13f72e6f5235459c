/** Shared test helpers for the server: a database with recorded hook events. */
import type { ExecutedEvent, QueuedEvent, WindowEvent } from '../../common/contracts.js';
import { Database } from '../../server/database.js';
import { simulationOptions, type SimulationOptions } from '../../server/options.js';

export type AnyEvent = QueuedEvent | ExecutedEvent | WindowEvent;

export function recordedDatabase(overrides: Partial<SimulationOptions> & { seed: string }) {
  const db = new Database(simulationOptions({ exposeTruth: true, ...overrides }));
  const events: AnyEvent[] = [];
  const record = (e: AnyEvent) => events.push(e);
  db.hooks.queued.add(record);
  db.hooks.executed.add(record);
  db.hooks.window.add(record);
  return { db, events };
}

/**
 * One benchmark run of the producing side, exactly as the server runs it: the simulated database
 * on the real-time driver, each tick followed by `capture.commit()` (durable outbox), the relay
 * moving committed records to BullMQ in the background. Runs for a given time, then stops ticking
 * and closes the capture, which sends what is left in the outbox before it returns.
 */
import type { Logger } from '../../common/logger.js';
import { startCapture, type CaptureOptions } from '../../server/capture/index.js';
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';
import { RealtimeDriver } from '../../server/realtime-driver.js';

/** The tick loop stopped with an error (an outbox write failed): the run's numbers mean nothing. */
export class TickFailedError extends Error {
  override readonly name = 'TickFailedError';
}

export interface PacedRunResult {
  /** Ticks run: [firstTick, lastTick]. */
  firstTick: number;
  lastTick: number;
  /** Epoch ms when ticking started and stopped. */
  startedAt: number;
  endedAt: number;
  executed: number;
  windows: number;
  /** At the moment ticking stopped: committed records not yet acknowledged by Redis. */
  outboxBacklog: number;
  /** The latest a tick ran behind its due time (the producer itself keeping up). */
  worstTickLagMs: number;
  /** Whether the outbox was empty when the capture closed. */
  drained: boolean;
  db: Database;
}

export interface PacedRunParams {
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  capture: CaptureOptions;
  seconds: number;
  logger: Logger;
  /** Called about once a second while ticking (progress). */
  onSecond?: (db: Database, outboxBacklog: number) => void;
  /** Called after ticking stopped, before the capture closes (e.g. to read the queues). */
  onStopped?: () => Promise<void>;
}

export async function pacedRun(p: PacedRunParams): Promise<PacedRunResult> {
  const tickMs = p.simulation.tickMs;
  // Wall-clock tick numbers, as the server uses: unique across runs, and virtual time = real time.
  const startTick = Math.floor(Date.now() / tickMs) + 1;
  const db = new Database({ ...p.simulation, startTick, startTime: startTick * tickMs });
  const capture = startCapture({ db, logger: p.logger, ...p.capture });
  let failure: unknown;
  const driver = new RealtimeDriver(
    () => {
      db.tick();
      capture.commit();
    },
    { tickMs, onError: (err) => (failure = err) },
  );
  const startedAt = startTick * tickMs;
  driver.start(startedAt);
  const progress = setInterval(() => p.onSecond?.(db, capture.stats().outbox.pendingRecords), 1000);
  await new Promise((r) => setTimeout(r, Math.max(0, startedAt + p.seconds * 1000 - Date.now())));
  driver.stop();
  clearInterval(progress);
  const endedAt = Date.now();
  const outboxBacklog = capture.stats().outbox.pendingRecords;
  await p.onStopped?.();
  const closed = await capture.close();
  if (failure !== undefined) throw new TickFailedError('a tick failed; the database stopped', { cause: failure });
  const stats = db.stats();
  return {
    firstTick: startTick,
    lastTick: stats.nextTick - 1,
    startedAt,
    endedAt,
    executed: stats.executedTotal,
    windows: stats.windowsTotal,
    outboxBacklog,
    worstTickLagMs: Math.round(driver.worstLagMs),
    drained: closed.drained,
    db,
  };
}

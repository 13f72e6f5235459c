/**
 * The server service: the simulated database on the real-time driver, with its HTTP API. Ticks are
 * numbered on the wall clock (`floor(epoch ms / tickMs)`), so tick and window ids stay unique and
 * aligned across restarts of the process.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { minorGc } from '../common/idle-gc.js';
import type { Logger } from '../common/logger.js';
import { createApi } from './api.js';
import { Database } from './database.js';
import type { SimulationOptions } from './options.js';
import { RealtimeDriver, type DriverState } from './realtime-driver.js';
import { SchedulingMonitor } from './scheduling-monitor.js';

export interface ServerOptions {
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  port: number;
  host: string;
  /** Run a young-generation GC in the quiet part of each tick (common/idle-gc.ts). */
  idleGc: boolean;
  logger: Logger;
  /**
   * Attaches other components to the database before the first tick (capture hooks, scheduler).
   * `afterTick` runs after every tick, before the next one: the capture layer commits its outbox
   * there. `stats` sections are merged into `GET /stats`.
   */
  attach?: (db: Database) => { afterTick?: (tick: number) => void; stats?: () => Record<string, unknown> };
}

export interface RunningServer {
  db: Database;
  driver: RealtimeDriver;
  http: Server;
  /** Base URL of the API, e.g. http://127.0.0.1:8080. */
  url: string;
  state(): DriverState;
  close(): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const tickMs = o.simulation.tickMs;
  const startTick = Math.floor(Date.now() / tickMs) + 1;
  const db = new Database({ ...o.simulation, startTick, startTime: startTick * tickMs });
  const scheduling = new SchedulingMonitor(db.hooks);
  // Event-loop delay: a stall here delays ticks and every /delay answer; shown in GET /stats.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const attached = o.attach?.(db) ?? {};
  const afterTick = attached.afterTick;
  // The quiet part of a tick: decisions for it arrive within ~20 ms, the next tick is tickMs away.
  const gc = o.idleGc ? minorGc() : undefined;
  const collectLater = gc ? () => setTimeout(gc, tickMs * 0.6).unref() : () => undefined;
  const driver = new RealtimeDriver(
    () => {
      db.tick();
      afterTick?.(db.currentTick - 1);
      collectLater();
    },
    {
      tickMs,
      onError: (err) => o.logger.fatal({ err, tick: db.currentTick }, 'tick failed; the database stopped'),
    },
  );
  const app = createApi(db, {
    logger: o.logger,
    extraStats: () => ({
      driver: { state: driver.state, lagTicks: driver.lag(), worstLagMs: Math.round(driver.worstLagMs) },
      eventLoopDelayMs: {
        p50: Math.round(loopDelay.percentile(50) / 1e5) / 10,
        p99: Math.round(loopDelay.percentile(99) / 1e5) / 10,
        max: Math.round(loopDelay.max / 1e5) / 10,
      },
      scheduling: scheduling.figures(),
      ...attached.stats?.(),
    }),
  });
  const http = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(o.port, o.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const address = http.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  driver.start(startTick * tickMs);
  o.logger.info({ url, seed: o.simulation.seed, startTick, tickMs }, 'database running');
  return {
    db,
    driver,
    http,
    url,
    state: () => driver.state,
    /** Stops ticking and closes the API. */
    async close() {
      driver.stop();
      loopDelay.disable();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

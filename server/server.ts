/**
 * The server service: the simulated database on the real-time driver, with its HTTP API. Ticks are
 * numbered on the wall clock (`floor(epoch ms / tickMs)`), so tick and window ids stay unique and
 * aligned across restarts of the process.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { minorGc } from '../common/idle-gc.js';
import { listenOn } from '../common/listen.js';
import type { Logger } from '../common/logger.js';
import type { Registry } from '../common/metrics.js';
import { createApi } from './api.js';
import { Database } from './database.js';
import { LedgerWriter } from './ledger-file.js';
import type { SimulationOptions } from './options.js';
import { registerServerMetrics } from './metrics.js';
import { RealtimeDriver, type DriverState } from './realtime-driver.js';
import { SchedulingMonitor } from './scheduling-monitor.js';

/** The setting that chooses the API's port (named when the port is taken). */
export const API_PORT_SETTING = { flag: '--port', env: 'PORT' };

export interface ServerOptions {
  simulation: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  port: number;
  host: string;
  /** Registry of `GET /metrics`: the server's metrics are registered on it (server/metrics.ts). */
  metrics?: Registry;
  /** Run a young-generation GC in the quiet part of each tick (common/idle-gc.ts). */
  idleGc: boolean;
  logger: Logger;
  /** Where the execution ledger of this run is kept on disk (ledger-file.ts); unset: in memory only. */
  ledgerDir?: string;
  /**
   * Attaches other components to the database before the first tick (capture hooks, scheduler).
   * `afterTick` runs after every tick, before the next one: the capture layer commits its outbox
   * there. `stats` sections are merged into `GET /stats`; `degraded` reasons make `GET /healthz` say so.
   */
  attach?: (db: Database) => {
    afterTick?: (tick: number) => void;
    stats?: () => Record<string, unknown>;
    degraded?: () => string[];
  };
}

export interface RunningServer {
  db: Database;
  driver: RealtimeDriver;
  http: Server;
  /** Base URL of the API, e.g. http://127.0.0.1:8080. */
  url: string;
  state(): DriverState;
  /** Why the server failed (a tick threw: an outbox or ledger write, say), or null while it has not. */
  failure(): string | null;
  /** Resolves with the reason once the server failed (fail-stop: the caller stops the process). */
  failed: Promise<string>;
  close(): Promise<void>;
}

/** One line for people: the error's message and its causes' (ENOSPC, EIO…). */
export function describeFailure(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  while (e instanceof Error && parts.length < 4) {
    parts.push(e.message);
    e = e.cause;
  }
  if (parts.length === 0) parts.push(typeof error === 'string' ? error : JSON.stringify(error));
  return parts.join(': ');
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
  const ledger = o.ledgerDir
    ? LedgerWriter.open(o.ledgerDir, {
        firstTick: startTick,
        tickMs,
        windowTicks: o.simulation.metricsWindowTicks,
        seed: o.simulation.seed,
        startedAt: Date.now(),
      })
    : undefined;
  let failure: string | null = null;
  let reportFailure: (reason: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (reportFailure = resolve));
  const driver = new RealtimeDriver(
    () => {
      db.tick();
      const tick = db.currentTick - 1;
      // Before the outbox commit: a tick whose commit fails still counts as executed, so a check
      // of the stopped system shows its records missing rather than hiding them.
      ledger?.record(tick, db.executedIn(tick, tick).executed);
      afterTick?.(tick);
      collectLater();
    },
    {
      tickMs,
      onError: (err) => {
        failure = `tick ${db.currentTick} failed, the database stopped: ${describeFailure(err)}`;
        o.logger.fatal({ err, tick: db.currentTick }, 'tick failed; the database stopped');
        reportFailure(failure);
      },
    },
  );
  if (o.metrics) {
    registerServerMetrics(o.metrics, { db, scheduling: () => scheduling.figures(), lagTicks: () => driver.lag() });
  }
  const app = createApi(db, {
    logger: o.logger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
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
    ...(attached.degraded ? { degraded: attached.degraded } : {}),
    failure: () => failure,
  });
  let http: Server;
  try {
    http = await listenOn(app.listen.bind(app), o.port, o.host, API_PORT_SETTING);
  } catch (error) {
    loopDelay.disable();
    ledger?.close();
    throw error;
  }
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
    failure: () => failure,
    failed,
    /** Stops ticking, writes the rest of the ledger and closes the API. */
    async close() {
      driver.stop();
      loopDelay.disable();
      try {
        ledger?.close();
      } catch (err) {
        o.logger.error({ err }, 'the execution ledger could not be written at close');
      }
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

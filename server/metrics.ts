/**
 * The server's Prometheus metrics (common/metrics.ts): what the simulated database ran, how level
 * its windows were, and the capture layer's backlog. Totals and gauges are read from the database's
 * and the capture's own counters at each scrape; the in-band windows are counted from the window
 * hook, one comparison per second.
 */
import { windowInBand } from '../common/definitions.js';
import type { DatabaseStats } from '../common/contracts.js';
import { followTotal, type Registry } from '../common/metrics.js';
import { Counter, Gauge } from 'prom-client';
import type { CaptureStats } from './capture/index.js';
import type { Database } from './database.js';
import type { SchedulingFigures } from './scheduling-monitor.js';

export function registerServerMetrics(
  registry: Registry,
  source: { db: Pick<Database, 'stats' | 'hooks'>; scheduling: () => SchedulingFigures; lagTicks: () => number },
): void {
  let stats: DatabaseStats = source.db.stats();
  const fresh = () => (stats = source.db.stats());
  followTotal(registry, { name: 'spike_executions_total', help: 'Executions the database ran.' }, () => [
    [{}, fresh().executedTotal],
  ]);
  followTotal(registry, { name: 'spike_queued_total', help: 'Executions the database queued.' }, () => [
    [{}, stats.queuedTotal],
  ]);
  followTotal(
    registry,
    { name: 'spike_delays_accepted_total', help: 'POST /delay requests the database applied.' },
    () => [[{}, stats.delaysAccepted]],
  );
  new Gauge({
    name: 'spike_queue_length',
    help: 'Executions waiting in the database queue.',
    registers: [registry],
    collect() {
      this.set(stats.queueLength);
    },
  });
  new Gauge({
    name: 'spike_tick_lag_ticks',
    help: 'Ticks the real-time driver is behind the wall clock.',
    registers: [registry],
    collect() {
      this.set(source.lagTicks());
    },
  });

  const windows = new Counter({
    name: 'spike_windows_total',
    help: 'Metrics windows (1 s each) the database closed, by whether every resource stayed within ±10 % of its average.',
    labelNames: ['in_band'],
    registers: [registry],
  });
  windows.inc({ in_band: 'true' }, 0);
  windows.inc({ in_band: 'false' }, 0);
  source.db.hooks.window.add((w) => windows.inc({ in_band: windowInBand(w) ? 'true' : 'false' }));
  new Gauge({
    name: 'spike_window_in_band_ratio',
    help: 'Share of the most recent metrics windows (up to 60) in which every resource stayed within ±10 % of its average.',
    registers: [registry],
    collect() {
      const rate = source.scheduling().inBandRate;
      if (rate !== null) this.set(rate);
    },
  });
}

/** The capture layer's backlog: what waits in the outbox for Redis, and how old it is. */
export function registerCaptureMetrics(registry: Registry, capture: { stats(): CaptureStats }): void {
  let stats = capture.stats();
  new Gauge({
    name: 'spike_capture_outbox_records',
    help: 'Records committed to the capture outbox and not yet acknowledged by Redis.',
    registers: [registry],
    collect() {
      stats = capture.stats();
      this.set(stats.outbox.pendingRecords);
    },
  });
  new Gauge({
    name: 'spike_capture_outbox_bytes',
    help: 'Bytes of the records waiting in the capture outbox.',
    registers: [registry],
    collect() {
      this.set(stats.outbox.pendingBytes);
    },
  });
  new Gauge({
    name: 'spike_capture_relay_lag_seconds',
    help: 'Age of the oldest record in the outbox not yet acknowledged by Redis (0 when none).',
    registers: [registry],
    collect() {
      this.set(stats.relay.lagMs / 1000);
    },
  });
  followTotal(
    registry,
    {
      name: 'spike_capture_relayed_total',
      help: 'Records the relay delivered to Redis, by kind.',
      labelNames: ['kind'],
    },
    () => [
      [{ kind: 'executions' }, stats.relay.relayed.executions],
      [{ kind: 'windows' }, stats.relay.relayed.windows],
      [{ kind: 'dead_letters' }, stats.relay.relayed.deadLetters],
    ],
  );
}

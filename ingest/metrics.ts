/**
 * The ingest worker's Prometheus metrics (common/metrics.ts), read from its own counters at each
 * scrape: records stored, dead-lettered and waiting per queue, and how fresh the stored executions
 * are — the ingest lag a dashboard watches: the age of the newest execution stored grows as soon as
 * ingest stops keeping up.
 */
import { Gauge } from 'prom-client';
import { followTotal, type Registry } from '../common/metrics.js';
import type { IngestStats } from './worker.js';

export function registerIngestMetrics(registry: Registry, ingest: { stats(): IngestStats }): void {
  let stats = ingest.stats();
  const queues = () =>
    [
      ['executions', stats.executions],
      ['metrics', stats.metrics],
    ] as const;
  followTotal(
    registry,
    { name: 'spike_ingest_stored_total', help: 'Records stored in ClickHouse, by queue.', labelNames: ['queue'] },
    () => {
      stats = ingest.stats();
      return queues().map(([queue, s]) => [{ queue }, s.stored]);
    },
  );
  followTotal(
    registry,
    {
      name: 'spike_ingest_dead_lettered_total',
      help: 'Records set aside in the dead-letter queue, by queue.',
      labelNames: ['queue'],
    },
    () => queues().map(([queue, s]) => [{ queue }, s.deadLettered]),
  );
  new Gauge({
    name: 'spike_ingest_pending_records',
    help: 'Records received and not yet stored or dead-lettered, by queue.',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      for (const [queue, s] of queues()) this.set({ queue }, s.pending);
    },
  });
  new Gauge({
    name: 'spike_ingest_lag_seconds',
    help: 'Freshness: age of the newest execution stored in ClickHouse (now minus its execution time).',
    registers: [registry],
    collect() {
      const newest = stats.freshness.newestExecutedAt;
      if (newest !== null) this.set(Math.max(0, Date.now() - newest) / 1000);
    },
  });
  new Gauge({
    name: 'spike_ingest_batch_lag_seconds',
    help: 'For the last batch stored: its newest execution’s execution time to stored.',
    registers: [registry],
    collect() {
      const lag = stats.freshness.lastBatchLagMs;
      if (lag !== null) this.set(lag / 1000);
    },
  });
}

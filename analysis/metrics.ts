/**
 * The analysis job's Prometheus metrics (common/metrics.ts), read from its counters at each scrape:
 * estimation runs by outcome, the published estimates' version and the last run's duration.
 */
import { Gauge } from 'prom-client';
import { followTotal, type Registry } from '../common/metrics.js';
import type { AnalysisStats } from './job.js';

export function registerAnalysisMetrics(registry: Registry, analysis: { stats(): AnalysisStats }): void {
  let stats = analysis.stats();
  followTotal(
    registry,
    {
      name: 'spike_analysis_runs_total',
      help: 'Estimation runs, by outcome: committed (a new version), empty (no data), skipped (another run held the lock), failed.',
      labelNames: ['outcome'],
    },
    () => {
      stats = analysis.stats();
      return (['committed', 'empty', 'skipped', 'failed'] as const).map((outcome) => [{ outcome }, stats[outcome]]);
    },
  );
  new Gauge({
    name: 'spike_analysis_estimates_version',
    help: 'Version of the estimates the last committed run published.',
    registers: [registry],
    collect() {
      if (stats.lastVersion !== null) this.set(stats.lastVersion);
    },
  });
  new Gauge({
    name: 'spike_analysis_last_run_duration_seconds',
    help: 'Duration of the last estimation run.',
    registers: [registry],
    collect() {
      if (stats.lastDurationMs !== null) this.set(stats.lastDurationMs / 1000);
    },
  });
}

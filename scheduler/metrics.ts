/**
 * The live scheduler's Prometheus metrics (common/metrics.ts): its decisions by outcome (a hit, or
 * why it missed: live-figures.ts), the latency of each sent decision from the tick's publication to
 * the database's answer, and its plan and estimates. Decisions and the plan are read from its
 * figures at each scrape; the latency histogram is fed by the service as each answer arrives.
 */
import { Gauge, Histogram } from 'prom-client';
import { followTotal, type Registry } from '../common/metrics.js';
import { MISSES, type DecisionOutcome } from './live-figures.js';
import type { SchedulerFigures } from './service.js';

export interface SchedulerMetrics {
  /** For `startScheduler`'s `onDecision`. */
  onDecision: (outcome: DecisionOutcome, latencyMs: number) => void;
}

/** `figures` is null while no scheduler runs (before it starts, in a run without one). */
export function registerSchedulerMetrics(registry: Registry, figures: () => SchedulerFigures | null): SchedulerMetrics {
  let current: SchedulerFigures | null = null;
  followTotal(
    registry,
    {
      name: 'spike_scheduler_decisions_total',
      help: 'Scheduling decisions intended, by outcome: hit (applied at the intended tick) or why it missed.',
      labelNames: ['outcome'],
    },
    () => {
      current = figures();
      const f = current;
      return [['hit', f?.hits ?? 0] as const, ...MISSES.map((m) => [m, f?.misses[m] ?? 0] as const)].map(
        ([outcome, n]) => [{ outcome }, n],
      );
    },
  );
  const latency = new Histogram({
    name: 'spike_scheduler_decision_latency_seconds',
    help: 'Decision latency: the database publishing a tick’s queued executions to its POST /delay answered.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  new Gauge({
    name: 'spike_scheduler_plan_size',
    help: 'Executions in the scheduler’s plan.',
    registers: [registry],
    collect() {
      if (current) this.set(current.planSize);
    },
  });
  new Gauge({
    name: 'spike_scheduler_estimates_version',
    help: 'Version of the cost estimates the scheduler uses (absent before the first).',
    registers: [registry],
    collect() {
      if (current?.estimatesVersion != null) this.set(current.estimatesVersion);
    },
  });
  return { onDecision: (_outcome, latencyMs) => latency.observe(latencyMs / 1000) };
}

/**
 * The simulated load of one benchmark step: database options whose expected executions per second
 * equal a target. Real time and virtual time coincide (ticks are wall-clock numbered and paced by
 * the real-time driver), so `executed_at` is when the execution really ran and freshness
 * (`inserted_at − executed_at`) is real. A flat traffic curve keeps the rate constant over the step;
 * the probability scale is solved against the catalog, counting the per-query cap at 1 per tick.
 */
import { createCatalog } from '../../server/catalog.js';
import { DEFAULT_SIMULATION, type SimulationOptions } from '../../server/options.js';

export class UnreachableRateError extends Error {
  override readonly name = 'UnreachableRateError';
}

export interface LoadShape {
  options: Omit<SimulationOptions, 'startTick' | 'startTime'>;
  /** Expected executions per tick and per second. */
  perTick: number;
  perSecond: number;
}

/** Expected executions per tick at `scale` (traffic scale 1): Σ min(1, p_i · scale). */
function expectedPerTick(probabilities: readonly number[], scale: number): number {
  let sum = 0;
  for (const p of probabilities) sum += Math.min(1, p * scale);
  return sum;
}

export function loadShape(p: { seed: string; perSecond: number; tickMs: number; queryCount: number }): LoadShape {
  const perTick = (p.perSecond * p.tickMs) / 1000;
  const probabilities = createCatalog(p.seed, p.queryCount).map((q) => q.probability);
  // Each query runs at most once per tick, so no scale reaches more than queryCount per tick.
  if (perTick >= p.queryCount * 0.9) {
    throw new UnreachableRateError(
      `${p.perSecond} executions/s needs ${perTick} per ${p.tickMs} ms tick, too close to the ${p.queryCount} queries of the catalog: raise --query-count or lower --tick-ms`,
    );
  }
  let lo = 0;
  let hi = 1;
  while (expectedPerTick(probabilities, hi) < perTick) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (expectedPerTick(probabilities, mid) < perTick) lo = mid;
    else hi = mid;
  }
  const options = {
    ...DEFAULT_SIMULATION,
    seed: p.seed,
    queryCount: p.queryCount,
    probabilityScale: hi,
    tickMs: p.tickMs,
    // 1-second windows, as in production.
    metricsWindowTicks: Math.max(1, Math.round(1000 / p.tickMs)),
    traffic: { ...DEFAULT_SIMULATION.traffic, base: 1, amplitude: 0 },
  };
  return { options, perTick, perSecond: p.perSecond };
}

/**
 * How often two executions could share an in-band window as single-execution ticks: the share of
 * pairs of executions, drawn as traffic draws them (query i with weight p_i), whose costs are
 * within a factor (1 + b)/(1 − b) of each other on every resource. A window of ten one-execution
 * ticks is in band only if every pair of its ticks is compatible in that sense, so at loads near one
 * execution per tick this share says how rarely that happens. A measurement of the catalog, not a
 * bound: ticks of two or more executions mix costs (count-bound.ts is the proven statement).
 */
import type { TrueQuery } from '../../common/contracts.js';

export function pairCompatibility(catalog: readonly TrueQuery[], band: number): number {
  const limit = (1 + band) / (1 - band);
  const ok = (a: number, b: number) => Math.max(a, b) <= limit * Math.min(a, b);
  let total = 0;
  let compatible = 0;
  for (const i of catalog) {
    for (const j of catalog) {
      const w = i.probability * j.probability;
      total += w;
      if (ok(i.cpu, j.cpu) && ok(i.io, j.io) && ok(i.memory, j.memory)) compatible += w;
    }
  }
  return total > 0 ? compatible / total : Number.NaN;
}

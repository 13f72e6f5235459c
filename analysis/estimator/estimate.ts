/**
 * One estimation: the sufficient statistics from ClickHouse (blocks.ts), the solve (solve.ts), and
 * prior-only rows for queries that have run but have no window in the regression yet (they ran
 * after the settle horizon): they exist, so the scheduler gets an explicit "prior" for them with 0
 * observations. Reads stored executions and windows only; never ground truth.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../../common/logger.js';
import { collectStats, type CollectResult } from './blocks.js';
import { solveCosts, Z95, type CostSolution, type QueryEstimate, type SolveOptions } from './solve.js';
import { timeSlicer } from './pause.js';
import type { TotalMethod } from './sql.js';
import type { SufficientStats, Triple } from './stats.js';

/**
 * Runs the solve on collected statistics. In process by default (time-sliced, see pause.ts); the
 * embedded system hands it to a worker thread instead (system/worker-tasks.ts), so the math never
 * holds the event loop that also runs the database's ticks.
 */
export type SolveCostsFn = (stats: SufficientStats, options: SolveOptions) => Promise<CostSolution>;

export const solveInProcess: SolveCostsFn = (stats, options) => solveCosts(stats, options, timeSlicer());

export interface EstimatorOptions {
  method: TotalMethod;
  blockWindows: number;
  settleMs: number;
  /** Rows inserted this long before the previous run started are looked at again (blocks.ts). */
  insertMarginMs: number;
  blocksPerInsert: number;
  denseLimit: number;
}

export interface EstimateResult {
  /** Names the model and the total reconstruction, e.g. `ridge-eb/bounds`. */
  method: string;
  solution: CostSolution;
  horizon: CollectResult['horizon'];
  blocks: CollectResult['blocks'];
  /**
   * Wall times, and the process CPU time the solve used: on a shared machine the wall time also
   * counts waiting for a core, the CPU time is what the (single-threaded) solve costs. With the
   * solve in a worker thread the process CPU time also counts the main thread's work meanwhile.
   */
  timings: { collectMs: number; solveMs: number; solveCpuMs: number; steps: CollectResult['timings'] };
}

export async function estimateCosts(
  client: ClickHouseClient,
  params: {
    database: string;
    options: EstimatorOptions;
    version: number;
    incremental: boolean;
    logger: Logger;
    solve?: SolveCostsFn;
  },
): Promise<EstimateResult> {
  const { options } = params;
  const started = performance.now();
  const collected = await collectStats(client, {
    database: params.database,
    method: options.method,
    blockWindows: options.blockWindows,
    settleMs: options.settleMs,
    insertMarginMs: options.insertMarginMs,
    blocksPerInsert: options.blocksPerInsert,
    incremental: params.incremental,
    version: params.version,
    logger: params.logger,
  });
  const collectedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const solve = params.solve ?? solveInProcess;
  const solution = await solve(collected.stats, { denseLimit: options.denseLimit });
  if (solution.estimates.length > 0) {
    for (const queryId of [...collected.recentQueries.keys()].sort()) {
      solution.estimates.push(priorEstimate(queryId, solution.prior));
    }
  }
  return {
    method: `ridge-eb/${options.method}`,
    solution,
    horizon: collected.horizon,
    blocks: collected.blocks,
    timings: {
      collectMs: collectedAt - started,
      solveMs: performance.now() - collectedAt,
      solveCpuMs: cpuMs(process.cpuUsage(cpuBefore)),
      steps: collected.timings,
    },
  };
}

/** The estimate of a query without observations: the prior, with its spread as uncertainty. */
export function priorEstimate(queryId: string, prior: CostSolution['prior']): QueryEstimate {
  const { mean, sd } = prior;
  const lower = mean.map((m, r) => Math.max(0, m - Z95 * sd[r]!)) as Triple;
  const upper = mean.map((m, r) => m + Z95 * sd[r]!) as Triple;
  return { queryId, mean: [...mean], sd: [...sd], lower, upper, observations: 0, windows: 0, prior: true };
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

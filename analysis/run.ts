/**
 * One estimation run, start to commit: allocate a version, estimate (incremental statistics in
 * ClickHouse + the solve), write the rows, check that this run may still commit (the lock), write
 * the version row. Each step's failure becomes an AnalysisRunError naming the step; nothing written
 * before the version row is ever read, so the previous version stays in force.
 *
 * Used by the periodic job (with the lock and the announcement around it) and by the accuracy
 * evaluation (without Redis), so both exercise the same path into the same tables.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../common/logger.js';
import { AnalysisRunError } from './errors.js';
import { estimateCosts, type EstimateResult, type EstimatorOptions, type SolveCostsFn } from './estimator/estimate.js';
import { estimateRows, versionRow, type EstimatesSink } from './estimates-writer.js';
import { nextVersion } from './version.js';

export interface RunParams {
  client: ClickHouseClient;
  database: string;
  estimator: EstimatorOptions;
  sink: EstimatesSink;
  logger: Logger;
  /** Throws when the run may no longer commit (e.g. it lost its lock). Runs before the version row. */
  beforeCommit?: () => Promise<void>;
  /** Where the solve runs (estimate.ts); default in process. */
  solve?: SolveCostsFn;
}

export type RunOutcome =
  | {
      status: 'committed';
      version: number;
      computedAt: number;
      queries: number;
      durationMs: number;
      result: EstimateResult;
    }
  /** Nothing to estimate yet (no window with executions): no version is written. */
  | { status: 'empty'; durationMs: number };

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AnalysisRunError) throw err;
    throw new AnalysisRunError(name, err instanceof Error ? err.message : String(err), { cause: err });
  }
}

export async function runEstimation(p: RunParams): Promise<RunOutcome> {
  const started = performance.now();
  const computedAt = Date.now();
  const version = await step('allocating a version', () => nextVersion(p.client, p.database, computedAt));
  const result = await step('estimating', () =>
    estimateCosts(p.client, {
      database: p.database,
      options: p.estimator,
      version,
      incremental: true,
      logger: p.logger,
      ...(p.solve ? { solve: p.solve } : {}),
    }),
  );
  if (result.solution.estimates.length === 0) return { status: 'empty', durationMs: performance.now() - started };
  await step('writing estimates', () => p.sink.insertEstimates(estimateRows(version, computedAt, result)));
  if (p.beforeCommit) await step('checking the lock', p.beforeCommit);
  const durationMs = performance.now() - started;
  await step('committing the version', () => p.sink.insertVersion(versionRow(version, computedAt, result, durationMs)));
  return { status: 'committed', version, computedAt, queries: result.solution.estimates.length, durationMs, result };
}

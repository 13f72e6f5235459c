/**
 * The analysis component: per-query cost estimation by regression (SQL in ClickHouse, a small solve
 * here) and the periodic job that versions and announces the estimates. What the scheduler needs of
 * it is a contract, not this component: the estimates tables and their reader (clickhouse/estimates.ts)
 * and the announcement channel (common/estimates-channel.ts). Other components import from here only.
 */
export { AnalysisClosedError, AnalysisRunError, LockLostError, SolveError } from './errors.js';
export {
  estimateCosts,
  priorEstimate,
  solveInProcess,
  type EstimateResult,
  type EstimatorOptions,
  type SolveCostsFn,
} from './estimator/estimate.js';
export { collectStats, layoutOf, type CollectOptions, type CollectResult } from './estimator/blocks.js';
export { solveCosts, Z95, type CostSolution, type QueryEstimate, type SolveOptions } from './estimator/solve.js';
export { TOTAL_METHODS, type TotalMethod } from './estimator/sql.js';
export {
  WindowStatsAccumulator,
  windowTotal,
  type WindowAggregate,
  type WindowTotal,
} from './estimator/window-stats.js';
export type { SufficientStats } from './estimator/stats.js';
export { ClickHouseEstimatesSink, estimateRows, versionRow, type EstimatesSink } from './estimates-writer.js';
export {
  JOB_SCHEDULER_ID,
  QUEUE_ANALYSIS,
  startAnalysis,
  type AnalysisHandle,
  type AnalysisStats,
  type RunResult,
  type StartAnalysisParams,
} from './job.js';
export { RedisLock, type HeldLock } from './lock.js';
export {
  analysisOptions,
  analysisSettings,
  compileAnalysisOptions,
  compileEstimatorOptions,
  estimatorOptions,
  estimatorSettings,
  type AnalysisOptions,
  type AnalysisSettingValues,
  type EstimatorSettingValues,
} from './options.js';
export { runEstimation, type RunOutcome, type RunParams } from './run.js';
export { nextVersion } from './version.js';
export { registerAnalysisMetrics } from './metrics.js';

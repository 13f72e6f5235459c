/**
 * The scheduler's public surface: the pure policy (used live and by the lab) and the live service
 * that drives it from the queued-events stream.
 */
export { Policy, type PolicyState, type SnapshotItem } from './policy.js';
export type { Decision, SchedulingPolicy } from './decision.js';
export {
  oracleCostModel,
  priorOnlyCostModel,
  type CostEstimate,
  type CostModel,
  type CostVector,
} from './cost-model.js';
export { compilePolicyOptions, policyOptions, policySettings, type PolicyOptions } from './options.js';
export {
  startScheduler,
  type SchedulerFigures,
  type SchedulerHandle,
  type SchedulerState,
  type StartSchedulerParams,
} from './service.js';
export {
  compileServiceOptions,
  schedulerServiceSettings,
  type SchedulerServiceOptions,
  type SchedulerServiceSettingValues,
} from './service-options.js';
export { clickHouseEstimates, SwappableCostModel, truthEstimates, type EstimateSource } from './estimate-source.js';
export { DatabaseUnavailableError, PolicyClockError, SchedulerInputError } from './errors.js';
export { registerSchedulerMetrics, type SchedulerMetrics } from './metrics.js';

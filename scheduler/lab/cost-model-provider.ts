/**
 * Where `policy-estimated` gets its costs. The lab calls the provider once per run with what any
 * component could know without ground truth, feeds it every executed and window event of that run
 * as they happen (learning from the run's own history, cold start included), and hands it to the
 * policy as its cost model.
 *
 * Two estimators (lab flag `--estimator`):
 *  - `product` (default): the product's own estimator, as the analysis job runs it
 *    (product-estimator.ts);
 *  - `window-regression`: the lab's own online Kalman filter on the same window totals
 *    (window-regression.ts), kept for comparison.
 */
import type { SimulationOptions } from '../../server/options.js';
import type { CostModel } from '../cost-model.js';
import { DEFAULT_PRODUCT_ESTIMATOR, ProductEstimator, type ProductEstimatorOptions } from './product-estimator.js';
import type { EventObserver } from './run.js';
import { WindowRegression } from './window-regression.js';

export interface CostModelContext {
  /** The simulation's parameters (not its ground truth). */
  simulation: SimulationOptions;
}

export type LearningCostModel = CostModel & EventObserver & { readonly name: string };

export type CostModelProvider = (context: CostModelContext) => LearningCostModel;

export const ESTIMATOR_NAMES = ['product', 'window-regression'] as const;
export type EstimatorName = (typeof ESTIMATOR_NAMES)[number];

export const windowRegressionProvider: CostModelProvider = () => new WindowRegression({ priorMean: 47, priorSd: 12 });

/** The product's estimator; options default to the analysis job's (interval, settle, method, solve). */
export function productEstimatorProvider(
  options: Partial<Omit<ProductEstimatorOptions, 'windowTicks'>> = {},
): CostModelProvider {
  return ({ simulation }) =>
    new ProductEstimator({ ...DEFAULT_PRODUCT_ESTIMATOR, ...options, windowTicks: simulation.metricsWindowTicks });
}

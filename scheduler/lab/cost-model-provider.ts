/**
 * Where `policy-estimated` gets its costs: a hook the product's estimator plugs into. The lab calls
 * the provider once per run with what any component could know without ground truth, feeds it
 * every executed and window event of that run as they happen (learning from the run's own history,
 * cold start included), and hands it to the policy as its cost model.
 *
 * Until the product's estimator is connected, the default is the lab's `window-regression`.
 */
import type { SimulationOptions } from '../../server/options.js';
import type { CostModel } from '../cost-model.js';
import type { EventObserver } from './run.js';
import { WindowRegression } from './window-regression.js';

export interface CostModelContext {
  /** The simulation's parameters (not its ground truth). */
  simulation: SimulationOptions;
}

export type LearningCostModel = CostModel & EventObserver & { readonly name: string };

export type CostModelProvider = (context: CostModelContext) => LearningCostModel;

export const windowRegressionProvider: CostModelProvider = () => new WindowRegression({ priorMean: 47, priorSd: 12 });

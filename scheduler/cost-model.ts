/**
 * What the policy needs to know about query costs, and where it may get it from. The policy never
 * reads ground truth itself: it is handed a `CostModel`. In the product that is the analysis job's
 * latest estimates; in the lab it is either the oracle below (true costs, for comparison) or an
 * estimator that learns from the run's own events.
 */
import type { TrueQuery } from '../common/contracts.js';

/** A cost per resource, in the database's cost units per execution. */
export interface CostVector {
  cpu: number;
  io: number;
  memory: number;
}

export interface CostEstimate extends CostVector {
  /** Standard deviation of each component; absent means "exact" (0). */
  sd?: CostVector;
  /** How many executions (or windows) the estimate rests on; informative only. */
  observations: number;
}

export interface CostModel {
  /** The current estimate for a query, or undefined when the model has never seen it (the policy then uses its prior). */
  cost(queryId: string): CostEstimate | undefined;
}

/** Knows every true cost, exactly: for evaluation only (needs the simulator's ground truth). */
export function oracleCostModel(truth: readonly TrueQuery[]): CostModel {
  const byId = new Map<string, CostEstimate>(
    truth.map((q) => [q.id, { cpu: q.cpu, io: q.io, memory: q.memory, observations: Number.POSITIVE_INFINITY }]),
  );
  return { cost: (queryId) => byId.get(queryId) };
}

/** Knows nothing: every query gets the policy's prior. The lower reference for estimated costs. */
export const priorOnlyCostModel: CostModel = { cost: () => undefined };

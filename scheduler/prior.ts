/**
 * Turns cost-model answers into (mean, variance) vectors for the policy, with a prior for queries
 * the model has never seen: the arrival-weighted mean of the known estimates (what an unknown
 * query most likely costs, given the traffic), or the configured prior until anything is known,
 * with the configured spread of costs across queries as its uncertainty.
 */
import type { Vec3 } from './arrival-rate.js';
import type { CostModel, CostVector } from './cost-model.js';

export interface CostBelief {
  mean: Vec3;
  variance: Vec3;
  /** True when the model had no estimate and the prior was used. */
  prior: boolean;
}

export class CostPrior {
  private readonly knownSum: Vec3 = [0, 0, 0];
  private knownCount = 0;

  constructor(
    private readonly fallback: CostVector,
    private readonly sd: number,
  ) {}

  /** The prior mean right now. */
  mean(): Vec3 {
    if (this.knownCount === 0) return [this.fallback.cpu, this.fallback.io, this.fallback.memory];
    return [this.knownSum[0] / this.knownCount, this.knownSum[1] / this.knownCount, this.knownSum[2] / this.knownCount];
  }

  /**
   * The belief about one query. `learn` adds a known estimate to the prior's mean (done once per
   * arrival, so frequent queries weigh as much as they load the database).
   */
  belief(model: CostModel, queryId: string, learn: boolean): CostBelief {
    const c = model.cost(queryId);
    if (!c) {
      const v = this.sd * this.sd;
      return { mean: this.mean(), variance: [v, v, v], prior: true };
    }
    const mean: Vec3 = [nonNegative(c.cpu), nonNegative(c.io), nonNegative(c.memory)];
    if (learn) {
      for (let r = 0; r < 3; r++) this.knownSum[r]! += mean[r]!;
      this.knownCount++;
    }
    const sd = c.sd;
    const variance: Vec3 = sd
      ? [nonNegative(sd.cpu) ** 2, nonNegative(sd.io) ** 2, nonNegative(sd.memory) ** 2]
      : [0, 0, 0];
    return { mean, variance, prior: false };
  }
}

/** A cost is never negative; a non-finite estimate is treated as unknown-but-zero rather than poisoning sums. */
function nonNegative(x: number): number {
  return Number.isFinite(x) && x > 0 ? x : 0;
}

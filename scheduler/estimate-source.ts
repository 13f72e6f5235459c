/**
 * The live scheduler's cost model: the analysis job's latest estimates, swapped in whole when a new
 * version is announced (or on a timer, in case an announcement was missed while Redis was away).
 * A query without a row gets the policy's prior; a row that is the estimator's prior (seen, not yet
 * in the regression) carries the learned prior mean and its spread.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { TrueQuery } from '../common/contracts.js';
import { loadLatestEstimates, type LatestEstimates } from '../clickhouse/estimates.js';
import type { CostEstimate, CostModel } from './cost-model.js';

/** Where the estimates come from (ClickHouse in the product; a fixed table in tests and tools). */
export interface EstimateSource {
  /** The latest complete version, or null before the first analysis run. */
  load(): Promise<LatestEstimates | null>;
}

export class SwappableCostModel implements CostModel {
  private costs: ReadonlyMap<string, CostEstimate> = new Map();
  private _version: number | null = null;

  get version(): number | null {
    return this._version;
  }

  cost(queryId: string): CostEstimate | undefined {
    return this.costs.get(queryId);
  }

  /** Installs a version; returns false when it is not newer than the one in use. */
  install(latest: LatestEstimates | null): boolean {
    if (!latest || (this._version !== null && latest.version <= this._version)) return false;
    this.costs = latest.costs;
    this._version = latest.version;
    return true;
  }
}

/** The product's source: the `estimates` tables in ClickHouse, as the analysis job writes them. */
export function clickHouseEstimates(client: ClickHouseClient, database: string): EstimateSource {
  return { load: () => loadLatestEstimates(client, database) };
}

/**
 * For evaluation only: the simulator's ground truth (`GET /truth`) as an estimates version with no
 * uncertainty, so a measurement isolates the live machinery from estimation.
 */
export function truthEstimates(queries: readonly TrueQuery[]): LatestEstimates {
  const zero = { cpu: 0, io: 0, memory: 0 };
  return {
    version: 1,
    computedAt: Date.now(),
    method: 'truth',
    prior: { ...zero, sd: zero },
    costs: new Map(
      queries.map((q) => {
        const c = { cpu: q.cpu, io: q.io, memory: q.memory };
        return [q.id, { ...c, sd: zero, lower: c, upper: c, observations: Number.POSITIVE_INFINITY, prior: false }];
      }),
    ),
  };
}

/**
 * Writes one version of the estimates (row shapes: clickhouse/estimates.ts): every row of `estimates` first, then the single
 * `estimate_versions` row that makes the version current (migration 010). A failure anywhere before
 * that last insert leaves the previous version in force; the rows already written are never read.
 *
 * The inserts go through an `EstimatesSink` so that a test can inject an insert failure (a fault we
 * cannot otherwise provoke on demand in an embedded ClickHouse).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { EstimateRow, VersionRow } from '../clickhouse/estimates.js';
import type { EstimateResult } from './estimator/estimate.js';

export interface EstimatesSink {
  insertEstimates(rows: readonly EstimateRow[]): Promise<void>;
  insertVersion(row: VersionRow): Promise<void>;
}

const SYNC = { async_insert: 0 } as const;

/** The product's sink: synchronous inserts, visible on return. */
export class ClickHouseEstimatesSink implements EstimatesSink {
  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  async insertEstimates(rows: readonly EstimateRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 10_000) {
      await this.client.insert({
        table: `${this.database}.estimates`,
        values: rows.slice(i, i + 10_000),
        format: 'JSONEachRow',
        clickhouse_settings: SYNC,
      });
    }
  }

  async insertVersion(row: VersionRow): Promise<void> {
    await this.client.insert({
      table: `${this.database}.estimate_versions`,
      values: [row],
      format: 'JSONEachRow',
      clickhouse_settings: SYNC,
    });
  }
}

export function estimateRows(version: number, computedAt: number, result: EstimateResult): EstimateRow[] {
  return result.solution.estimates.map((e) => ({
    version,
    computed_at: computedAt,
    query_id: e.queryId,
    cpu: e.mean[0],
    io: e.mean[1],
    memory: e.mean[2],
    cpu_sd: e.sd[0],
    io_sd: e.sd[1],
    memory_sd: e.sd[2],
    cpu_lower: e.lower[0],
    cpu_upper: e.upper[0],
    io_lower: e.lower[1],
    io_upper: e.upper[1],
    memory_lower: e.lower[2],
    memory_upper: e.upper[2],
    observations: e.observations,
    windows: e.windows,
    prior: e.prior ? 1 : 0,
    method: result.method,
  }));
}

export function versionRow(
  version: number,
  computedAt: number,
  result: EstimateResult,
  durationMs: number,
): VersionRow {
  const s = result.solution;
  return {
    version,
    computed_at: computedAt,
    method: result.method,
    queries: s.estimates.length,
    windows: s.windows,
    executions: s.executions,
    inconsistent_windows: s.inconsistentWindows,
    noise_cpu: s.noise.sd[0],
    noise_io: s.noise.sd[1],
    noise_memory: s.noise.sd[2],
    prior_cpu: s.prior.mean[0],
    prior_io: s.prior.mean[1],
    prior_memory: s.prior.mean[2],
    prior_sd_cpu: s.prior.sd[0],
    prior_sd_io: s.prior.sd[1],
    prior_sd_memory: s.prior.sd[2],
    blocks_reused: result.blocks.reused,
    blocks_computed: result.blocks.computed,
    duration_ms: Math.round(durationMs),
  };
}

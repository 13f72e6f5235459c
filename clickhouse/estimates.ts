/**
 * The estimates contract between the analysis job (which writes them) and the scheduler and reports
 * (which read them): the rows of `estimates` and `estimate_versions` (migration 010) and the reader.
 * It lives with the schema so neither side imports the other's internals.
 *
 * Current = the largest version that has its `estimate_versions` row (written last by a successful
 * run), so a reader never sees a half-written version. `loadLatestEstimates` returns null before the
 * first successful run.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { InvalidArgumentError } from '../common/errors.js';
import { IDENTIFIER } from './client.js';

/** A row of `estimates`. */
export interface EstimateRow {
  version: number;
  computed_at: number;
  query_id: string;
  cpu: number;
  io: number;
  memory: number;
  cpu_sd: number;
  io_sd: number;
  memory_sd: number;
  cpu_lower: number;
  cpu_upper: number;
  io_lower: number;
  io_upper: number;
  memory_lower: number;
  memory_upper: number;
  observations: number;
  windows: number;
  prior: number;
  method: string;
}

/** A row of `estimate_versions`. */
export interface VersionRow {
  version: number;
  computed_at: number;
  method: string;
  queries: number;
  windows: number;
  executions: number;
  inconsistent_windows: number;
  noise_cpu: number;
  noise_io: number;
  noise_memory: number;
  prior_cpu: number;
  prior_io: number;
  prior_memory: number;
  prior_sd_cpu: number;
  prior_sd_io: number;
  prior_sd_memory: number;
  blocks_reused: number;
  blocks_computed: number;
  duration_ms: number;
}

export interface ResourceValues {
  cpu: number;
  io: number;
  memory: number;
}

/** One query's estimated cost per execution, per resource (structurally a scheduler CostEstimate). */
export interface LoadedEstimate extends ResourceValues {
  /** Posterior standard deviation per resource. */
  sd: ResourceValues;
  /** The 95 % interval. */
  lower: ResourceValues;
  upper: ResourceValues;
  /** Executions the estimate rests on (0: prior only). */
  observations: number;
  /** True when the value is the prior (no usable observation yet). */
  prior: boolean;
}

export interface LatestEstimates {
  version: number;
  computedAt: number;
  method: string;
  costs: Map<string, LoadedEstimate>;
  /** For a query that is not in `costs` (never seen): the prior mean and its sd. */
  prior: ResourceValues & { sd: ResourceValues };
}

/** The columns read back: a row of `estimates` as defined above (64-bit counts may come back as text). */
type Row = Omit<EstimateRow, 'version' | 'computed_at' | 'observations' | 'windows' | 'method'> & {
  observations: number | string;
};

/** The columns of `estimate_versions` read back (64-bit and time columns may come back as text). */
type VersionInfo = Pick<
  VersionRow,
  'method' | 'prior_cpu' | 'prior_io' | 'prior_memory' | 'prior_sd_cpu' | 'prior_sd_io' | 'prior_sd_memory'
> & { version: number | string; computed_at: number | string };

export async function loadLatestEstimates(client: ClickHouseClient, database: string): Promise<LatestEstimates | null> {
  if (!IDENTIFIER.test(database))
    throw new InvalidArgumentError('database', `not an identifier: ${JSON.stringify(database)}`);
  const vs = await client.query({
    query: `SELECT version, toUnixTimestamp64Milli(computed_at) AS computed_at, method, prior_cpu, prior_io, prior_memory,
        prior_sd_cpu, prior_sd_io, prior_sd_memory
      FROM ${database}.estimate_versions FINAL ORDER BY version DESC LIMIT 1`,
    format: 'JSONEachRow',
  });
  const [v] = await vs.json<VersionInfo>();
  if (!v) return null;
  const version = Number(v.version);
  const rs = await client.query({
    query: `SELECT toString(query_id) AS query_id, cpu, io, memory, cpu_sd, io_sd, memory_sd, cpu_lower, cpu_upper,
        io_lower, io_upper, memory_lower, memory_upper, observations, prior
      FROM ${database}.estimates FINAL WHERE version = {version:UInt64}`,
    query_params: { version },
    format: 'JSONEachRow',
  });
  const costs = new Map<string, LoadedEstimate>();
  for (const r of await rs.json<Row>()) {
    costs.set(r.query_id, {
      cpu: r.cpu,
      io: r.io,
      memory: r.memory,
      sd: { cpu: r.cpu_sd, io: r.io_sd, memory: r.memory_sd },
      lower: { cpu: r.cpu_lower, io: r.io_lower, memory: r.memory_lower },
      upper: { cpu: r.cpu_upper, io: r.io_upper, memory: r.memory_upper },
      observations: Number(r.observations),
      prior: Number(r.prior) === 1,
    });
  }
  return {
    version,
    computedAt: Number(v.computed_at),
    method: v.method,
    costs,
    prior: {
      cpu: v.prior_cpu,
      io: v.prior_io,
      memory: v.prior_memory,
      sd: { cpu: v.prior_sd_cpu, io: v.prior_sd_io, memory: v.prior_sd_memory },
    },
  };
}

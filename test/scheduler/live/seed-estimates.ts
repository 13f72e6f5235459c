/**
 * Run as a child process (chDB allows one process per data directory): writes one version of
 * estimates — the costs given as JSON on stdin — into the ClickHouse data directory in argv[2],
 * the way the analysis job writes them (rows first, then the version row).
 * Usage: node --import tsx seed-estimates.ts <data dir> < costs.json
 */
import { readFileSync } from 'node:fs';
import { silentLogger } from '../../../common/logger.js';
import { createClickHouse } from '../../../clickhouse/client.js';
import { migrate } from '../../../clickhouse/migrate.js';
import { ClickHouseEstimatesSink } from '../../../analysis/estimates-writer.js';
import type { EstimateRow } from '../../../clickhouse/estimates.js';

interface Cost {
  id: string;
  cpu: number;
  io: number;
  memory: number;
}

const costs = JSON.parse(readFileSync(0, 'utf8')) as Cost[];
const client = createClickHouse({ kind: 'embedded', dataPath: process.argv[2]! });
await migrate(client, { database: 'spike', retentionDays: 30, logger: silentLogger });
const sink = new ClickHouseEstimatesSink(client, 'spike');
const now = Date.now();
const rows: EstimateRow[] = costs.map((c) => ({
  version: 1,
  computed_at: now,
  query_id: c.id,
  cpu: c.cpu,
  io: c.io,
  memory: c.memory,
  cpu_sd: 0.5,
  io_sd: 0.5,
  memory_sd: 0.5,
  cpu_lower: c.cpu - 1,
  cpu_upper: c.cpu + 1,
  io_lower: c.io - 1,
  io_upper: c.io + 1,
  memory_lower: c.memory - 1,
  memory_upper: c.memory + 1,
  observations: 1000,
  windows: 100,
  prior: 0,
  method: 'seeded',
}));
await sink.insertEstimates(rows);
const zero = { noise_cpu: 0, noise_io: 0, noise_memory: 0 };
await sink.insertVersion({
  version: 1,
  computed_at: now,
  method: 'seeded',
  queries: rows.length,
  windows: 100,
  executions: 1000,
  inconsistent_windows: 0,
  ...zero,
  prior_cpu: 47,
  prior_io: 47,
  prior_memory: 47,
  prior_sd_cpu: 12,
  prior_sd_io: 12,
  prior_sd_memory: 12,
  blocks_reused: 0,
  blocks_computed: 0,
  duration_ms: 0,
});
await client.close();

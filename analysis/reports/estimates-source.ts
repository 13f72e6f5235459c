/**
 * The estimates in force, for the report: the newest committed version (`estimate_versions`,
 * migration 010) and its rows, one per query with the three resources side by side, turned into
 * one record per query and resource. The report must open before the first analysis run and on a
 * database that predates migration 010, so "no table", "no version yet" and "cannot read it" are
 * outcomes with a message, not errors.
 */
import { RESOURCES } from '../../common/contracts.js';
import type { Logger } from '../../common/logger.js';
import type { QueryResult } from '../../clickhouse/read-only.js';
import { num, objects, str, type EstimateRecord } from './records.js';
import { reportTables, tableExistsSql } from './sql.js';

export type EstimatesLoad =
  | { status: 'ok'; version: number; computedAt: number; method: string; rows: EstimateRecord[] }
  | { status: 'missing' | 'empty' | 'unreadable'; message: string };

const REQUIRED_TABLES = ['estimates', 'estimate_versions'] as const;

export async function loadEstimates(
  query: (sql: string) => Promise<QueryResult>,
  database: string,
  logger: Logger,
): Promise<EstimatesLoad> {
  const t = reportTables(database);
  try {
    for (const table of REQUIRED_TABLES) {
      const [row] = objects(await query(tableExistsSql(database, table)));
      if (!row || num(row, 'n') === 0) {
        return {
          status: 'missing',
          message: `no estimates yet: ${t.database}.${table} does not exist (the analysis job has not run here)`,
        };
      }
    }
    const [head] = objects(
      await query(`SELECT version, toUnixTimestamp64Milli(computed_at) AS computed_at, toString(method) AS method
FROM ${t.database}.estimate_versions FINAL ORDER BY version DESC LIMIT 1`),
    );
    if (!head) return { status: 'empty', message: 'no estimates yet: the analysis job has not committed a version' };
    const version = num(head, 'version');
    // The version read above, not "the latest" again: a version committed in between must not mix in.
    const result = await query(`SELECT toString(query_id) AS query_id, cpu, io, memory, cpu_sd, io_sd, memory_sd,
  cpu_lower, cpu_upper, io_lower, io_upper, memory_lower, memory_upper, observations, prior
FROM ${t.database}.estimates FINAL
WHERE version = ${version}
ORDER BY observations DESC, query_id`);
    const rows: EstimateRecord[] = objects(result).flatMap((r) =>
      RESOURCES.map((resource) => ({
        queryId: str(r, 'query_id'),
        resource,
        estimate: num(r, resource),
        sd: num(r, `${resource}_sd`, 0),
        lower: num(r, `${resource}_lower`),
        upper: num(r, `${resource}_upper`),
        observations: num(r, 'observations'),
        prior: num(r, 'prior', 0) === 1,
      })),
    );
    if (rows.length === 0) return { status: 'empty', message: `no estimates yet: version ${version} holds no rows` };
    return { status: 'ok', version, computedAt: num(head, 'computed_at'), method: str(head, 'method'), rows };
  } catch (err) {
    // The rest of the report is still worth writing; the section says why it is empty.
    logger.warn({ err }, 'report: estimates could not be read');
    return { status: 'unreadable', message: `estimates could not be read: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * The ClickHouse layer: connection (embedded chDB or a server), schema migrations and retention,
 * row mapping, inserts and the counting queries. Components import from here only.
 */
export {
  IDENTIFIER,
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
  type ClickHouseClient,
  type ClickHouseOptions,
  type ClickHouseTarget,
} from './client.js';
export {
  ClickHouseDataLockedError,
  ClickHouseEngineBusyError,
  InvalidRecordError,
  MigrationChecksumError,
  MigrationError,
} from './errors.js';
export { classifyFailure, clickHouseErrorType, describeFailure, type FailureKind } from './failures.js';
export {
  MIGRATIONS_DIR,
  loadMigrations,
  migrate,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
} from './migrate.js';
export {
  perQueryOverTimeSql,
  perWindowQueryCountsSql,
  queriesInWindowSql,
  spikiestWindowsSql,
  tableNames,
  type TableNames,
} from './queries.js';
export { RETAINED_TABLES, applyRetention, type RetentionOptions } from './retention.js';
export {
  executionRows,
  toExecutionRow,
  toRunRow,
  toWindowRow,
  windowRows,
  type ExecutionRow,
  type RunRow,
  type WindowRow,
} from './rows.js';
export {
  loadLatestEstimates,
  type EstimateRow,
  type LatestEstimates,
  type LoadedEstimate,
  type ResourceValues,
  type VersionRow,
} from './estimates.js';
export { ClickHouseStore, type Freshness, type RowSink, type StoreOptions } from './store.js';
export { checkRange, parseRecordCounts, recordCountsSql, type RecordCounts, type TickRange } from './counts.js';
export {
  KILL_GRACE_MS,
  MAX_SQL_LENGTH,
  QueryBusyError,
  QueryCancelledError,
  QueryFailedError,
  QueryLimitError,
  ReadOnlyClosedError,
  ReadOnlyViolationError,
  readOnlyLimitSettings,
  readOnlyOptions,
  readOnlyPoolSettings,
  type QueryResult,
  type ReadOnlyOptions,
  type ReadOnlyQueries,
} from './read-only.js';
export { openReadOnlyPool, ReadOnlyPool } from './read-only-pool.js';
export { openServerReadOnly } from './server-read-only.js';
export { SqlGuard, RESULT_FORMAT, clientGuardQuery, type GuardQuery } from './sql-guard/guard.js';
export { startQueryService, type QueryService } from './query-service.js';
export { SystemUnreachableError, openDirectReadOnly, openReadOnly, queryClientSettings } from './query-client.js';

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
export { executionRows, toExecutionRow, toWindowRow, windowRows, type ExecutionRow, type WindowRow } from './rows.js';
export { ClickHouseStore, type Freshness, type RowSink, type StoreOptions } from './store.js';
export { checkRange, parseRecordCounts, recordCountsSql, type RecordCounts, type TickRange } from './counts.js';
export {
  MAX_SQL_LENGTH,
  QueryFailedError,
  READ_ONLY_SETTINGS,
  ReadOnlyViolationError,
  checkReadOnly,
  queryReadOnly,
  type QueryResult,
} from './read-only.js';
export { startQueryService, type QueryService } from './query-service.js';
export { SystemUnreachableError, openReadOnly, queryClientSettings, type ReadOnlyQueries } from './query-client.js';

/**
 * Named errors of the ClickHouse layer. Callers act on the class (or its `code`): the ingest
 * workers dead-letter an `InvalidRecordError`, a component refuses to start on a `MigrationError`.
 */
import { SpikeError } from '../common/errors.js';

/** A migration file could not be read, parsed or applied. Its version was not recorded. */
export class MigrationError extends SpikeError {
  constructor(
    readonly version: number,
    readonly file: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('MIGRATION_FAILED', `migration ${file}: ${message}`, options);
  }
}

/**
 * An applied migration's file changed since it was applied. Migrations are append-only: a change
 * to an applied file would never run on databases that already have it, so the schemas would drift.
 */
export class MigrationChecksumError extends SpikeError {
  constructor(
    readonly version: number,
    readonly file: string,
    readonly recorded: string,
    readonly actual: string,
  ) {
    super(
      'MIGRATION_CHANGED',
      `migration ${file} was changed after it was applied (checksum ${recorded.slice(0, 12)} recorded, ` +
        `${actual.slice(0, 12)} now): add a new migration instead of editing an applied one`,
    );
  }
}

/** A record cannot become a row: a field is missing, of the wrong type or out of the column's range. */
export class InvalidRecordError extends SpikeError {
  constructor(
    readonly field: string,
    /** What is wrong with it, without the field name. */
    readonly detail: string,
  ) {
    super('INVALID_RECORD', `${field}: ${detail}`);
  }
}

/**
 * Embedded mode: another process holds this data directory. chDB takes an exclusive lock on
 * `<dir>/status`; only one process may open a directory at a time.
 */
export class ClickHouseDataLockedError extends SpikeError {
  constructor(
    readonly dataPath: string,
    /** The process holding it, when its status file says so. */
    readonly holderPid: number | null,
    options?: ErrorOptions,
  ) {
    super(
      'CLICKHOUSE_DATA_LOCKED',
      `the embedded ClickHouse data directory ${dataPath} is in use by another process` +
        `${holderPid === null ? '' : ` (pid ${holderPid})`}: only one process ` +
        'may open it (ask the running process, e.g. through its HTTP endpoint, or set CLICKHOUSE_URL to use a server)',
      options,
    );
  }
}

/**
 * Embedded mode: this process already has a different data directory open. chDB runs one engine
 * per process, bound to one directory until every client on it is closed.
 */
export class ClickHouseEngineBusyError extends SpikeError {
  constructor(
    readonly dataPath: string,
    options?: ErrorOptions,
  ) {
    super(
      'CLICKHOUSE_ENGINE_BUSY',
      `cannot open ${dataPath}: this process already has another embedded ClickHouse data directory open ` +
        '(one per process; close every client on it first)',
      options,
    );
  }
}

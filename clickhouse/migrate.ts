/**
 * Applies the schema: ordered SQL files `migrations/NNN_name.sql`, each applied once and recorded in
 * `<database>.schema_migrations`. Every component that needs the tables calls `migrate` at start;
 * re-running it is a no-op, and then the retention setting is applied (retention.ts).
 *
 * File format: statements separated by lines holding only `;`; `{{database}}` is replaced by the
 * configured database (validated as an identifier). Statements are written to be idempotent
 * (`IF NOT EXISTS`), for two reasons: a file that fails half-way is not recorded, so its first
 * statements run again on the next start; and two components starting at once against one server
 * may both apply a version (both record it: the table is a ReplacingMergeTree keyed by version).
 *
 * An applied file must not change afterwards (MigrationChecksumError): schema changes are new files.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { InvalidArgumentError } from '../common/errors.js';
import { IDENTIFIER } from './client.js';
import { MigrationChecksumError, MigrationError } from './errors.js';
import { applyRetention } from './retention.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface MigrateOptions {
  /** Database of the product tables (default `spike`). */
  database?: string;
  /** Days of data to keep; 0 (default) removes any TTL. `null` leaves the tables' TTL as it is. */
  retentionDays?: number | null;
  /** Directory of the `NNN_name.sql` files (default: the product's own migrations). */
  migrationsDir?: string;
  logger?: Logger;
}

export interface Migration {
  version: number;
  name: string;
  file: string;
  checksum: string;
  statements: string[];
}

export interface MigrateResult {
  /** Versions applied by this call, in order (empty when the schema was up to date). */
  applied: number[];
  /** Every version recorded after this call. */
  current: number[];
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const SEPARATOR = /^[ \t]*;[ \t]*$/m;
const TEMPLATE = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;

/** True when a statement holds nothing but comments and blanks. */
function isEmpty(statement: string): boolean {
  return statement.split('\n').every((line) => /^\s*(--.*)?$/.test(line));
}

/** Reads, orders and renders the migration files of `dir` for `database`. */
export function loadMigrations(dir: string, database: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Map<number, string>();
  return files.map((file) => {
    const match = FILE_NAME.exec(file);
    if (!match)
      throw new MigrationError(-1, file, 'file names must look like 001_name.sql (digits, _, lowercase name)');
    const version = Number(match[1]);
    const clash = seen.get(version);
    if (clash) throw new MigrationError(version, file, `version ${version} is also used by ${clash}`);
    seen.set(version, file);
    const raw = readFileSync(join(dir, file), 'utf8');
    const rendered = raw.replace(TEMPLATE, (_, name: string) => {
      if (name !== 'database') throw new MigrationError(version, file, `unknown template variable {{${name}}}`);
      return database;
    });
    const statements = rendered
      .split(SEPARATOR)
      .map((s) => s.trim())
      .filter((s) => !isEmpty(s));
    if (statements.length === 0) throw new MigrationError(version, file, 'holds no statement');
    const checksum = createHash('sha256').update(raw).digest('hex');
    return { version, name: match[2]!, file, checksum, statements };
  });
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/** Applies every pending migration in order, then the retention setting. */
export async function migrate(client: ClickHouseClient, options: MigrateOptions = {}): Promise<MigrateResult> {
  const database = options.database ?? 'spike';
  if (!IDENTIFIER.test(database))
    throw new InvalidArgumentError('database', `not an identifier: ${JSON.stringify(database)}`);
  const log = (options.logger ?? silentLogger).child({ component: 'migrate', database });
  const migrations = loadMigrations(options.migrationsDir ?? MIGRATIONS_DIR, database);

  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${database}.schema_migrations
      (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({
    query: `SELECT version, any(name) AS name, any(checksum) AS checksum
            FROM ${database}.schema_migrations GROUP BY version ORDER BY version`,
    format: 'JSONEachRow',
  });
  const recorded = new Map((await rs.json<AppliedRow>()).map((r) => [Number(r.version), r]));

  const applied: number[] = [];
  for (const m of migrations) {
    const done = recorded.get(m.version);
    if (done) {
      if (done.checksum !== m.checksum) throw new MigrationChecksumError(m.version, m.file, done.checksum, m.checksum);
      continue;
    }
    for (const [i, statement] of m.statements.entries()) {
      try {
        await client.command({ query: statement });
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new MigrationError(m.version, m.file, `statement ${i + 1} of ${m.statements.length} failed: ${why}`, {
          cause: err,
        });
      }
    }
    // Recorded only after every statement succeeded; a synchronous insert, visible on return.
    await client.insert({
      table: `${database}.schema_migrations`,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
      clickhouse_settings: { async_insert: 0 },
    });
    applied.push(m.version);
    log.info({ version: m.version, file: m.file, statements: m.statements.length }, 'migration applied');
  }
  if (applied.length === 0) log.debug({ versions: migrations.length }, 'schema up to date');

  if (options.retentionDays !== null)
    await applyRetention(client, { database, retentionDays: options.retentionDays ?? 0, logger: log });
  return { applied, current: [...new Set([...recorded.keys(), ...applied])].sort((a, b) => a - b) };
}

import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MigrationChecksumError,
  MigrationError,
  loadMigrations,
  migrate,
  MIGRATIONS_DIR,
} from '../../clickhouse/index.js';
import { openTempClickHouse, type TempClickHouse } from './helpers.js';

let ch: TempClickHouse;
const dirs: string[] = [];

beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => {
  await ch.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'spike-migrations-'));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

async function rows<T>(query: string): Promise<T[]> {
  return (await ch.client.query({ query, format: 'JSONEachRow' })).json<T>();
}

describe('migrate', () => {
  it('applies the product migrations once; running again is a no-op', async () => {
    const first = await migrate(ch.client, { database: 'spike' });
    const expected = loadMigrations(MIGRATIONS_DIR, 'spike').map((m) => m.version);
    expect(expected.length).toBeGreaterThanOrEqual(3);
    expect(first.applied).toEqual(expected);
    const second = await migrate(ch.client, { database: 'spike' });
    expect(second.applied).toEqual([]);
    expect(second.current).toEqual(expected);
    const recorded = await rows<{ version: number; n: number }>(
      'SELECT version, count() AS n FROM spike.schema_migrations GROUP BY version ORDER BY version',
    );
    expect(recorded).toEqual(expected.map((version) => ({ version, n: 1 })));
    const tables = await rows<{ name: string; engine: string }>(
      "SELECT name, engine FROM system.tables WHERE database = 'spike' ORDER BY name",
    );
    // The capture tables (later migrations add the analysis tables beside them).
    expect(tables).toEqual(
      expect.arrayContaining([
        { name: 'executions', engine: 'ReplacingMergeTree' },
        { name: 'executions_dedup', engine: 'View' },
        { name: 'schema_migrations', engine: 'ReplacingMergeTree' },
        { name: 'windows', engine: 'ReplacingMergeTree' },
        { name: 'windows_dedup', engine: 'View' },
      ]),
    );
  });

  it('keys executions by (executed_tick, execution_id) and windows by window_id, partitioned by day', async () => {
    const keys = await rows<{ name: string; sorting_key: string; partition_key: string }>(
      "SELECT name, sorting_key, partition_key FROM system.tables WHERE database = 'spike' AND name IN ('executions', 'windows') ORDER BY name",
    );
    expect(keys).toEqual([
      { name: 'executions', sorting_key: 'executed_tick, execution_id', partition_key: 'toYYYYMMDD(executed_at)' },
      { name: 'windows', sorting_key: 'window_id', partition_key: 'toYYYYMMDD(ts)' },
    ]);
  });

  it('adds the per-mover delay split to existing executions, crediting their last mover', async () => {
    // A database at version 3 (before the split existed), with one moved and one unmoved execution.
    const early = Object.fromEntries(
      readdirSync(MIGRATIONS_DIR)
        .filter((f) => /^00[1-3]_/.test(f))
        .map((f) => [f, readFileSync(join(MIGRATIONS_DIR, f), 'utf8')]),
    );
    expect((await migrate(ch.client, { database: 'split_db', migrationsDir: migrationsDir(early) })).applied).toEqual([
      1, 2, 3,
    ]);
    const old = { queued_tick: 1, executed_tick: 12, queued_at: 100, executed_at: 1200, query_id: randomUUID() };
    await ch.client.insert({
      table: 'split_db.executions',
      format: 'JSONEachRow',
      values: [
        { ...old, execution_id: randomUUID(), added_delay: 10, delay_count: 2, delayed_by: 'scheduler' },
        { ...old, execution_id: randomUUID(), added_delay: 10, delay_count: 1, delayed_by: null },
        { ...old, execution_id: randomUUID(), added_delay: 0, delay_count: 0, delayed_by: null },
      ],
    });
    expect((await migrate(ch.client, { database: 'split_db' })).applied).toContain(4);
    const split = await rows<{ parts: Record<string, number> }>(
      'SELECT added_delay_by AS parts FROM split_db.executions_dedup ORDER BY delay_count DESC',
    );
    expect(split.map((r) => r.parts)).toEqual([{ scheduler: 10 }, { '': 10 }, {}]);
  });

  it('uses a separate database when asked', async () => {
    const result = await migrate(ch.client, { database: 'other_db' });
    expect(result.applied.length).toBeGreaterThanOrEqual(3);
    const [r] = await rows<{ n: number }>(
      "SELECT count() AS n FROM system.tables WHERE database = 'other_db' AND name = 'executions'",
    );
    expect(r?.n).toBe(1);
  });

  it('sets, changes and removes the retention TTL from the setting', async () => {
    const ttl = async () =>
      (
        await rows<{ engine_full: string }>(
          "SELECT engine_full FROM system.tables WHERE database = 'spike' AND name = 'executions'",
        )
      )[0]!.engine_full;
    await migrate(ch.client, { database: 'spike', retentionDays: 30 });
    expect(await ttl()).toContain('TTL toDateTime(executed_at) + toIntervalDay(30)');
    // The reports' rollups of executions (migration 013) expire with them, by the same day.
    const rollups = await rows<{ name: string; engine_full: string }>(
      "SELECT name, engine_full FROM system.tables WHERE database = 'spike' AND name IN ('execution_buckets', 'query_buckets') ORDER BY name",
    );
    expect(rollups.map((r) => [r.name, / TTL (.+?) SETTINGS /.exec(r.engine_full)?.[1]])).toEqual([
      ['execution_buckets', 'toDateTime(day) + toIntervalDay(30)'],
      ['query_buckets', 'toDateTime(day) + toIntervalDay(30)'],
    ]);
    await migrate(ch.client, { database: 'spike', retentionDays: 7 });
    expect(await ttl()).toContain('TTL toDateTime(executed_at) + toIntervalDay(7)');
    await migrate(ch.client, { database: 'spike', retentionDays: 0 });
    expect(await ttl()).not.toContain('TTL');
  });

  it('fails on a bad statement with MigrationError and does not record its version', async () => {
    const dir = migrationsDir({
      '001_ok.sql':
        'CREATE DATABASE IF NOT EXISTS {{database}}\n;\nCREATE TABLE IF NOT EXISTS {{database}}.t (x UInt8) ENGINE = MergeTree ORDER BY x\n;\n',
      '002_bad.sql':
        '-- the second statement is not SQL\nCREATE TABLE IF NOT EXISTS {{database}}.u (x UInt8) ENGINE = MergeTree ORDER BY x\n;\nCREATE TABLEE nope\n',
    });
    const error = await migrate(ch.client, { database: 'bad_db', migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect(error).toMatchObject({ code: 'MIGRATION_FAILED', version: 2, file: '002_bad.sql' });
    expect((error as Error).message).toContain('statement 2 of 2');
    const versions = await rows<{ version: number }>('SELECT version FROM bad_db.schema_migrations ORDER BY version');
    expect(versions).toEqual([{ version: 1 }]);
    // Fixed file: the next run applies it (its first statement again, which is idempotent).
    writeFileSync(
      join(dir, '002_bad.sql'),
      'CREATE TABLE IF NOT EXISTS {{database}}.u (x UInt8) ENGINE = MergeTree ORDER BY x\n',
    );
    expect((await migrate(ch.client, { database: 'bad_db', migrationsDir: dir })).applied).toEqual([2]);
  });

  it('refuses a changed applied migration, bad file names, duplicate versions and unknown variables', async () => {
    const dir = migrationsDir({ '001_a.sql': 'CREATE DATABASE IF NOT EXISTS {{database}}\n' });
    await migrate(ch.client, { database: 'drift_db', migrationsDir: dir });
    writeFileSync(join(dir, '001_a.sql'), 'CREATE DATABASE IF NOT EXISTS {{database}} -- edited\n');
    await expect(migrate(ch.client, { database: 'drift_db', migrationsDir: dir })).rejects.toBeInstanceOf(
      MigrationChecksumError,
    );

    expect(() => loadMigrations(migrationsDir({ 'one.sql': 'SELECT 1' }), 'x')).toThrow(MigrationError);
    expect(() => loadMigrations(migrationsDir({ '001_a.sql': 'SELECT 1', '0001_b.sql': 'SELECT 2' }), 'x')).toThrow(
      /also used/,
    );
    expect(() => loadMigrations(migrationsDir({ '001_a.sql': 'SELECT {{table}}' }), 'x')).toThrow(
      /unknown template variable/,
    );
    expect(() => loadMigrations(migrationsDir({ '001_a.sql': '-- nothing\n;\n' }), 'x')).toThrow(/no statement/);
  });

  it('splits a file on lines holding only ";" and renders the database', () => {
    const [m] = loadMigrations(
      migrationsDir({ '007_two.sql': 'SELECT 1;\n  ;  \n-- note\nSELECT {{ database }}\n;\n' }),
      'db1',
    );
    expect(m).toMatchObject({ version: 7, name: 'two', statements: ['SELECT 1;', '-- note\nSELECT db1'] });
  });

  it('rejects a database name that is not an identifier', async () => {
    await expect(migrate(ch.client, { database: 'x; DROP TABLE y' })).rejects.toThrow(/not an identifier/);
  });
});

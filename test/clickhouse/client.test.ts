import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.js';
import { loadSettings } from '../../common/settings.js';
import {
  ClickHouseEngineBusyError,
  clickhouseSettings,
  compileClickHouseOptions,
  createClickHouse,
  describeTarget,
} from '../../clickhouse/index.js';
import { runCli } from '../helpers/run-cli.js';
import { openTempClickHouse, type TempClickHouse } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/open-data-dir.ts', import.meta.url));
let ch: TempClickHouse;
const other = mkdtempSync(join(tmpdir(), 'spike-ch-other-'));

beforeAll(() => {
  ch = openTempClickHouse();
});
afterAll(async () => {
  await ch.close();
  rmSync(other, { recursive: true, force: true });
});

describe('createClickHouse (embedded)', () => {
  it('answers SQL through the @clickhouse/client API', async () => {
    const rs = await ch.client.query({ query: 'SELECT 1 + 1 AS two', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ two: 2 }]);
    expect((await ch.client.ping()).success).toBe(true);
  });

  it('lets several clients share the open directory', async () => {
    const second = createClickHouse({ kind: 'embedded', dataPath: ch.dataPath });
    await second.command({ query: 'CREATE DATABASE IF NOT EXISTS shared_check' });
    const rs = await ch.client.query({
      query: "SELECT count() AS n FROM system.databases WHERE name = 'shared_check'",
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ n: 1 }]);
    await second.close();
    // Closing one client leaves the engine to the others.
    expect((await ch.client.ping()).success).toBe(true);
  });

  it('refuses a second directory in the same process while one is open', () => {
    expect(() => createClickHouse({ kind: 'embedded', dataPath: other })).toThrow(ClickHouseEngineBusyError);
  });

  it('refuses a directory that another process holds', async () => {
    const result = await runCli(FIXTURE, [ch.dataPath]);
    expect(result.stdout.trim()).toBe('CLICKHOUSE_DATA_LOCKED');
    // …and a free directory opens fine in that other process.
    expect((await runCli(FIXTURE, [other])).stdout.trim()).toBe('opened');
  }, 60_000);
});

describe('clickhouse settings', () => {
  it('defaults to embedded chDB under ./data/clickhouse and database spike', () => {
    const o = compileClickHouseOptions(loadSettings(clickhouseSettings, { env: {} }));
    expect(o).toEqual({
      target: { kind: 'embedded', dataPath: resolve('data/clickhouse') },
      database: 'spike',
      retentionDays: 0,
    });
  });

  it('uses a server when CLICKHOUSE_URL is set, and never logs the password', () => {
    const env = {
      CLICKHOUSE_URL: 'http://ch:8123',
      CLICKHOUSE_USER: 'u',
      CLICKHOUSE_PASSWORD: 'secret',
      CLICKHOUSE_DATABASE: 'db2',
    };
    const o = compileClickHouseOptions(loadSettings(clickhouseSettings, { env }));
    expect(o.target).toEqual({
      kind: 'server',
      url: 'http://ch:8123',
      user: 'u',
      password: 'secret',
      requestTimeoutMs: 30_000,
    });
    expect(o.database).toBe('db2');
    expect(describeTarget({ ...o.target, url: 'http://u:secret@ch:8123' } as typeof o.target)).not.toContain('secret');
  });

  it('rejects a database name that is not an identifier', () => {
    expect(() => loadSettings(clickhouseSettings, { env: { CLICKHOUSE_DATABASE: 'a-b' } })).toThrow(ConfigError);
    expect(() => loadSettings(clickhouseSettings, { env: { CLICKHOUSE_URL: 'ch:8123' } })).toThrow(ConfigError);
  });
});

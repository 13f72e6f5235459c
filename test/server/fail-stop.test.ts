/**
 * Fail-stop inside the server process: a tick that throws (here an injected EIO — the real full disk
 * is in test/system/lifecycle.test.ts, through the real entry points) stops the database, turns
 * `GET /healthz` into 503 with the reason, and resolves `failed` so the entry point exits 1. And a
 * start that the relay would refuse (a volatile Redis, not allowed) rejects before anything opens.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../common/logger.js';
import { VolatileRedisError } from '../../server/capture/index.js';
import { DEFAULT_SIMULATION } from '../../server/options.js';
import { startServer } from '../../server/server.js';
import { listLedgers, readLedger } from '../../server/ledger-file.js';
import { startEmbedded } from '../../system/embedded.js';
import { compileEmbeddedOptions, loadEmbeddedSettings } from '../../system/options.js';
import { TestRedis } from '../helpers/redis-server.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fail-stop-'));
let volatile: TestRedis;
beforeAll(async () => {
  volatile = await TestRedis.start({ persistence: 'none' });
});
afterAll(async () => {
  await volatile?.destroy();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('a tick that fails', () => {
  it('stops the database, answers /healthz 503 with the reason and reports the failure once', async () => {
    let ticks = 0;
    const ledgerDir = path.join(work, 'ledger');
    const server = await startServer({
      simulation: { ...DEFAULT_SIMULATION, seed: 'fail-stop', tickMs: 20, probabilityScale: 10 },
      port: 0,
      host: '127.0.0.1',
      idleGc: false,
      logger: silentLogger,
      ledgerDir,
      attach: () => ({
        afterTick: () => {
          // Injected: a disk that answers EIO cannot be made on demand here.
          if (++ticks === 5) throw new Error('EIO: i/o error, write', { cause: new Error('the disk went away') });
        },
      }),
    });
    try {
      const reason = await server.failed;
      expect(reason).toMatch(/^tick \d+ failed, the database stopped: EIO: i\/o error, write: the disk went away$/);
      expect(server.state()).toBe('failed');
      const res = await fetch(`${server.url}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: 'failed', tick: server.db.currentTick, reasons: [reason] });
      await new Promise((r) => setTimeout(r, 100));
      expect(ticks).toBe(5); // no tick after the failed one
    } finally {
      await server.close();
    }
    // The failed tick is in the ledger: a check of the stopped system shows its records missing.
    const ledger = readLedger(listLedgers(ledgerDir)[0]!);
    expect(ledger.counts).toHaveLength(5);
    expect(ledger.ended).toBe(true);
  });
});

describe('startEmbedded and a Redis the relay refuses', () => {
  it('rejects with VolatileRedisError before it opens chDB or the outbox', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'embedded-'));
    const settings = loadEmbeddedSettings({
      env: {
        PORT: '0',
        QUERY_PORT: '0',
        CLICKHOUSE_DATA: path.join(dir, 'clickhouse'),
        OUTBOX_DIR: path.join(dir, 'outbox'),
        WITHOUT_REPORTS: 'true',
        ALLOW_VOLATILE_REDIS: '0', // the suite's allowance withdrawn: this test is about the refusal
      },
    });
    const started = startEmbedded(compileEmbeddedOptions(settings, volatile.url), silentLogger);
    await expect(started).rejects.toBeInstanceOf(VolatileRedisError);
    await expect(started).rejects.toThrow(`Redis at ${volatile.url} is not durable: appendonly no`);
    expect(fs.existsSync(path.join(dir, 'clickhouse'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'outbox'))).toBe(false);
  }, 60_000);
});

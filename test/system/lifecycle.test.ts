/**
 * Start and stop of the real entry points (`npm start` = system/main.ts, `npm run server` =
 * server/main.ts) as child processes, on the shared Redis under a fresh prefix:
 *  - a busy API or SQL port: one line naming the port and its flag, exit 1, nothing started;
 *  - Ctrl-C: everything the database executed is in ClickHouse when the process has exited, and
 *    `npm run verify` proves it on the stopped system from the ledger the server kept on disk;
 *  - fail-stop: the outbox on a disk that fills up (a real tmpfs; see helpers/full-disk.ts) makes a
 *    tick fail: /healthz answers 503 with the reason, the process exits 1 after relaying what was
 *    committed, and the stopped system shows exactly the failed tick's executions missing.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_EXECUTIONS, QUEUE_METRICS } from '../../common/contracts.js';
import { readLedger, listLedgers } from '../../server/ledger-file.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { REDIS_URL, removePrefixAndQuit } from '../helpers/shared-redis.js';
import { freePort } from './helpers/free-port.js';
import { fullDisk } from './helpers/full-disk.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lifecycle-'));
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await removePrefixAndQuit(new Redis(REDIS_URL), p);
  fs.rmSync(work, { recursive: true, force: true });
});

/** Fresh directories and Redis prefix for one run; args common to both entry points. */
function place(name: string) {
  const dir = fs.mkdtempSync(path.join(work, `${name}-`));
  const prefix = `test-lifecycle-${name}-${process.pid}-${Date.now()}`;
  prefixes.push(prefix);
  return {
    dir,
    prefix,
    clickhouse: path.join(dir, 'clickhouse'),
    outbox: path.join(dir, 'outbox'),
    ledger: path.join(dir, 'outbox', 'ledger'), // the default place: beside the outbox
    // The shared Redis is volatile: the suite's allowance (vitest.config.ts).
    // DATA_DIR: the catalog and system.json of each start stay in its own directory too.
    env: { ALLOW_VOLATILE_REDIS: process.env.ALLOW_VOLATILE_REDIS, REDIS_URL, REDIS_PREFIX: prefix, DATA_DIR: dir },
  };
}

function systemArgs(p: ReturnType<typeof place>, extra: string[] = []): string[] {
  return [
    ...['--clickhouse-data', p.clickhouse, '--outbox-dir', p.outbox, '--ledger-dir', p.ledger],
    ...['--without-reports', '--probability-scale', '10', ...extra],
  ];
}

async function occupiedPort(): Promise<{ port: number; close: () => void }> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

/** The pino lines of a child's stderr, parsed (other lines kept as `{ text }`). */
function logLines(stderr: string): { level?: number; msg?: string; text?: string; [k: string]: unknown }[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l) as { level?: number; msg?: string };
      } catch {
        return { text: l };
      }
    });
}

/** A long-running child with its stderr collected and its exit awaited. */
function spawn(entry: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = startCli(entry, args, { LOG_LEVEL: 'info', ...env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.resume();
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return { child, exited, stderr: () => stderr };
}

async function waitForLog(get: () => string, text: string, exited: Promise<unknown>, ms = 120_000): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + ms;
  while (!get().includes(text)) {
    if (gone || Date.now() > deadline) throw new Error(`never logged "${text}":\n${get().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function apiUrl(stderr: string): string {
  const line = logLines(stderr).find((l) => l.msg === 'database running');
  return String(line!.url);
}

async function verifyStopped(p: ReturnType<typeof place>) {
  const r = await runCli(
    'system/verify-cli.ts',
    ['--source', 'ledger', '--json', '--clickhouse-data', p.clickhouse, '--ledger-dir', p.ledger],
    {},
  );
  expect(r.stderr, r.stderr).not.toContain('error:');
  return { code: r.code, report: JSON.parse(r.stdout) as Record<string, number> };
}

describe('a busy port stops the start with one line', () => {
  it.each([
    ['npm start, API port', 'system/main.ts', '--port', 'PORT'],
    ['npm start, SQL port', 'system/main.ts', '--query-port', 'QUERY_PORT'],
    ['npm run server, API port', 'server/main.ts', '--port', 'PORT'],
  ])(
    '%s: names the port and %s, exit 1, nothing opened',
    async (_name, entry, flag, env) => {
      const busy = await occupiedPort();
      const p = place('busy');
      const ports = { '--port': '0', '--query-port': '0', [flag]: String(busy.port) };
      const args =
        entry === 'system/main.ts'
          ? [...systemArgs(p), '--port', ports['--port'], '--query-port', ports['--query-port']]
          : ['--outbox-dir', p.outbox, '--port', ports['--port']];
      try {
        const r = await runCli(entry, args, { ...p.env, LOG_LEVEL: 'info' });
        expect(r.code, r.stderr).toBe(1);
        const lines = r.stderr.split('\n').filter(Boolean);
        const errors = lines.filter((l) => l.startsWith('error: '));
        expect(errors).toEqual([
          `error: port ${busy.port} on 127.0.0.1 is already in use (another process listens there): stop it, or choose another port with ${flag} (${env})`,
        ]);
        expect(lines.at(-1)).toBe(errors[0]); // nothing logged after it
        expect(logLines(r.stderr).filter((l) => (l.level ?? 0) >= 50)).toEqual([]); // no fatal stack trace
        expect(r.stderr).not.toContain('analysis running');
        // Refused before anything heavy opened: no chDB data, the outbox released.
        expect(fs.existsSync(p.clickhouse)).toBe(false);
        expect(fs.existsSync(path.join(p.outbox, 'outbox.lock'))).toBe(false);
      } finally {
        busy.close();
      }
    },
    120_000,
  );
});

describe('npm start stops with everything in ClickHouse', () => {
  it('after SIGINT the queues are empty and verify finds every execution of the run stored, from the ledger', async () => {
    const p = place('sigint');
    const s = spawn('system/main.ts', [...systemArgs(p), '--port', '0', '--query-port', '0'], p.env);
    await waitForLog(s.stderr, 'system running', s.exited);
    // While it runs, the ledger check refuses to open its chDB data directory.
    const early = await runCli(
      'system/verify-cli.ts',
      ['--source', 'ledger', '--clickhouse-data', p.clickhouse, '--ledger-dir', p.ledger],
      {},
    );
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('the system is running (process');
    // A run with something in it: on a loaded machine the start alone can take most of a second.
    const api = String(logLines(s.stderr()).find((l) => l.msg?.startsWith('system running'))!.api);
    const deadline = performance.now() + 60_000;
    for (;;) {
      const stats = (await (await fetch(`${api}/stats`)).json()) as { executedTotal: number };
      if (stats.executedTotal > 300) break;
      expect(performance.now(), 'the run executed 300 queries within a minute').toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 200));
    }
    // To the product's own process (its pid is in every log line), as the terminal's Ctrl-C reaches
    // it: through tsx's relay, a loaded machine can make tsx give up on the child and kill it.
    const pid = Number(logLines(s.stderr()).find((l) => l.msg === 'database running')!.pid);
    const sentAt = performance.now();
    process.kill(pid, 'SIGINT');
    const [code] = await s.exited;
    const stopMs = Math.round(performance.now() - sentAt);
    expect(code, s.stderr().slice(-3000)).toBe(0);
    const stopped = logLines(s.stderr()).find((l) => l.msg === 'stopped') as {
      queuedLeft: number;
      queueDrainMs: number;
      stats: { executedTotal: number };
    };
    expect(stopped.queuedLeft).toBe(0);
    console.log(JSON.stringify({ test: 'sigint', stopMs, queueDrainMs: stopped.queueDrainMs }));

    // Nothing waits in Redis for the next start.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    try {
      for (const name of [QUEUE_EXECUTIONS, QUEUE_METRICS]) {
        const q = new Queue(name, { connection, prefix: p.prefix });
        expect(await q.getJobCounts('wait', 'active', 'delayed', 'prioritized'), name).toEqual({
          wait: 0,
          active: 0,
          delayed: 0,
          prioritized: 0,
        });
        await q.close();
      }
    } finally {
      connection.disconnect();
    }

    const { code: verified, report } = await verifyStopped(p);
    expect(report.executedByDatabase).toBe(stopped.stats.executedTotal);
    expect(report.executedByDatabase).toBeGreaterThan(300);
    expect(report).toMatchObject({ missing: 0, duplicatesCounted: 0, completeness: 1 });
    expect(report.windowsStored).toBe(report.windowsByDatabase);
    expect(verified).toBe(0);
    expect(readLedger(listLedgers(p.ledger)[0]!).ended).toBe(true);
  }, 300_000);
});

const healthToExit = (healthAt: number, exitAt: number) => exitAt - healthAt;

describe('fail-stop: the outbox on a disk that fills up', () => {
  /** Polls /healthz until it answers 503 or the process exits; returns the 503 body. */
  async function watchHealth(url: string, exited: Promise<unknown>) {
    let gone = false;
    void exited.then(() => (gone = true));
    while (!gone) {
      const r = await fetch(`${url}/healthz`).catch(() => undefined);
      if (r?.status === 503)
        return { at: performance.now(), body: (await r.json()) as { status: string; reasons: string[] } };
      await new Promise((r) => setTimeout(r, 50));
    }
    return undefined;
  }

  it.each([
    // Redis away as well: the relay holds the records for its drain timeout, /healthz says why meanwhile.
    ['npm run server (Redis away too)', 'server/main.ts'],
    // The whole system: the committed records reach ClickHouse before the exit.
    ['npm start', 'system/main.ts'],
  ])(
    '%s: /healthz 503 with the reason, exit 1 once what can be flushed is flushed',
    async (_name, entry) => {
      const p = place('enospc');
      const disk = fullDisk(96 * 1024);
      const redisAway = entry === 'server/main.ts' ? { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } : {};
      try {
        const outbox = path.join(disk.dir, 'outbox');
        const args =
          entry === 'system/main.ts'
            ? [...systemArgs(p), '--outbox-dir', outbox, '--port', '0', '--query-port', '0']
            : ['--outbox-dir', outbox, '--ledger-dir', p.ledger, '--probability-scale', '10', '--port', '0'];
        const s = spawn(entry, [...args, '--relay-drain-timeout-ms', '5000'], { ...p.env, ...redisAway, ...disk.env });
        await waitForLog(s.stderr, 'database running', s.exited);
        const unhealthy = await watchHealth(apiUrl(s.stderr()), s.exited);
        const [code] = await s.exited;
        const exitAt = performance.now();
        const stderr = s.stderr();
        expect(code, stderr.slice(-3000)).toBe(1);
        expect(unhealthy, `never answered 503 (${disk.kind})`).toBeDefined();
        expect(unhealthy!.body.status).toBe('failed');
        expect(unhealthy!.body.reasons[0]).toMatch(
          /^tick \d+ failed, the database stopped: writing the outbox segment .* ENOSPC/,
        );
        const last = stderr.split('\n').filter(Boolean).at(-1)!;
        expect(last).toBe(`error: ${unhealthy!.body.reasons[0]}`);
        const failedAt = logLines(stderr).find((l) => l.msg === 'tick failed; the database stopped')!.time as number;
        const exitedAt = logLines(stderr).findLast((l) => typeof l.time === 'number')!.time as number;
        console.log(
          JSON.stringify({
            test: `enospc ${entry}`,
            disk: disk.kind,
            failureToLastLogMs: exitedAt - failedAt,
            healthToExitMs: Math.round(exitAt - unhealthy!.at),
          }),
        );
        if (entry === 'server/main.ts') {
          // Nothing could be relayed: the outbox kept what it committed for the next start.
          const pending = logLines(stderr).find((l) => l.msg === 'capture closed') as { pendingRecords: number };
          expect(pending.pendingRecords).toBeGreaterThan(0);
          expect(healthToExit(unhealthy!.at, exitAt)).toBeGreaterThan(3000); // held for the drain timeout
        } else {
          // Stopped: every execution is stored but the failed tick's, whose commit hit the full disk.
          const ledger = readLedger(listLedgers(p.ledger)[0]!);
          const failedTick = ledger.counts.at(-1)!;
          const { report } = await verifyStopped(p);
          expect(report.executedByDatabase).toBe(ledger.counts.reduce((a, b) => a + b, 0));
          expect(report.missing).toBe(failedTick);
          expect(report.duplicatesCounted).toBe(0);
        }
      } finally {
        disk.remove();
      }
    },
    300_000,
  );
});

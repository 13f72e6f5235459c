/**
 * The whole capture pipeline as separate processes, as compose runs it — a server child
 * (`server/main.ts`: database + API + durable outbox + relay), an ingest child (`ingest/main.ts`:
 * BullMQ workers into chDB) and a private redis-server with append-only persistence — with faults
 * injected one after another while the database keeps ticking:
 *   a. Redis stopped (SIGTERM) for several seconds and restarted on the same port;
 *   b. the ingest worker killed with SIGKILL with jobs in flight, and a new one started;
 *   c. the same records delivered twice (stored jobs re-added under new job ids);
 *   d. the server killed with SIGKILL (while Redis hangs, so its outbox holds unsent records) and
 *      restarted on the same outbox directory.
 * Then the server and the ingest are stopped gracefully and ClickHouse is read in this process:
 * every execution and window the database produced (its own `/stats/executed` for the run that could
 * still be asked, a deterministic replay for the run that was killed) is stored exactly once, with
 * the same contents, and nothing else is. Real Redis, real chDB, real processes; no mocks.
 *
 * Not here: ClickHouse failing inserts. chDB runs inside the ingest child's process, so it cannot be
 * made to fail from outside; that fault is covered in test/ingest/worker.test.ts with an injected sink.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_DEAD_LETTER, QUEUE_EXECUTIONS, QUEUE_METRICS, type DatabaseStats } from '../../common/contracts.js';
import { ClickHouseStore, createClickHouse, type ClickHouseClient } from '../../clickhouse/index.js';
import type { CaptureStats } from '../../server/capture/index.js';
import type { LedgerRange } from '../../server/ledger.js';
import { DEFAULT_SIMULATION } from '../../server/options.js';
import { TestRedis } from '../helpers/redis-server.js';
import { freePort } from './helpers/free-port.js';
import { PIPELINE_QUEUES, QueueProbe } from './helpers/queue-probe.js';
import { replayRun, type RunIdentity } from './helpers/replay-run.js';
import { ServiceProcess } from './helpers/service-process.js';
import { compareExecutions, compareWindows, storedExecutions, storedWindows } from './helpers/stored-records.js';
import { sleep, waitFor } from './helpers/wait-for.js';

const SEED = 'pipeline-faults';
const TICK_MS = 20;
const SCALE = 10;
/** A flat traffic curve, so the load does not depend on where in its period the wall clock is. */
const TRAFFIC = { ...DEFAULT_SIMULATION.traffic, amplitude: 0 };
/** About 15 executions per tick (10 × Σp ≈ 1.03 × 1.5): roughly half the ticks travel as one group job. */
const GROUP_ABOVE = 15;

type ServerStats = DatabaseStats & { capture: CaptureStats; driver: { state: string; lagTicks: number } };

interface ServerRun {
  proc: ServiceProcess;
  url: string;
  identity: RunIdentity;
}

let redis: TestRedis;
let work: string;
let outboxDir: string;
let dataDir: string;
const prefix = `system-faults-${randomBytes(4).toString('hex')}`;
const services: ServiceProcess[] = [];

class ApiError extends Error {
  override readonly name = 'ApiError';
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new ApiError(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

const serverStats = (run: ServerRun) => getJson<ServerStats>(`${run.url}/stats`);
const probe = <T>(fn: (p: QueueProbe) => Promise<T>) => QueueProbe.use(redis.url, prefix, fn);

async function startServer(): Promise<ServerRun> {
  const port = await freePort();
  const proc = new ServiceProcess(
    'server',
    'server/main.ts',
    [
      ...['--port', String(port), '--seed', SEED, '--tick-ms', String(TICK_MS)],
      ...['--probability-scale', String(SCALE), '--traffic-amplitude', String(TRAFFIC.amplitude)],
    ],
    {
      OUTBOX_DIR: outboxDir,
      DATA_DIR: path.dirname(outboxDir),
      REDIS_URL: redis.url,
      REDIS_PREFIX: prefix,
      RELAY_GROUP_ABOVE: String(GROUP_ABOVE),
      // Reconnect soon after Redis comes back, and drain everything on SIGTERM.
      RELAY_BACKOFF_MAX_MS: '500',
      RELAY_DRAIN_TIMEOUT_MS: '60000',
    },
  );
  services.push(proc);
  await proc.waitForLog('database running');
  const url = `http://127.0.0.1:${port}`;
  const stats = await getJson<ServerStats>(`${url}/stats`);
  const identity = {
    seed: SEED,
    probabilityScale: SCALE,
    tickMs: TICK_MS,
    traffic: TRAFFIC,
    firstTick: stats.firstTick,
  };
  return { proc, url, identity };
}

async function startIngest(): Promise<ServiceProcess> {
  const proc = new ServiceProcess('ingest', 'ingest/main.ts', [], {
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    CLICKHOUSE_DATA: dataDir,
    // A killed worker's jobs are re-delivered within ~3.5 s instead of 30 + 15 s.
    INGEST_LOCK_MS: '3000',
    INGEST_STALLED_INTERVAL_MS: '500',
    INGEST_FLUSH_MS: '100',
    // Not the default (5000): BullMQ's worker fetches jobs one round trip at a time and starts
    // processing only once `concurrency` jobs are fetched or the queue is empty. Under a steady
    // stream of single-execution jobs faster than the fetches (a loaded machine) it fetches 5000
    // jobs before processing one, their locks expire and they are re-delivered over and over.
    INGEST_CONCURRENCY: '100',
    INGEST_STATS_INTERVAL_MS: '0',
    INGEST_SHUTDOWN_TIMEOUT_MS: '60000',
  });
  services.push(proc);
  await proc.waitForLog('ingest running', 60_000);
  return proc;
}

/** Waits until the ingest has caught up: at most `left` jobs not yet finished in each queue. */
function caughtUp(what: string, left: number, timeoutMs = 60_000): Promise<true> {
  return waitFor(what, timeoutMs, () =>
    probe(async (p) => {
      for (const q of PIPELINE_QUEUES) if ((await p.unfinished(q)) > left) return false;
      return true as const;
    }),
  );
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'system-faults-'));
  outboxDir = path.join(work, 'outbox');
  dataDir = path.join(work, 'clickhouse');
  redis = await TestRedis.start({ persistence: 'aof' });
});

afterAll(async () => {
  for (const s of services) if (s.alive) await s.stop('SIGKILL');
  if (redis?.running) await QueueProbe.obliterate(redis.url, prefix).catch(() => undefined);
  await redis?.destroy();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the pipeline under faults (separate processes, real Redis and chDB)', () => {
  let ingest: ServiceProcess;
  let first: ServerRun;
  let second: ServerRun;
  /** The killed run's last tick known to be complete: `nextTick − 1` read just before the kill. */
  let killedRunKnownLast = 0;
  /** What the second run reported for the range we asked, before it was stopped. */
  let secondRunLedger: LedgerRange;
  let secondRunLastTick = 0;
  let redelivered = { executions: 0, windows: 0, groups: 0 };

  it('starts: ingest, then the server; records flow into ClickHouse', async () => {
    ingest = await startIngest();
    first = await startServer();
    // Some jobs completed by the ingest: the pipeline runs end to end.
    await waitFor('the first jobs to be stored', 30_000, () =>
      probe(async (p) => ((await p.counts(QUEUE_EXECUTIONS)).completed ?? 0) > 100 || undefined),
    );
  }, 90_000);

  it('a. Redis stopped for seconds and restarted: ticks go on, the backlog waits on disk, jobs in Redis survive', async () => {
    // Hold a backlog in Redis (workers stop fetching while the queues are paused), so that the
    // restart has acknowledged jobs to lose if persistence did not work.
    await probe(async (p) => {
      for (const q of PIPELINE_QUEUES) await p.queue(q).pause();
    });
    await sleep(1000);
    const held = await probe((p) => p.waiting(QUEUE_EXECUTIONS));
    expect(held).toBeGreaterThan(100);
    const before = await serverStats(first);

    await redis.stop();
    await sleep(2000);
    const during = await serverStats(first);
    await sleep(2000);
    const late = await serverStats(first);
    expect(during.capture.redis.state).not.toBe('connected');
    // The database never waits for Redis: ~100 ticks in 2 s at 20 ms (a loaded machine gets slack).
    expect(late.driver.state).toBe('running');
    expect(late.ticks - during.ticks).toBeGreaterThan(50);
    expect(during.ticks - before.ticks).toBeGreaterThan(50);
    // The records of those ticks wait in the outbox on disk.
    expect(late.capture.outbox.pendingRecords).toBeGreaterThan(during.capture.outbox.pendingRecords);
    expect(late.capture.outbox.pendingRecords).toBeGreaterThan(100);

    await redis.restart();
    // Every job acknowledged before the stop came back from the append-only file.
    const after = await probe((p) => p.waiting(QUEUE_EXECUTIONS));
    expect(after).toBeGreaterThanOrEqual(held);
    await probe(async (p) => {
      for (const q of PIPELINE_QUEUES) await p.queue(q).resume();
    });
    // The relay reconnects and drains the outbox; the ingest reconnects and catches up.
    await waitFor('the outbox to drain after the restart', 30_000, async () => {
      const s = await serverStats(first);
      return (s.capture.redis.state === 'connected' && s.capture.outbox.pendingRecords < 200) || undefined;
    });
    expect((await serverStats(first)).capture.redis.reconnects).toBeGreaterThanOrEqual(1);
    await caughtUp('the ingest to catch up after the Redis restart', 2000);
    expect(ingest.alive).toBe(true);
  }, 90_000);

  it('b. the ingest worker killed with SIGKILL with jobs in flight: a new worker stores them', async () => {
    // Kill only while jobs are active: fetched, their rows in a batch not yet acknowledged.
    const inFlight = await waitFor('jobs in flight in the ingest', 15_000, () =>
      probe(async (p) => {
        const active = await p.jobs(QUEUE_EXECUTIONS, 'active');
        return active.length > 0 ? active : undefined;
      }),
    );
    ingest.kill('SIGKILL');
    expect((await ingest.exited()).signal).toBe('SIGKILL');
    // The dead worker's jobs stay active (locked) in Redis, unacknowledged.
    const orphaned = await probe((p) => p.jobs(QUEUE_EXECUTIONS, 'active'));
    expect(orphaned.length).toBeGreaterThan(0);
    const orphanIds = new Set([...inFlight, ...orphaned].map((j) => j.id!));
    await sleep(1000); // the backlog grows in Redis meanwhile

    ingest = await startIngest();
    // Once their locks expire the stalled check re-queues them; the new worker stores them.
    await waitFor('the killed worker’s jobs to be re-delivered and acknowledged', 60_000, () =>
      probe(async (p) => {
        for (const id of orphanIds) {
          const state = await p.state(QUEUE_EXECUTIONS, id);
          expect(state, `job ${id}`).not.toBe('failed');
          if (state !== 'completed' && state !== 'unknown') return false; // unknown: completed and trimmed
        }
        return true as const;
      }),
    );
  }, 90_000);

  it('c. the same records delivered twice: both deliveries are processed', async () => {
    const ids = await probe(async (p) => {
      // Stored records: a completed job was acknowledged only after its rows were stored.
      const completed = await p.jobs(QUEUE_EXECUTIONS, 'completed', 1000);
      const singles = completed.filter((j) => !Array.isArray(j.data)).slice(0, 200);
      const groups = completed.filter((j) => Array.isArray(j.data)).slice(0, 20);
      const executions = [...singles, ...groups];
      const windows = await p.jobs(QUEUE_METRICS, 'completed', 30);
      expect(windows.length).toBeGreaterThan(0);
      redelivered = { executions: singles.length, windows: windows.length, groups: groups.length };
      return {
        executions: await p.redeliver(QUEUE_EXECUTIONS, executions, 'again'),
        windows: await p.redeliver(QUEUE_METRICS, windows, 'again'),
      };
    });
    // Both kinds of execution jobs were delivered twice: single records and per-tick groups.
    expect(redelivered.executions).toBeGreaterThan(0);
    expect(redelivered.groups).toBeGreaterThan(0);
    await waitFor('the duplicate jobs to be processed', 30_000, () =>
      probe(async (p) => {
        for (const [queue, list] of [
          [QUEUE_EXECUTIONS, ids.executions],
          [QUEUE_METRICS, ids.windows],
        ] as const) {
          for (const id of list) {
            const state = await p.state(queue, id);
            expect(state, `duplicate job ${id}`).not.toBe('failed');
            if (state !== 'completed' && state !== 'unknown') return false;
          }
        }
        return true as const;
      }),
    );
  }, 60_000);

  it('d. the server killed with SIGKILL and restarted on the same outbox: the new process sends what the dead one committed', async () => {
    // Redis hangs for a second first, so that the dead process leaves committed records in its
    // outbox that it never got acknowledged (otherwise the relay is usually only a tick behind).
    redis.freeze();
    try {
      await sleep(1000);
      const last = await serverStats(first);
      killedRunKnownLast = last.nextTick - 1;
      expect(last.capture.outbox.pendingRecords).toBeGreaterThan(0);
      first.proc.kill('SIGKILL');
      expect((await first.proc.exited()).signal).toBe('SIGKILL');
    } finally {
      redis.thaw();
    }

    second = await startServer();
    expect(second.identity.firstTick).toBeGreaterThan(killedRunKnownLast);
    // The new process found the dead one's unacknowledged records on disk and sends them.
    const started = second.proc.lines('capture started')[0] as { recovered?: number } | undefined;
    expect(started?.recovered).toBeGreaterThan(0);
    await sleep(3000);
    const s = await serverStats(second);
    expect(s.driver.state).toBe('running');
    expect(s.capture.redis.state).toBe('connected');
  }, 60_000);

  it('ends: the server drains its outbox on SIGTERM, the queues empty, the ingest stops cleanly', async () => {
    const s = await serverStats(second);
    secondRunLedger = await getJson<LedgerRange>(
      `${second.url}/stats/executed?from=${s.firstTick}&to=${s.nextTick - 1}`,
    );
    expect((await second.proc.stop('SIGTERM')).code).toBe(0);
    const closed = second.proc.lines('capture closed')[0];
    expect(closed).toMatchObject({ drained: true, pendingRecords: 0 });
    const final = second.proc.lines('final counters')[0] as { stats: DatabaseStats } | undefined;
    expect(final).toBeDefined();
    secondRunLastTick = final!.stats.nextTick - 1;

    await caughtUp('the queues to be empty', 0);
    await probe(async (p) => {
      // Nothing failed for good and nothing was parked as unstorable.
      expect((await p.counts(QUEUE_EXECUTIONS)).failed ?? 0).toBe(0);
      expect((await p.counts(QUEUE_METRICS)).failed ?? 0).toBe(0);
      expect(await p.unfinished(QUEUE_DEAD_LETTER)).toBe(0);
    });
    expect((await ingest.stop('SIGTERM')).code).toBe(0);
    expect(ingest.lines('ingest closed')[0]).toMatchObject({ drained: true });
  }, 120_000);

  describe('what ClickHouse holds', () => {
    let client: ClickHouseClient;
    let store: ClickHouseStore;
    beforeAll(() => {
      // The ingest child has exited, so this process may open its chDB directory.
      client = createClickHouse({ kind: 'embedded', dataPath: dataDir });
      store = new ClickHouseStore(client);
    });
    afterAll(async () => {
      await client?.close();
    });

    it('the killed run: every execution and window up to its last known tick, once, as the replay has it', async () => {
      const range = { from: first.identity.firstTick, to: killedRunKnownLast };
      const replay = replayRun(first.identity, range.to);
      expect(replay.executed.length).toBeGreaterThan(1000);

      const executions = await storedExecutions(client, range);
      const diff = compareExecutions(replay.executed, executions);
      expect(diff.missing.slice(0, 5), `${diff.missing.length} executions lost`).toEqual([]);
      expect(diff.unexpected.slice(0, 5), `${diff.unexpected.length} executions never executed`).toEqual([]);
      expect(diff.altered.slice(0, 5), `${diff.altered.length} executions stored with other contents`).toEqual([]);
      expect(executions.countedTwice).toEqual([]);
      const counts = await store.countExecutions(range);
      expect(counts).toMatchObject({ stored: replay.executed.length, countedTwice: 0 });
      expect(counts.stored / replay.executed.length).toBe(1); // completeness

      const windows = await storedWindows(client, range);
      const wdiff = compareWindows(replay.windows, windows);
      expect({ missing: wdiff.missing, unexpected: wdiff.unexpected, altered: wdiff.altered }).toEqual({
        missing: [],
        unexpected: [],
        altered: [],
      });
      expect(await store.countWindows(range)).toMatchObject({ stored: replay.windows.length, countedTwice: 0 });
      // The duplicate deliveries (c, and any re-delivery after the kills) really reached the table;
      // merges may already have collapsed some, so this is a lower bound of what was written.
      expect(counts.rows).toBeGreaterThanOrEqual(counts.stored);
    });

    it('the killed run after its last known tick: a gap-free prefix of what it executed, nothing else', async () => {
      const range = { from: killedRunKnownLast + 1, to: second.identity.firstTick - 1 };
      const replay = replayRun(first.identity, range.to);
      const executed = replay.executed.filter((e) => e.executedTick >= range.from);
      const executions = await storedExecutions(client, range);
      const diff = compareExecutions(executed, executions);
      expect(diff.unexpected).toEqual([]);
      expect(diff.altered).toEqual([]);
      expect(executions.countedTwice).toEqual([]);
      // The outbox is a log: what survived the kill is a prefix of the run's records, without holes.
      const lastStored = Math.max(range.from - 1, ...[...executions.byId.values()].map((r) => Number(r.executed_tick)));
      const hole = executed.filter((e) => e.executedTick < lastStored && !executions.byId.has(e.executionId));
      expect(hole).toEqual([]);
      const windows = await storedWindows(client, range);
      const wdiff = compareWindows(
        replay.windows.filter((w) => w.lastTick >= range.from),
        windows,
      );
      expect(wdiff.unexpected).toEqual([]);
      expect(wdiff.altered).toEqual([]);
    });

    it('the restarted run: completeness exactly 1 against its /stats/executed, and the same ids as its replay', async () => {
      // The product's own completeness check over the range the running server reported.
      const reported = { from: secondRunLedger.from, to: secondRunLedger.to };
      const counts = await store.countExecutions(reported);
      const windowCounts = await store.countWindows(reported);
      expect(secondRunLedger.executed).toBeGreaterThan(0);
      expect(counts).toMatchObject({ stored: secondRunLedger.executed, countedTwice: 0 });
      expect(counts.stored / secondRunLedger.executed).toBe(1);
      expect(windowCounts).toMatchObject({ stored: secondRunLedger.windows, countedTwice: 0 });

      // And by identity, through the last tick it ran before the graceful stop (it drained).
      const range = { from: second.identity.firstTick, to: secondRunLastTick };
      const replay = replayRun(second.identity, range.to);
      expect(replay.db.executedIn(reported.from, reported.to)).toMatchObject({
        executed: secondRunLedger.executed,
        windows: secondRunLedger.windows,
      });
      const diff = compareExecutions(replay.executed, await storedExecutions(client, range));
      expect({
        missing: diff.missing.length,
        unexpected: diff.unexpected.length,
        altered: diff.altered.length,
      }).toEqual({ missing: 0, unexpected: 0, altered: 0 });
      const wdiff = compareWindows(replay.windows, await storedWindows(client, range));
      expect({
        missing: wdiff.missing.length,
        unexpected: wdiff.unexpected.length,
        altered: wdiff.altered.length,
      }).toEqual({ missing: 0, unexpected: 0, altered: 0 });
    });

    it('nothing else is stored: the whole test range holds exactly the records of the two runs', async () => {
      const killedTail = await storedExecutions(client, {
        from: killedRunKnownLast + 1,
        to: second.identity.firstTick - 1,
      });
      const all = await store.countExecutions({ from: first.identity.firstTick, to: secondRunLastTick });
      const firstRun = replayRun(first.identity, killedRunKnownLast).executed.length;
      const secondRun = replayRun(second.identity, secondRunLastTick).executed.length;
      expect(all).toMatchObject({ stored: firstRun + killedTail.byId.size + secondRun, countedTwice: 0 });
      const everything = await store.countExecutions({ from: 0, to: Number.MAX_SAFE_INTEGER });
      expect(everything.stored).toBe(all.stored);
      // Windows likewise: the two runs' windows and the killed run's surviving tail, nothing more.
      const tailWindows = await storedWindows(client, {
        from: killedRunKnownLast + 1,
        to: second.identity.firstTick - 1,
      });
      const windows = await store.countWindows({ from: 0, to: Number.MAX_SAFE_INTEGER });
      expect(windows).toMatchObject({
        stored:
          replayRun(first.identity, killedRunKnownLast).windows.length +
          tailWindows.byId.size +
          replayRun(second.identity, secondRunLastTick).windows.length,
        countedTwice: 0,
      });
      process.stderr.write(
        `pipeline-faults: ${all.stored} executions stored once (${all.rows} physical rows: duplicates merged away or not); ` +
          `re-delivered ${redelivered.executions} single and ${redelivered.groups} group jobs, ${redelivered.windows} windows\n`,
      );
    });
  });
});

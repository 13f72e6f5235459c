/**
 * The chaos run (issue 6 item 3): the whole system as separate processes — its own redis-server
 * (append-only, fsync per write), the ClickHouse HTTP gateway (chDB; the one process that owns the
 * data directory), the server (database in real time + API + capture), ingest, analysis (short
 * interval) and the scheduler — then faults on a seeded schedule (schedule.ts): SIGKILL and restart
 * of ingest, of the scheduler and of the analysis job, Redis stopped (SIGTERM or SIGKILL) and
 * started again on the same port and data directory, and ClickHouse failing every INSERT for a
 * while (the gateway's fault switch, refusing or losing the reply). At the end the faults have
 * stopped; the closed tick range — the run's first tick to the last tick before the end — must be
 * stored in ClickHouse, every execution and window once (system/verify.ts), within the drain timeout.
 *
 * The run's time is split in three: the first fifth without faults (the "before" figures), three
 * fifths with faults, the last fifth without faults again (the "after" figures).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseStats, Resource, ResourceStats } from '../../common/contracts.js';
import { windowInBand } from '../../common/definitions.js';
import type { Logger } from '../../common/logger.js';
import { FAULT_PATH } from '../../clickhouse/http-gateway.js';
import { openReadOnly, type ReadOnlyQueries } from '../../clickhouse/index.js';
import { freePort } from '../../common/free-port.js';
import { RedisServer } from '../private-redis.js';
import { checkCompleteness, isComplete, type Completeness, type CompletenessReport } from '../verify.js';
import { countByKind, faultSchedule, type FaultKind, type PlannedFault } from './schedule.js';
import { Supervisor, type UnplannedExit } from './supervisor.js';

export interface ChaosOptions {
  minutes: number;
  seed: string;
  tickMs: number;
  probabilityScale: number;
  /** Mean time between fault starts. */
  faultIntervalMs: number;
  kinds: readonly FaultKind[];
  /** How long to wait for stored == executed after the end. */
  drainTimeoutMs: number;
  analysisIntervalMs: number;
  /** Where Redis, ClickHouse, the outbox and the logs live; a temporary directory by default. */
  workDir?: string;
  /** Keep the work directory afterwards (it is always kept when the run fails). */
  keepWorkDir: boolean;
  logger: Logger;
}

export interface InjectedFault extends PlannedFault {
  /** Ms since the start of the run (processes up) when it was injected. */
  startedAtMs: number;
  /** Ms from the injection until the component was back (ready) or inserts worked again. */
  recoveredAfterMs: number | null;
  error?: string;
}

export interface PhaseFigures {
  windows: number;
  inBand: number | null;
  schedulerDecisions: number;
  hitRate: number | null;
}

/** The run's report; the completeness figures are `npm run verify`'s, over the run's whole tick range. */
export interface ChaosReport extends Completeness {
  ok: boolean;
  seed: string;
  minutes: number;
  tickMs: number;
  probabilityScale: number;
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  tickRange: { from: number; to: number };
  drainMs: number;
  /** Over every scheduler process of the run (figures published to Redis, summed across restarts). */
  hitRate: number | null;
  schedulerDecisions: number;
  inBandBeforeFaults: number | null;
  inBandDuringFaults: number | null;
  inBandAfterFaults: number | null;
  phases: { before: PhaseFigures; during: PhaseFigures; after: PhaseFigures };
  unplannedExits: Omit<UnplannedExit, 'tail'>[];
  faults: InjectedFault[];
  workDir?: string;
  error?: string;
}

const DATABASE = 'spike';
const PREFIX = 'chaos';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The scheduler's published figures, summed over its processes (each restart starts from zero). */
class HitRateTracker {
  private done = { decisions: 0, hits: 0 };
  private current = { decisions: 0, hits: 0 };
  private ignoreBefore = 0;

  observe(f: { decisions?: number; hits?: number; updatedAt?: number } | null | undefined): void {
    if (!f || typeof f.decisions !== 'number' || typeof f.hits !== 'number') return;
    // A killed scheduler's last figures stay in Redis until they expire: not the new process's.
    if ((f.updatedAt ?? 0) <= this.ignoreBefore) return;
    this.current = { decisions: f.decisions, hits: f.hits };
  }

  /** The scheduler process is about to be killed: what it published so far is final. */
  processEnded(): void {
    this.done = { decisions: this.done.decisions + this.current.decisions, hits: this.done.hits + this.current.hits };
    this.current = { decisions: 0, hits: 0 };
    this.ignoreBefore = Date.now();
  }

  total(): { decisions: number; hits: number } {
    return { decisions: this.done.decisions + this.current.decisions, hits: this.done.hits + this.current.hits };
  }
}

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

type WindowRow = { t: number } & Record<Resource, ResourceStats>;

async function storedWindows(queries: ReadOnlyQueries, from: number, to: number): Promise<WindowRow[]> {
  const { rows } = await queries.query(
    `SELECT toUnixTimestamp64Milli(ts), cpu_avg, cpu_min, cpu_max, io_avg, io_min, io_max, memory_avg, memory_min, memory_max
     FROM ${DATABASE}.windows_dedup WHERE first_tick >= ${from} AND last_tick <= ${to}`,
  );
  return rows.map((r) => {
    const n = r.map(Number);
    return {
      t: n[0]!,
      cpu: { average: n[1]!, min: n[2]!, max: n[3]! },
      io: { average: n[4]!, min: n[5]!, max: n[6]! },
      memory: { average: n[7]!, min: n[8]!, max: n[9]! },
    };
  });
}

function inBand(windows: WindowRow[], from: number, to: number): { windows: number; inBand: number | null } {
  const inRange = windows.filter((w) => w.t >= from && w.t < to);
  return {
    windows: inRange.length,
    inBand: inRange.length ? inRange.filter((w) => windowInBand(w)).length / inRange.length : null,
  };
}

/** The run's phases: `quietMs` without faults before and after, `faultMs` of faults in between. */
export function chaosPhases(minutes: number): { quietMs: number; faultMs: number } {
  const totalMs = minutes * 60_000;
  const quietMs = Math.round(totalMs / 5);
  return { quietMs, faultMs: totalMs - 2 * quietMs };
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.logger;
  const workDir = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spike-chaos-'));
  fs.mkdirSync(path.join(workDir, 'logs'), { recursive: true });
  const { quietMs: beforeMs, faultMs: phaseMs } = chaosPhases(o.minutes);
  const schedule = faultSchedule({ seed: o.seed, phaseMs, meanIntervalMs: o.faultIntervalMs, kinds: o.kinds });
  log.info({ workDir, faults: schedule.length, byKind: countByKind(schedule) }, 'chaos run: starting the system');

  const redis = await RedisServer.start({ dir: path.join(workDir, 'redis'), persistence: 'aof' });
  const gatewayPort = await freePort();
  const apiPort = await freePort();
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const shared = { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, CLICKHOUSE_URL: gatewayUrl };
  const supervisor = new Supervisor(
    {
      gateway: {
        entry: 'clickhouse/gateway-main.ts',
        args: ['--gateway-port', String(gatewayPort), '--clickhouse-data', path.join(workDir, 'clickhouse')],
        env: { CLICKHOUSE_GATEWAY_FAULT_CONTROL: 'true' },
        ready: 'clickhouse gateway listening',
      },
      ingest: {
        entry: 'ingest/main.ts',
        // A killed worker's jobs come back after their lock expires: 5 s here instead of 30 s.
        env: { ...shared, INGEST_LOCK_MS: '5000', INGEST_STALLED_INTERVAL_MS: '1000', INGEST_STATS_INTERVAL_MS: '0' },
        ready: 'ingest running',
      },
      analysis: {
        entry: 'analysis/main.ts',
        env: {
          ...shared,
          ANALYSIS_INTERVAL_MS: String(o.analysisIntervalMs),
          ANALYSIS_SETTLE_MS: '1000',
          // A killed run's lock expires after this long (60 s by default), then the next run goes on.
          ANALYSIS_LOCK_TTL_MS: '10000',
        },
        ready: 'analysis running',
      },
      server: {
        entry: 'server/main.ts',
        env: {
          REDIS_URL: redis.url,
          REDIS_PREFIX: PREFIX,
          PORT: String(apiPort),
          SIM_SEED: o.seed,
          SIM_TICK_MS: String(o.tickMs),
          SIM_PROBABILITY_SCALE: String(o.probabilityScale),
          DATA_DIR: workDir,
          RELAY_BACKOFF_MAX_MS: '1000',
          RELAY_DRAIN_TIMEOUT_MS: '60000',
        },
        ready: 'database running',
        // A server restart would start a new run (new first tick, new ledger): not a fault of this run.
        restartOnExit: false,
      },
      scheduler: {
        entry: 'scheduler/main.ts',
        env: { ...shared, SERVER_URL: apiUrl, SCHEDULER_STATS_INTERVAL_MS: '250' },
        ready: 'scheduler running',
      },
    },
    path.join(workDir, 'logs'),
    log,
  );
  const queries = openReadOnly({
    target: { kind: 'server', url: gatewayUrl, user: 'default', password: '', requestTimeoutMs: 30_000 },
    queryUrl: gatewayUrl,
  });
  const tracker = new HitRateTracker();
  let polling = true;
  let poller: Promise<void> | undefined;
  let report: ChaosReport | undefined;
  // Ctrl-C or a SIGTERM mid-run: stop every process and the private Redis (its own process group
  // does not get the terminal's signal), keep the work directory.
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn({ signal, workDir }, 'chaos run interrupted: stopping everything, the work directory is kept');
    void Promise.allSettled([supervisor.killAll(), redis.kill()]).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await supervisor.start('gateway');
    await Promise.all([supervisor.start('ingest'), supervisor.start('analysis'), supervisor.start('server')]);
    await supervisor.start('scheduler');
    const server = supervisor.get('server')!;
    const first = await getJson<DatabaseStats>(`${apiUrl}/stats`);
    poller = (async () => {
      while (polling) {
        const s = await getJson<{ scheduler?: { decisions?: number; hits?: number; updatedAt?: number } | null }>(
          `${apiUrl}/stats`,
        ).catch(() => undefined);
        tracker.observe(s?.scheduler);
        await sleep(200);
      }
    })();
    const runStart = Date.now();
    log.info(
      { apiUrl, gatewayUrl, redis: redis.url, firstTick: first.firstTick },
      'chaos run: system up, no faults yet',
    );

    const snapshots: { decisions: number; hits: number }[] = [];
    await sleep(beforeMs);
    snapshots.push(tracker.total());
    const faultStart = Date.now();
    const injected: InjectedFault[] = [];
    const running: Promise<void>[] = [];
    for (const f of schedule) {
      await sleep(faultStart + f.atMs - Date.now());
      if (!server.alive) throw new Error(`the server exited during the run:\n${server.tail()}`);
      const record: InjectedFault = { ...f, startedAtMs: Date.now() - runStart, recoveredAfterMs: null };
      injected.push(record);
      log.info({ kind: f.kind, variant: f.variant, durationMs: f.durationMs }, 'fault');
      running.push(
        inject(f, { supervisor, redis, gatewayUrl, tracker }).then(
          (ms) => void (record.recoveredAfterMs = ms),
          (err: unknown) => {
            record.error = String(err);
            log.error({ kind: f.kind, err: String(err) }, 'fault injection failed');
          },
        ),
      );
    }
    await sleep(faultStart + phaseMs - Date.now());
    await Promise.all(running);
    snapshots.push(tracker.total());
    const faultEnd = Date.now();
    log.info({ faults: injected.length }, 'chaos run: faults over; running without faults');
    await sleep(beforeMs);
    const end = await getJson<DatabaseStats>(`${apiUrl}/stats`);
    const runEnd = Date.now();
    snapshots.push(tracker.total());

    // The closed range: the run's first tick to the last tick before now.
    const range = { from: end.firstTick, to: end.nextTick - 1 };
    log.info(range, 'chaos run: waiting for the pipeline to drain');
    let last: CompletenessReport | undefined;
    const drainStart = Date.now();
    while (Date.now() - drainStart < o.drainTimeoutMs) {
      last = await checkCompleteness({ apiUrl, queries, database: DATABASE, ...range, settleMs: 0 }).catch(() => last);
      if (last && isComplete(last)) break;
      await sleep(1000);
    }
    const drainMs = Date.now() - drainStart;
    if (!last) throw new Error('could not count the stored records');

    const windows = await storedWindows(queries, range.from, range.to);
    // Figures from settled periods: the first seconds of a phase still feel the previous one.
    const settle = Math.min(5000, beforeMs / 4);
    const phase = (from: number, to: number, i: number): PhaseFigures => {
      const a = i === 0 ? { decisions: 0, hits: 0 } : snapshots[i - 1]!;
      const b = snapshots[i]!;
      const decisions = b.decisions - a.decisions;
      return {
        ...inBand(windows, from, to),
        schedulerDecisions: decisions,
        hitRate: decisions ? (b.hits - a.hits) / decisions : null,
      };
    };
    const phases = {
      before: phase(runStart + settle, faultStart, 0),
      during: phase(faultStart, faultEnd, 1),
      after: phase(faultEnd + settle, runEnd, 2),
    };
    const total = tracker.total();
    const complete = isComplete(last);
    report = {
      ok: complete && last.duplicatesCounted === 0,
      seed: o.seed,
      minutes: o.minutes,
      tickMs: o.tickMs,
      probabilityScale: o.probabilityScale,
      faultsInjected: injected.length,
      faultsByKind: countByKind(injected),
      completeness: last.completeness,
      executedByDatabase: last.executedByDatabase,
      stored: last.stored,
      missing: last.missing,
      duplicatesCounted: last.duplicatesCounted,
      duplicateRows: last.duplicateRows,
      windowsByDatabase: last.windowsByDatabase,
      windowsStored: last.windowsStored,
      tickRange: range,
      drainMs,
      hitRate: total.decisions ? total.hits / total.decisions : null,
      schedulerDecisions: total.decisions,
      inBandBeforeFaults: phases.before.inBand,
      inBandDuringFaults: phases.during.inBand,
      inBandAfterFaults: phases.after.inBand,
      phases,
      unplannedExits: supervisor.unplannedExits.map(({ tail: _t, ...e }) => e),
      faults: injected,
    };
    polling = false;
    await poller;
    const exits = await supervisor.stopAll(['scheduler', 'server', 'ingest', 'analysis', 'gateway']);
    const unclean = Object.entries(exits).filter(([, e]) => e.code !== 0);
    if (unclean.length > 0) log.warn({ exits: Object.fromEntries(unclean) }, 'some processes did not stop cleanly');
    return report;
  } catch (err) {
    log.error({ err: String(err) }, 'chaos run failed');
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    polling = false;
    await poller;
    await queries.close().catch(() => undefined);
    await supervisor.killAll();
    await redis.stop().catch(() => redis.kill());
    if (report?.ok && !o.keepWorkDir && !o.workDir) fs.rmSync(workDir, { recursive: true, force: true });
    else if (report) report.workDir = workDir;
    else log.warn({ workDir }, 'chaos run: the work directory (logs, data) is kept');
  }
}

interface Injectors {
  supervisor: Supervisor;
  redis: RedisServer;
  gatewayUrl: string;
  tracker: HitRateTracker;
}

const COMPONENT: Partial<Record<FaultKind, string>> = {
  'kill-ingest': 'ingest',
  'kill-scheduler': 'scheduler',
  'kill-analysis': 'analysis',
};

/** Injects one fault and resolves, once it is over, with how long until the component was back. */
async function inject(f: PlannedFault, x: Injectors): Promise<number> {
  const t0 = Date.now();
  const component = COMPONENT[f.kind];
  if (component) {
    if (component === 'scheduler') x.tracker.processEnded();
    await x.supervisor.kill(component, 'SIGKILL');
    await sleep(f.durationMs);
    await x.supervisor.start(component);
    return Date.now() - t0;
  }
  if (f.kind === 'restart-redis') {
    if (f.variant === 'SIGKILL') await x.redis.kill();
    else await x.redis.stop();
    await sleep(f.durationMs);
    await x.redis.restart();
    return Date.now() - t0;
  }
  await getJson(`${x.gatewayUrl}${FAULT_PATH}?ms=${f.durationMs}&mode=${f.variant}`, { method: 'POST' });
  await sleep(f.durationMs);
  return Date.now() - t0;
}

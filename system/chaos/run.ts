/**
 * The chaos run (issue 6 item 3): the whole system as separate processes — its own redis-server
 * (append-only, fsync per write), the ClickHouse HTTP gateway (chDB; the one process that owns the
 * data directory), the server (database in real time + API + capture), ingest, analysis (short
 * interval) and the scheduler — then faults on a seeded schedule (schedule.ts): SIGKILL and restart
 * of ingest, of the scheduler, of the analysis job and of the database server (restarted on the
 * same data directory: a new run), Redis stopped (SIGTERM or SIGKILL) and started again on the same
 * port and data directory, ClickHouse failing every INSERT for a while (the gateway's fault switch,
 * refusing or losing the reply), the server's outbox filesystem full (outbox-disk.ts), and each
 * network link cut or hung by its fault proxy (fault-proxy.ts, links.ts; injectors.ts). At the end
 * the faults have stopped, the scheduler and the server stop cleanly, and every execution and
 * window of every completed tick of every server run must be stored in ClickHouse once, counted
 * from the ledgers the server kept on disk (runs-completeness.ts), within the drain timeout.
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
import { openReadOnly, type ReadOnlyQueries } from '../../clickhouse/index.js';
import { freePort } from '../../common/free-port.js';
import { BUNDLES_ENV, buildBundles, bundlesDir } from '../cli-bundles.js';
import { RedisServer } from '../private-redis.js';
import { ROOT } from '../service-process.js';
import { isComplete } from '../verify.js';
import { FaultProxy } from './fault-proxy.js';
import { ratesAroundFaults, type HitSample, type RateFigures } from './fault-windows.js';
import { FaultInjector } from './injectors.js';
import { LINKS, type Link } from './links.js';
import { outboxDisk, type OutboxDisk } from './outbox-disk.js';
import { runsCompleteness, type RunsCompleteness } from './runs-completeness.js';
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
  /** Ms from the injection until the fault ended (the process started again, the link healed, …). */
  recoveredAfterMs: number | null;
  /** Ms from the end of the fault until every affected component was healthy again (injectors.ts). */
  healthyAfterMs: number | null;
  /** Per affected component (and the link of a partition), ms until it was healthy. */
  healthyAfterMsOf?: Record<string, number | null>;
  error?: string;
}

export interface PhaseFigures {
  windows: number;
  inBand: number | null;
  schedulerDecisions: number;
  hitRate: number | null;
}

/** The run's report; the completeness figures are `npm run verify`'s, over the run's whole tick range. */
export interface ChaosReport extends Omit<RunsCompleteness, 'runs'> {
  ok: boolean;
  seed: string;
  minutes: number;
  tickMs: number;
  probabilityScale: number;
  faultsInjected: number;
  faultsByKind: Record<FaultKind, number>;
  /** The server's runs (one per start) and the ticks of each that were counted. */
  runs: RunsCompleteness['runs'];
  tickRange: { from: number; to: number };
  drainMs: number;
  /** The longest `healthyAfterMs` of the run's faults (null: one never was healthy again). */
  maxHealthyAfterMs: number | null;
  /** Scheduler hit rate and in-band rate outside and inside fault windows (fault-windows.ts). */
  outsideFaults: RateFigures;
  insideFaults: RateFigures;
  /** How the full disk was produced: a real tmpfs, or injected ENOSPC where mounting is refused. */
  diskFull: OutboxDisk['kind'];
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

const COMPONENT_ENTRIES = {
  gateway: 'clickhouse/gateway-main.ts',
  ingest: 'ingest/main.ts',
  analysis: 'analysis/main.ts',
  server: 'server/main.ts',
  scheduler: 'scheduler/main.ts',
};

/** Size of the outbox filesystem: far above what a few seconds of a relay outage queue up. */
const OUTBOX_DISK_BYTES = 128 * 1024 * 1024;

/** The ticks at which the server fail-stopped (its log's fatal line names the next tick). */
function failedTicks(serverLog: string): number[] {
  if (!fs.existsSync(serverLog)) return [];
  const ticks: number[] = [];
  for (const line of fs.readFileSync(serverLog, 'utf8').split('\n')) {
    if (!line.includes('tick failed; the database stopped')) continue;
    try {
      const { tick } = JSON.parse(line) as { tick?: number };
      if (typeof tick === 'number') ticks.push(tick - 1);
    } catch {
      // a torn last line: not a record
    }
  }
  return ticks;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.logger;
  const workDir = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spike-chaos-'));
  fs.mkdirSync(path.join(workDir, 'logs'), { recursive: true });
  const { quietMs: beforeMs, faultMs: phaseMs } = chaosPhases(o.minutes);
  const schedule = faultSchedule({ seed: o.seed, phaseMs, meanIntervalMs: o.faultIntervalMs, kinds: o.kinds });
  log.info({ workDir, faults: schedule.length, byKind: countByKind(schedule) }, 'chaos run: starting the system');

  // Each component compiled once (cli-bundles.ts): a restart then starts in about half the time
  // tsx's loader takes, and restarts are a large part of the recovery this run measures.
  const ownBundles = process.env[BUNDLES_ENV] ? undefined : bundlesDir(ROOT);
  if (ownBundles) {
    await buildBundles(ROOT, ownBundles, Object.values(COMPONENT_ENTRIES));
    process.env[BUNDLES_ENV] = ownBundles;
  }
  const redis = await RedisServer.start({ dir: path.join(workDir, 'redis'), persistence: 'aof' });
  const [gatewayPort, apiPort, ingestHealthPort] = [await freePort(), await freePort(), await freePort()];
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const proxies = {} as Record<Link, FaultProxy>;
  for (const link of LINKS) {
    const port = link.endsWith('-redis') ? redis.port : link.endsWith('-api') ? apiPort : gatewayPort;
    proxies[link] = await FaultProxy.start(link, { host: '127.0.0.1', port });
  }
  const via = (link: Link) => `${link.endsWith('-redis') ? 'redis' : 'http'}://${proxies[link].address}`;
  const outboxDir = path.join(workDir, 'outbox');
  const disk = outboxDisk(outboxDir, OUTBOX_DISK_BYTES);
  log.info({ disk: disk.kind, outboxDir }, 'chaos run: the outbox has a filesystem of its own');
  const common = { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, CLICKHOUSE_URL: gatewayUrl };
  const supervisor = new Supervisor(
    {
      gateway: {
        entry: COMPONENT_ENTRIES.gateway,
        args: ['--gateway-port', String(gatewayPort), '--clickhouse-data', path.join(workDir, 'clickhouse')],
        env: { CLICKHOUSE_GATEWAY_FAULT_CONTROL: 'true' },
        ready: 'clickhouse gateway listening',
      },
      ingest: {
        entry: COMPONENT_ENTRIES.ingest,
        // A killed worker's jobs come back after their lock expires: 5 s here instead of 30 s.
        env: {
          ...common,
          REDIS_URL: via('ingest-redis'),
          CLICKHOUSE_URL: via('ingest-clickhouse'),
          INGEST_LOCK_MS: '5000',
          INGEST_STALLED_INTERVAL_MS: '1000',
          INGEST_STATS_INTERVAL_MS: '0',
          INGEST_HEALTH_PORT: String(ingestHealthPort),
        },
        ready: 'ingest running',
      },
      analysis: {
        entry: COMPONENT_ENTRIES.analysis,
        env: {
          ...common,
          CLICKHOUSE_URL: via('analysis-clickhouse'),
          ANALYSIS_INTERVAL_MS: String(o.analysisIntervalMs),
          ANALYSIS_SETTLE_MS: '1000',
          // A killed run's lock expires after this long (60 s by default), then the next run goes on.
          ANALYSIS_LOCK_TTL_MS: '10000',
        },
        ready: 'analysis running',
      },
      server: {
        entry: COMPONENT_ENTRIES.server,
        env: {
          ...disk.env,
          REDIS_URL: via('server-redis'),
          REDIS_PREFIX: PREFIX,
          PORT: String(apiPort),
          SIM_SEED: o.seed,
          SIM_TICK_MS: String(o.tickMs),
          SIM_PROBABILITY_SCALE: String(o.probabilityScale),
          DATA_DIR: workDir,
          OUTBOX_DIR: outboxDir,
          RELAY_BACKOFF_MAX_MS: '1000',
          RELAY_DRAIN_TIMEOUT_MS: '60000',
        },
        ready: 'database running',
        // Restarts are the faults' to make (kill-server, disk-full): an exit unasked fails the run.
        restartOnExit: false,
      },
      scheduler: {
        entry: COMPONENT_ENTRIES.scheduler,
        env: {
          ...common,
          REDIS_URL: via('scheduler-redis'),
          SERVER_URL: via('scheduler-api'),
          SCHEDULER_STATS_INTERVAL_MS: '250',
        },
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
  const samples: HitSample[] = [];
  let polling = true;
  let poller: Promise<void> | undefined;
  let report: ChaosReport | undefined;
  // Ctrl-C or a SIGTERM mid-run: stop every process and the private Redis (its own process group
  // does not get the terminal's signal), keep the work directory.
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn({ signal, workDir }, 'chaos run interrupted: stopping everything, the work directory is kept');
    void Promise.allSettled([supervisor.killAll(), redis.kill()]).then(() => {
      try {
        disk.remove();
      } catch {
        // still busy: the mount stays with the work directory, which is kept anyway
      }
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await supervisor.start('gateway');
    await Promise.all([supervisor.start('ingest'), supervisor.start('analysis'), supervisor.start('server')]);
    await supervisor.start('scheduler');
    const first = await getJson<DatabaseStats>(`${apiUrl}/stats`);
    poller = (async () => {
      while (polling) {
        const s = await getJson<{ scheduler?: { decisions?: number; hits?: number; updatedAt?: number } | null }>(
          `${apiUrl}/stats`,
        ).catch(() => undefined);
        tracker.observe(s?.scheduler);
        samples.push({ at: Date.now(), ...tracker.total() });
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
    const windows: { from: number; to: number }[] = [];
    const running: Promise<void>[] = [];
    const injector = new FaultInjector({
      supervisor,
      redis,
      gatewayUrl,
      apiUrl,
      ingestHealthUrl: `http://127.0.0.1:${ingestHealthPort}`,
      proxies,
      disk,
      schedulerEnds: () => tracker.processEnded(),
      logger: log,
    });
    const serverExitedUnasked = () => supervisor.unplannedExits.find((e) => e.name === 'server');
    for (const f of schedule) {
      await sleep(faultStart + f.atMs - Date.now());
      const exit = serverExitedUnasked();
      if (exit) throw new Error(`the server exited during the run:\n${exit.tail}`);
      const record: InjectedFault = {
        ...f,
        startedAtMs: Date.now() - runStart,
        recoveredAfterMs: null,
        healthyAfterMs: null,
      };
      injected.push(record);
      log.info({ kind: f.kind, variant: f.variant, durationMs: f.durationMs }, 'fault');
      const startedAt = Date.now();
      running.push(
        injector.inject(f).then(
          (r) => {
            Object.assign(record, {
              recoveredAfterMs: r.recoveredAfterMs,
              healthyAfterMs: r.healthyAfterMs,
              healthyAfterMsOf: r.healthyAfterMsOf,
            });
            windows.push({ from: startedAt, to: r.endedAt + (r.healthyAfterMs ?? 0) });
            if (r.healthyAfterMs === null) record.error = 'not healthy again within 60 s';
          },
          (err: unknown) => {
            record.error = String(err);
            windows.push({ from: startedAt, to: Date.now() });
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
    const exit = serverExitedUnasked();
    if (exit) throw new Error(`the server exited during the run:\n${exit.tail}`);
    const end = await getJson<DatabaseStats>(`${apiUrl}/stats`);
    const runEnd = Date.now();
    snapshots.push(tracker.total());
    polling = false;
    await poller;

    // The end: the scheduler, then the server stop cleanly (the server's relay sends what its
    // outbox holds, its ledger gets its end mark); every completed tick of every run is counted.
    const stops = await supervisor.stopAll(['scheduler', 'server']);
    if (stops.server && stops.server.code !== 0) log.warn({ exit: stops.server }, 'the server did not stop cleanly');
    const range = { from: first.firstTick, to: end.nextTick - 1 };
    log.info(range, 'chaos run: waiting for the pipeline to drain');
    const count = () =>
      runsCompleteness({
        ledgerDir: path.join(outboxDir, 'ledger'),
        queries,
        database: DATABASE,
        failedTicks: failedTicks(path.join(workDir, 'logs', 'server.log')),
      });
    let last: RunsCompleteness | undefined;
    const drainStart = Date.now();
    while (Date.now() - drainStart < o.drainTimeoutMs) {
      last = await count().catch((err: unknown) => {
        log.warn({ err: String(err) }, 'chaos run: counting failed; retrying');
        return last;
      });
      if (last && isComplete({ ...last, from: range.from, to: range.to })) break;
      await sleep(1000);
    }
    const drainMs = Date.now() - drainStart;
    if (!last) throw new Error('could not count the stored records');

    const stored = await storedWindows(queries, range.from, range.to);
    // Figures from settled periods: the first seconds of a phase still feel the previous one.
    const settle = Math.min(5000, beforeMs / 4);
    const phase = (from: number, to: number, i: number): PhaseFigures => {
      const a = i === 0 ? { decisions: 0, hits: 0 } : snapshots[i - 1]!;
      const b = snapshots[i]!;
      const decisions = b.decisions - a.decisions;
      return {
        ...inBand(stored, from, to),
        schedulerDecisions: decisions,
        hitRate: decisions ? (b.hits - a.hits) / decisions : null,
      };
    };
    const phases = {
      before: phase(runStart + settle, faultStart, 0),
      during: phase(faultStart, faultEnd, 1),
      after: phase(faultEnd + settle, runEnd, 2),
    };
    const around = ratesAroundFaults({
      faults: windows,
      samples,
      windows: stored.map((w) => ({ t: w.t, inBand: windowInBand(w) })),
      windowMs: first.tickMs * first.metricsWindowTicks,
      from: runStart + settle,
      to: runEnd,
    });
    const healthy = injected.map((f) => f.healthyAfterMs);
    const total = tracker.total();
    const complete = isComplete({ ...last, from: range.from, to: range.to });
    report = {
      ok: complete && last.duplicatesCounted === 0,
      seed: o.seed,
      minutes: o.minutes,
      tickMs: o.tickMs,
      probabilityScale: o.probabilityScale,
      faultsInjected: injected.length,
      faultsByKind: countByKind(injected),
      ...last,
      tickRange: range,
      drainMs,
      maxHealthyAfterMs: healthy.includes(null) ? null : Math.max(0, ...(healthy as number[])),
      hitRate: total.decisions ? total.hits / total.decisions : null,
      schedulerDecisions: total.decisions,
      inBandBeforeFaults: phases.before.inBand,
      inBandDuringFaults: phases.during.inBand,
      inBandAfterFaults: phases.after.inBand,
      phases,
      ...around,
      diskFull: disk.kind,
      unplannedExits: supervisor.unplannedExits.map(({ tail: _t, ...e }) => e),
      faults: injected,
    };
    const exits = await supervisor.stopAll(['ingest', 'analysis', 'gateway']);
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
    await Promise.all(Object.values(proxies).map((p) => p.close()));
    try {
      disk.remove();
    } catch (err) {
      log.warn({ err: String(err), outboxDir }, 'chaos run: could not unmount the outbox filesystem');
    }
    if (ownBundles) {
      fs.rmSync(ownBundles, { recursive: true, force: true });
      delete process.env[BUNDLES_ENV];
    }
    if (report?.ok && !o.keepWorkDir && !o.workDir) fs.rmSync(workDir, { recursive: true, force: true });
    else if (report) report.workDir = workDir;
    else log.warn({ workDir }, 'chaos run: the work directory (logs, data) is kept');
  }
}

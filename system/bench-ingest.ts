/**
 * `npm run bench:ingest -- [--json] [--rates 5000,10000,20000,40000] [--seconds 15] [--repeat 1]`:
 * the capture pipeline's end-to-end throughput and freshness, outbox → relay → BullMQ → ingest →
 * ClickHouse, on this machine, against the shared Redis under a unique key prefix (removed at the end).
 *
 * The producing side runs in this process exactly as the server runs it (simulated database on the
 * real-time driver, `capture.commit()` after every tick, the relay in the background); the ingest
 * is its own process (`ingest/main.ts`, its own chDB directory), so the two use the machine's two
 * cores as they would in compose. Each step offers one rate for `--seconds`: the database's
 * probability scale is solved so that the expected executions per second equal the rate, with
 * virtual time = real time, so `inserted_at − executed_at` is the real execution-to-queryable time.
 * After each step the outbox and the queues drain before the next one starts. At the end the ingest
 * stops and ClickHouse is read here: per step, completeness (the product's counting queries against
 * the database's ledger), freshness p50/p99, how much was queryable when the step ended.
 *
 * Also measured in the same run: freshness at the default load (probability scale 1, 100 ms ticks,
 * real time), and raw BullMQ `addBulk` jobs/s on the same Redis as the reference, at the start and
 * right before every trial, so each trial has a ratio to what BullMQ did on the machine at that time. Capture and ingest use the product defaults; RELAY_* / INGEST_* environment variables
 * change them as they would in production (the child inherits the environment).
 * Progress goes to stderr; the result (JSON) to stdout. Exit code 0 when it ran, 1 on a failure,
 * 2 on a bad flag.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT_FAILURE, EXIT_USAGE, exitWithUsageError, readCommandLine } from '../common/cli.js';
import { ConfigError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { redisSettings } from '../common/redis-settings.js';
import { loadSettings } from '../common/settings.js';
import { ClickHouseStore, createClickHouse } from '../clickhouse/index.js';
import {
  captureSettings,
  compileCaptureOptions,
  readRedisPersistence,
  type CaptureOptions,
} from '../server/capture/index.js';
import { DEFAULT_SIMULATION } from '../server/options.js';
import { measureAddBulk, type AddBulkRun } from './bench/add-bulk-reference.js';
import { IngestProcess } from './bench/ingest-process.js';
import { loadShape, UnreachableRateError, type LoadShape } from './bench/load-shape.js';
import { benchSettings, parseRates, stepQueryCount } from './bench/options.js';
import { pacedRun, type PacedRunResult } from './bench/paced-run.js';
import { PipelineQueues, removePrefix, type Backlog } from './bench/queues.js';
import { readStoredRun } from './bench/stored-run.js';
import { isSustained, median, summarise, type Trial } from './bench/summary.js';

const { redisUrl: redisUrlSetting } = redisSettings;
const cliRedis = { redisUrl: redisUrlSetting };
const [v, redis] = readCommandLine(
  {
    name: 'bench:ingest',
    description: 'End-to-end throughput and freshness of the capture pipeline (outbox → BullMQ → ingest → ClickHouse).',
  },
  benchSettings,
  cliRedis,
);
let rates: number[];
let queryCount: number;
let captureBase: CaptureOptions;
try {
  rates = parseRates(v);
  queryCount = stepQueryCount(v, rates);
  // Refuse a rate the catalog cannot produce before anything starts.
  for (const rate of rates) loadShape({ seed: 'check', perSecond: rate, tickMs: v.tickMs, queryCount });
  // RELAY_* settings from the environment, as the server reads them; the outbox and prefix are ours.
  captureBase = compileCaptureOptions(loadSettings(captureSettings, { env: process.env }));
} catch (error) {
  if (error instanceof ConfigError) exitWithUsageError(error);
  if (error instanceof UnreachableRateError) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  throw error;
}

const progress = (msg: string) => process.stderr.write(`[bench:ingest] ${msg}\n`);
const logger = createLogger('bench-ingest', process.env.LOG_LEVEL ?? 'warn');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
const prefix = `bench-ingest-${randomBytes(4).toString('hex')}`;
const referencePrefix = `${prefix}-reference`;
const dataPath = path.join(work, 'clickhouse');
let ingest: IngestProcess | undefined;

async function cleanUp(): Promise<void> {
  ingest?.kill();
  await removePrefix(redis.redisUrl, prefix).catch(() => undefined);
  await removePrefix(redis.redisUrl, referencePrefix).catch(() => undefined);
  fs.rmSync(work, { recursive: true, force: true });
}
process.once('SIGINT', () => {
  progress('interrupted: cleaning up');
  void cleanUp().finally(() => process.exit(130));
});

const references: AddBulkRun[] = [];

/** One raw addBulk measurement; every one is kept for the run's median. */
async function reference(when: string): Promise<number> {
  const run = await measureAddBulk({
    url: redis.redisUrl,
    prefix: referencePrefix,
    jobs: v.referenceJobs,
    chunk: v.referenceChunk,
  });
  progress(`reference (${when}): addBulk ${run.jobsPerSecond} jobs/s`);
  references.push(run);
  return run.jobsPerSecond;
}

interface Measured {
  run: PacedRunResult;
  /** Raw addBulk jobs/s measured right before this trial. */
  referenceJobsPerSecond: number;
  targetPerSecond: number;
  probabilityScale: number;
  executionsPerTick: number;
  seconds: number;
  backlogAtEnd: Backlog;
  drainSeconds: number | null;
}

/** One step: offer the load, then wait until the outbox and the queues are empty. */
async function step(
  queues: PipelineQueues,
  label: string,
  shape: LoadShape,
  seconds: number,
  index: number,
): Promise<Omit<Measured, 'referenceJobsPerSecond'>> {
  let backlogAtEnd: Backlog = { waiting: 0, active: 0, failed: 0, deadLetters: 0 };
  let elapsed = 0;
  const capture: CaptureOptions = {
    ...captureBase,
    outboxDir: path.join(work, `outbox-${index}`),
    redisUrl: redis.redisUrl,
    prefix,
    // Throwaway records under the bench's own prefix, removed at the end: nothing a volatile Redis
    // could lose matters here (the figures say which Redis they were measured on).
    allowVolatileRedis: true,
    // Closing the capture sends everything left in the outbox, however long that takes here.
    drainTimeoutMs: v.drainTimeoutSeconds * 1000,
  };
  const run = await pacedRun({
    simulation: shape.options,
    capture,
    seconds,
    logger,
    onSecond: (db, outbox) => {
      elapsed++;
      if (elapsed % 5 === 0)
        progress(`${label}: ${elapsed}s, executed ${db.stats().executedTotal}, outbox backlog ${outbox}`);
    },
    onStopped: async () => {
      backlogAtEnd = await queues.backlog();
    },
  });
  const emptied = await queues.waitUntilEmpty(v.drainTimeoutSeconds * 1000);
  const drainSeconds = emptied && run.drained ? Math.round((Date.now() - run.endedAt) / 100) / 10 : null;
  progress(
    `${label}: executed ${run.executed} (${Math.round(run.executed / seconds)}/s), ` +
      `${drainSeconds === null ? 'did NOT drain' : `drained ${drainSeconds}s after the end`}`,
  );
  return {
    run,
    targetPerSecond: shape.perSecond,
    probabilityScale: shape.options.probabilityScale,
    executionsPerTick: shape.perTick,
    seconds,
    backlogAtEnd,
    drainSeconds,
  };
}

async function main() {
  const loadAverageAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const redisPersistence = await readRedisPersistence(redis.redisUrl);
  progress(`prefix ${prefix} on ${redis.redisUrl}; work dir ${work}`);
  for (let i = 0; i < v.referenceRuns; i++) await reference(`start ${i + 1}/${v.referenceRuns}`);

  progress('starting the ingest process');
  ingest = await IngestProcess.start({ REDIS_URL: redis.redisUrl, REDIS_PREFIX: prefix, CLICKHOUSE_DATA: dataPath });
  const queues = new PipelineQueues(redis.redisUrl, prefix);
  let index = 0;

  // The default load: production parameters, real time.
  const defaultSeed = `bench-default-${prefix}`;
  const defaultShape: LoadShape = {
    options: { ...DEFAULT_SIMULATION, seed: defaultSeed },
    perTick: NaN,
    perSecond: NaN,
  };
  progress(`default load for ${v.defaultSeconds}s (probability scale 1, ${DEFAULT_SIMULATION.tickMs} ms ticks)`);
  const defaultLoad = await step(queues, 'default load', defaultShape, v.defaultSeconds, index++);

  // Repeats go round all the rates (not one rate several times in a row), so that a change in the
  // shared machine's load hits every rate alike; each trial is preceded by its own reference.
  const measured: Measured[][] = rates.map(() => []);
  for (let r = 0; r < v.repeat; r++) {
    for (const [i, rate] of rates.entries()) {
      const shape = loadShape({ seed: `bench-${rate}-${r}`, perSecond: rate, tickMs: v.tickMs, queryCount });
      const label = `${rate}/s${v.repeat > 1 ? ` #${r + 1}` : ''}`;
      const referenceJobsPerSecond = await reference(`before ${label}`);
      progress(`${label}: ${v.seconds}s at ${shape.perTick.toFixed(1)} executions per ${v.tickMs} ms tick`);
      const m = await step(queues, label, shape, v.seconds, index++);
      measured[i]!.push({ ...m, referenceJobsPerSecond });
    }
  }
  await queues.close();
  progress('stopping the ingest process');
  const ingestExit = await ingest.stop();
  if (ingestExit !== 0) progress(`ingest exited with ${ingestExit}:\n${ingest.log.slice(-4000)}`);

  // The ingest has exited: this process may open its chDB directory now.
  const client = createClickHouse({ kind: 'embedded', dataPath });
  const store = new ClickHouseStore(client);
  const trialsOut: Trial[][] = [];
  let defaultOut;
  try {
    const d = await readStoredRun(store, defaultLoad.run, []);
    defaultOut = {
      seconds: v.defaultSeconds,
      tickMs: DEFAULT_SIMULATION.tickMs,
      probabilityScale: DEFAULT_SIMULATION.probabilityScale,
      executed: d.executedByDatabase,
      stored: d.stored,
      completeness: d.completeness,
      duplicatesCounted: d.duplicatesCounted,
      windows: { byDatabase: d.windowsByDatabase, stored: d.windowsStored },
      freshnessMs: d.freshnessMs,
    };
    for (const trials of measured) {
      const out: Trial[] = [];
      for (const m of trials) {
        const { run } = m;
        const mid = run.startedAt + (run.endedAt - run.startedAt) / 2;
        const s = await readStoredRun(store, run, [mid, run.endedAt]);
        const [byMid, byEnd] = s.storedBy as [number, number];
        const executedPerSecond = run.executed / m.seconds;
        const notYetStored = Math.max(0, run.executed - byEnd);
        const steadyStoredPerSecond = Math.round(((byEnd - byMid) * 1000) / (run.endedAt - mid));
        const trial: Omit<Trial, 'sustained'> = {
          targetPerSecond: m.targetPerSecond,
          probabilityScale: Math.round(m.probabilityScale * 1000) / 1000,
          executionsPerTick: Math.round(m.executionsPerTick * 10) / 10,
          seconds: m.seconds,
          executed: run.executed,
          executedPerSecond: Math.round(executedPerSecond),
          storedPerSecond: Math.round(byEnd / m.seconds),
          steadyStoredPerSecond,
          backlogAtEnd: {
            executions: notYetStored,
            seconds: Math.round((notYetStored / Math.max(1, executedPerSecond)) * 100) / 100,
            outboxRecords: run.outboxBacklog,
            queuedJobs: m.backlogAtEnd.waiting,
            activeJobs: m.backlogAtEnd.active,
          },
          drainSeconds: m.drainSeconds,
          completeness: s.completeness,
          missing: s.missing,
          duplicatesCounted: s.duplicatesCounted,
          windows: { byDatabase: s.windowsByDatabase, stored: s.windowsStored },
          freshnessMs: s.freshnessMs,
          worstTickLagMs: run.worstTickLagMs,
          referenceJobsPerSecond: m.referenceJobsPerSecond,
          ratioToAddBulk: Math.round((steadyStoredPerSecond / m.referenceJobsPerSecond) * 100) / 100,
        };
        out.push({ ...trial, sustained: isSustained(trial, v.behindSeconds) });
      }
      trialsOut.push(out);
    }
  } finally {
    await client.close();
  }

  const steps = trialsOut.map((trials) => ({ ...summarise(trials), runs: trials }));
  const sustained = steps.filter((s) => s.sustained);
  const best =
    sustained.length === 0 ? null : sustained.reduce((a, b) => (b.targetPerSecond > a.targetPerSecond ? b : a));
  const referenceJobsPerSecond = median(references.map((r) => r.jobsPerSecond));
  const result = {
    command: `npm run bench:ingest -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
      /** An fsync per write (appendfsync always) makes Redis slower than a volatile one. */
      redisPersistence: redisPersistence?.detail ?? null,
    },
    settings: {
      rates,
      seconds: v.seconds,
      repeat: v.repeat,
      tickMs: v.tickMs,
      queryCount,
      maxBehindSeconds: v.behindSeconds,
      relay: {
        groupAbove: captureBase.groupAbove,
        batchSize: captureBase.batchSize,
        concurrency: captureBase.concurrency,
      },
      ingestEnvironment: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('INGEST_'))),
    },
    reference: {
      what: `raw BullMQ addBulk, ${v.referenceChunk} single-record jobs per call, one call at a time, ${v.referenceJobs} jobs per measurement`,
      /** Median of every measurement: at the start and right before each trial. */
      jobsPerSecond: referenceJobsPerSecond,
      runs: references.map((r) => r.jobsPerSecond),
    },
    defaultLoad: defaultOut,
    steps,
    highestSustained:
      best === null
        ? null
        : {
            targetPerSecond: best.targetPerSecond,
            storedPerSecond: best.storedPerSecond,
            steadyStoredPerSecond: best.steadyStoredPerSecond,
            freshnessP99Ms: best.freshnessP99Ms,
            /** End-to-end executions/s ÷ raw addBulk jobs/s measured right before (median over trials). */
            ratioToAddBulk: best.ratioToAddBulk,
          },
    targets: {
      sustained20kPerSecond: sustained.some((s) => s.targetPerSecond >= 20_000),
      defaultFreshnessP99Under2s:
        defaultOut.freshnessMs.p99Ms !== null && defaultOut.freshnessMs.p99Ms < 2000 && defaultOut.completeness === 1,
    },
  };
  if (!v.json) {
    for (const s of steps) {
      process.stdout.write(
        `${String(s.targetPerSecond).padStart(7)}/s offered: ran ${s.executedPerSecond}/s, stored ${s.steadyStoredPerSecond}/s (steady), ` +
          `${s.backlogAtEndSeconds}s behind at the end, completeness ${s.completeness}, freshness p50 ${s.freshnessP50Ms} ms p99 ${s.freshnessP99Ms} ms, ` +
          `${s.ratioToAddBulk}× raw addBulk (${s.referenceJobsPerSecond} jobs/s)` +
          `${s.sustained ? ' — sustained' : ''}\n`,
      );
    }
    process.stdout.write(
      `default load: freshness p50 ${defaultOut.freshnessMs.p50Ms} ms, p99 ${defaultOut.freshnessMs.p99Ms} ms, completeness ${defaultOut.completeness}\n` +
        `raw addBulk reference: ${referenceJobsPerSecond} jobs/s\n`,
    );
  }
  process.stdout.write(JSON.stringify(result, null, v.json ? undefined : 2) + '\n');
}

try {
  await main();
} catch (err) {
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = EXIT_FAILURE;
} finally {
  await cleanUp();
}
// Nothing is left to wait for; do not let a library's idle handle keep the process alive.
process.exit();

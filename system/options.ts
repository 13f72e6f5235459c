/**
 * Settings of the embedded system (`npm start`): every component's settings in one program, plus
 * the few that belong to the whole (the read-only SQL endpoint). Each component keeps its own
 * declaration; this file only lists which ones `npm start` takes.
 */
import { dataDirSettings, inDataDir, underDataDir } from '../common/data-dir.js';
import { DEFAULT_REDIS_URL, redisSettings, redisUrlSetting } from '../common/redis-settings.js';
import { integer, loadSettings, text, toggle, type SettingValues } from '../common/settings.js';
import { analysisSettings, compileAnalysisOptions } from '../analysis/options.js';
import { clickhouseSettings, compileClickHouseOptions } from '../clickhouse/client.js';
import { readOnlyLimitSettings, readOnlyPoolSettings } from '../clickhouse/read-only.js';
import { checkThreadPool } from '../clickhouse/read-only-pool.js';
import { httpInterfaceSettings } from '../clickhouse/http-interface.js';
import { compileIngestOptions, ingestSettings } from '../ingest/options.js';
import { captureSettings, compileCaptureOptions } from '../server/capture/options.js';
import { catalogSettings, serverSimulationSettings } from '../server/catalog-file.js';
import { compileSimulationOptions, DEFAULT_SIMULATION, serverSettings } from '../server/options.js';
import type { EmbeddedOptions } from './embedded.js';
import { compileServiceOptions, policySettings, schedulerServiceSettings } from '../scheduler/index.js';

export const systemSettings = {
  ...dataDirSettings,
  ...catalogSettings,
  queryPort: integer({
    flag: '--query-port',
    env: 'QUERY_PORT',
    default: 8124,
    min: 0,
    max: 65535,
    doc: 'Port of the read-only JSON SQL endpoint (POST /query) on 127.0.0.1; the tools use the ClickHouse interface (--clickhouse-http-port).',
  }),
  ...httpInterfaceSettings,
  ...readOnlyLimitSettings,
  ...readOnlyPoolSettings,
  reportsDir: text({
    flag: '--reports-dir',
    env: 'REPORTS_DIR',
    default: './reports',
    maxLength: 4096,
    doc: 'Where the periodic analysis writes the HTML report after each run.',
  }),
  noReports: toggle({
    flag: '--without-reports',
    env: 'WITHOUT_REPORTS',
    default: false,
    doc: 'Do not write reports after analysis runs.',
  }),
  withoutOffload: toggle({
    flag: '--without-offload',
    env: 'WITHOUT_OFFLOAD',
    default: false,
    doc: 'Run the analysis solve and the report rendering on the main event loop (time-sliced) instead of a worker thread: for comparison.',
  }),
  withoutScheduler: toggle({
    flag: '--without-scheduler',
    env: 'WITHOUT_SCHEDULER',
    default: false,
    doc: 'Run the database unscheduled (no /delay is sent).',
  }),
  schedulerStartAfterS: integer({
    flag: '--scheduler-start-after-s',
    env: 'SCHEDULER_START_AFTER_S',
    default: 0,
    min: 0,
    max: 86_400,
    doc: 'Start the scheduler this many seconds after the database: a run that starts unscheduled and then turns the scheduler on (the report shows before/after).',
  }),
  privateRedisDir: underDataDir(
    text({
      flag: '--private-redis-dir',
      env: 'PRIVATE_REDIS_DIR',
      default: undefined,
      maxLength: 4096,
      doc: 'When REDIS_URL does not answer, or is unset and the default Redis is not durable, and redis-server is on the PATH: data directory of the private Redis started instead (append-only, free port on 127.0.0.1, stopped on exit).',
    }),
    'redis',
  ),
};

/** The private Redis's directory in use: the one given, or `<data-dir>/redis`. */
export function privateRedisDirOf(v: SystemSettingValues): string {
  return inDataDir(v.dataDir, v.privateRedisDir, 'redis');
}

/** Every spec `npm start` reads, in one list; shared Redis settings appear once. */
export function embeddedSpecs() {
  const { redisUrl: _u, prefix: _p, ...ingestOwn } = ingestSettings;
  const { redisUrl: _u2, prefix: _p2, ...captureRest } = captureSettings;
  const captureOwn = { ...captureRest, outboxDir: underDataDir(captureRest.outboxDir, 'outbox') };
  const { redisUrl: _u3, prefix: _p3, ...analysisOwn } = analysisSettings;
  // In one process the scheduler talks to the API it runs beside: no SERVER_URL.
  // Its idle collection too: the server's, in the same process, serves both.
  const { serverUrl: _s, withoutIdleGc: _g, ...schedulerOwn } = schedulerServiceSettings;
  return {
    simulation: serverSimulationSettings,
    server: serverSettings,
    // No default: a Redis the user named is used (or refused) as is; the default may be replaced.
    redis: {
      ...redisSettings,
      redisUrl: redisUrlSetting(
        undefined,
        `Redis that holds the queues, the queued-events stream and the locks. Unset (npm start): ${DEFAULT_REDIS_URL} when it answers and is durable, otherwise a private redis-server.`,
      ),
    },
    capture: captureOwn,
    clickhouse: { ...clickhouseSettings, dataPath: underDataDir(clickhouseSettings.dataPath, 'clickhouse') },
    ingest: ingestOwn,
    analysis: analysisOwn,
    policy: policySettings,
    scheduler: schedulerOwn,
    system: systemSettings,
  };
}

export type SystemSettingValues = SettingValues<typeof systemSettings>;

type Specs = ReturnType<typeof embeddedSpecs>;
/** The loaded values of every spec `npm start` reads, by the names of `embeddedSpecs`. */
export type EmbeddedSettingValues = { [K in keyof Specs]: SettingValues<Specs[K]> };

/** Reads every spec from flags and environment (throws ConfigError naming the setting). */
export function loadEmbeddedSettings(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv }) {
  const specs = embeddedSpecs();
  return Object.fromEntries(
    Object.entries(specs).map(([k, spec]) => [k, loadSettings(spec, sources)]),
  ) as EmbeddedSettingValues;
}

/**
 * The embedded system's options from the loaded settings, with the Redis URL in use (REDIS_URL,
 * or the private redis-server started in its place). Throws ConfigError on a bad combination.
 * The seed and query count are the ones asked for (server/catalog-file.ts chooses the catalog);
 * unset, a random seed and the default count.
 */
export function compileEmbeddedOptions(v: EmbeddedSettingValues, redisUrl: string): EmbeddedOptions {
  const redis = { ...v.redis, redisUrl };
  const dataDir = v.system.dataDir;
  const clickhouse = compileClickHouseOptions({
    ...v.clickhouse,
    dataPath: inDataDir(dataDir, v.clickhouse.dataPath, 'clickhouse'),
  });
  if (clickhouse.target.kind === 'embedded') checkThreadPool(v.system.sessions);
  return {
    simulation: compileSimulationOptions(
      { ...v.simulation, queryCount: v.simulation.queryCount ?? DEFAULT_SIMULATION.queryCount },
      { startTick: 0, startTime: 0 },
    ),
    server: v.server,
    capture: compileCaptureOptions({
      ...v.capture,
      outboxDir: inDataDir(dataDir, v.capture.outboxDir, 'outbox'),
      ...redis,
    }),
    clickhouse,
    ingest: compileIngestOptions({ ...v.ingest, ...redis }),
    analysis: compileAnalysisOptions({ ...v.analysis, ...redis }),
    queryPort: v.system.queryPort,
    clickhouseHttpPort: v.system.clickhouseHttpPort,
    readOnly: {
      maxExecutionMs: v.system.maxExecutionMs,
      maxMemoryBytes: v.system.maxMemoryBytes,
      maxResultRows: v.system.maxResultRows,
      maxResultBytes: v.system.maxResultBytes,
      maxThreads: v.system.maxThreads,
      sessions: v.system.sessions,
      queueLength: v.system.queueLength,
    },
    reportsDir: v.system.noReports ? null : v.system.reportsDir,
    offload: !v.system.withoutOffload,
    scheduler: v.system.withoutScheduler
      ? null
      : {
          policy: v.policy,
          service: compileServiceOptions({ ...v.scheduler, withoutIdleGc: true, ...redis }),
          startAfterMs: v.system.schedulerStartAfterS * 1000,
        },
  };
}

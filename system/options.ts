/**
 * Settings of the embedded system (`npm start`): every component's settings in one program, plus
 * the few that belong to the whole (the read-only SQL endpoint). Each component keeps its own
 * declaration; this file only lists which ones `npm start` takes.
 */
import { redisSettings } from '../common/redis-settings.js';
import { integer, loadSettings, text, toggle, type SettingValues } from '../common/settings.js';
import { analysisSettings, compileAnalysisOptions } from '../analysis/options.js';
import { clickhouseSettings, compileClickHouseOptions } from '../clickhouse/client.js';
import { compileIngestOptions, ingestSettings } from '../ingest/options.js';
import { captureSettings, compileCaptureOptions } from '../server/capture/options.js';
import { compileSimulationOptions, serverSettings, simulationSettings } from '../server/options.js';
import type { EmbeddedOptions } from './embedded.js';
import { compileServiceOptions, policySettings, schedulerServiceSettings } from '../scheduler/index.js';

export const systemSettings = {
  queryPort: integer({
    flag: '--query-port',
    env: 'QUERY_PORT',
    default: 8124,
    min: 0,
    max: 65535,
    doc: 'Port of the read-only SQL endpoint on 127.0.0.1 (used by npm run sql / verify / report).',
  }),
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
  privateRedisDir: text({
    flag: '--private-redis-dir',
    env: 'PRIVATE_REDIS_DIR',
    default: './data/redis',
    maxLength: 4096,
    doc: 'When REDIS_URL does not answer and redis-server is on the PATH: data directory of the private Redis started instead (append-only, free port on 127.0.0.1, stopped on exit).',
  }),
};

/** Every spec `npm start` reads, in one list; shared Redis settings appear once. */
export function embeddedSpecs() {
  const { redisUrl: _u, prefix: _p, ...ingestOwn } = ingestSettings;
  const { redisUrl: _u2, prefix: _p2, ...captureOwn } = captureSettings;
  const { redisUrl: _u3, prefix: _p3, ...analysisOwn } = analysisSettings;
  // In one process the scheduler talks to the API it runs beside: no SERVER_URL.
  // Its idle collection too: the server's, in the same process, serves both.
  const { serverUrl: _s, withoutIdleGc: _g, ...schedulerOwn } = schedulerServiceSettings;
  return {
    simulation: simulationSettings,
    server: serverSettings,
    redis: redisSettings,
    capture: captureOwn,
    clickhouse: clickhouseSettings,
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
 */
export function compileEmbeddedOptions(v: EmbeddedSettingValues, redisUrl: string): EmbeddedOptions {
  const redis = { ...v.redis, redisUrl };
  return {
    simulation: compileSimulationOptions(v.simulation, { startTick: 0, startTime: 0 }),
    server: v.server,
    capture: compileCaptureOptions({ ...v.capture, ...redis }),
    clickhouse: compileClickHouseOptions(v.clickhouse),
    ingest: compileIngestOptions({ ...v.ingest, ...redis }),
    analysis: compileAnalysisOptions({ ...v.analysis, ...redis }),
    queryPort: v.system.queryPort,
    reportsDir: v.system.noReports ? null : v.system.reportsDir,
    scheduler: v.system.withoutScheduler
      ? null
      : {
          policy: v.policy,
          service: compileServiceOptions({ ...v.scheduler, withoutIdleGc: true, ...redis }),
          startAfterMs: v.system.schedulerStartAfterS * 1000,
        },
  };
}

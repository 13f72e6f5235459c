/**
 * Every option of the analysis component, declared once (flag, environment variable, default,
 * rule) and compiled into `AnalysisOptions`: no optional fields, durations in milliseconds.
 *
 * Defaults and why:
 *  - every 30 s: the estimates settle within minutes (a query needs a few dozen windows), and a run
 *    costs one fingerprint scan of the history plus the new windows;
 *  - settle 10 s: a window is used once the newest stored execution is 10 s past its end, well
 *    beyond the ingest's 200 ms flush, so its executions have all arrived (late ones are handled by
 *    the block fingerprints anyway);
 *  - blocks of 600 windows (10 min at 1 s): the live block (recomputed every run) stays small,
 *    while a day is only 144 stored blocks;
 *  - `bounds` reconstruction: the window's min/max narrow the total's interval where they can, and
 *    never widen it (measured: equal to `midpoint` at default load, better at light load);
 *  - dense solve up to 1 200 queries (Cholesky, exact posterior sd's; ≈ 6 s of time-sliced CPU per
 *    run at 1 000 queries, growing as n³), conjugate gradients above;
 *  - lock 60 s time to live, renewed every 20 s while a run is going.
 */
import { redisSettings } from '../common/redis-settings.js';
import { integer, oneOf, text, toggle, type SettingValues } from '../common/settings.js';
import type { EstimatorOptions } from './estimator/estimate.js';
import { TOTAL_METHODS, type TotalMethod } from './estimator/sql.js';

/** The estimator's own settings (also accepted by the evaluation CLI). */
export const estimatorSettings = {
  totalMethod: oneOf<TotalMethod>({
    flag: '--total-method',
    env: 'ANALYSIS_TOTAL_METHOD',
    default: 'bounds',
    values: TOTAL_METHODS,
    doc: 'How a window total is rebuilt from its truncated average: midpoint of the truncation interval, or that interval narrowed by the window min/max (bounds).',
  }),
  blockWindows: integer({
    flag: '--block-windows',
    env: 'ANALYSIS_BLOCK_WINDOWS',
    default: 600,
    min: 1,
    max: 10_000_000,
    doc: 'Windows per stored block of regression statistics; only changed blocks are recomputed.',
  }),
  settleMs: integer({
    flag: '--estimator-settle-ms',
    env: 'ANALYSIS_SETTLE_MS',
    default: 10_000,
    min: 0,
    max: 86_400_000,
    doc: 'A window is used once the newest stored execution is this far past its end (its executions have arrived).',
  }),
  blocksPerInsert: integer({
    flag: '--blocks-per-insert',
    env: 'ANALYSIS_BLOCKS_PER_INSERT',
    default: 16,
    min: 1,
    max: 100_000,
    doc: 'Blocks computed by one INSERT … SELECT (bounds its memory when catching up on a long history).',
  }),
  denseLimit: integer({
    flag: '--dense-limit',
    env: 'ANALYSIS_DENSE_LIMIT',
    default: 1200,
    min: 1,
    max: 20_000,
    doc: 'Largest number of queries solved densely (Cholesky, exact sd, prior by marginal likelihood); above it conjugate gradients with approximate sd.',
  }),
  minPriorQueries: integer({
    flag: '--min-prior-queries',
    env: 'ANALYSIS_MIN_PRIOR_QUERIES',
    default: 5,
    min: 1,
    max: 1_000_000,
    doc: 'Above the dense limit: well-determined queries needed to estimate the prior (mean cost and spread) from the data.',
  }),
};

/** The periodic job's settings. */
export const analysisSettings = {
  ...redisSettings,
  intervalMs: integer({
    flag: '--analysis-interval-ms',
    env: 'ANALYSIS_INTERVAL_MS',
    default: 30_000,
    min: 100,
    max: 86_400_000,
    doc: 'How often the estimation runs (a BullMQ job scheduler shared by every instance).',
  }),
  delayFirstRun: toggle({
    flag: '--analysis-delay-first-run',
    env: 'ANALYSIS_DELAY_FIRST_RUN',
    default: false,
    doc: 'Wait one interval before the first run (by default an estimation runs as soon as the job starts).',
  }),
  lockTtlMs: integer({
    flag: '--analysis-lock-ttl-ms',
    env: 'ANALYSIS_LOCK_TTL_MS',
    default: 60_000,
    min: 1000,
    max: 3_600_000,
    doc: 'Time to live of the run lock (renewed every third of it); bounds how long a killed run blocks the next.',
  }),
  shutdownTimeoutMs: integer({
    flag: '--analysis-shutdown-timeout-ms',
    env: 'ANALYSIS_SHUTDOWN_TIMEOUT_MS',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: 'Graceful shutdown: how long to wait for a run in progress.',
  }),
  ...estimatorSettings,
};

/**
 * `npm run analysis` alone: where to write the report after each run (in compose, a mounted
 * folder). Unset: no reports. `npm start` has its own `--reports-dir` (system/options.ts).
 */
export const analysisReportSettings = {
  reportsDir: text({
    flag: '--reports-dir',
    env: 'REPORTS_DIR',
    default: undefined,
    maxLength: 4096,
    doc: '`npm run analysis` alone: write the HTML report into this folder after each run; unset: no reports.',
  }),
};

export type AnalysisSettingValues = SettingValues<typeof analysisSettings>;
export type EstimatorSettingValues = SettingValues<typeof estimatorSettings>;

/** The analysis component's options: every field present, durations in ms. */
export interface AnalysisOptions {
  redis: { url: string; prefix: string };
  intervalMs: number;
  runAtStart: boolean;
  lockTtlMs: number;
  shutdownTimeoutMs: number;
  estimator: EstimatorOptions;
}

export function compileEstimatorOptions(v: EstimatorSettingValues): EstimatorOptions {
  return {
    method: v.totalMethod,
    blockWindows: v.blockWindows,
    settleMs: v.settleMs,
    blocksPerInsert: v.blocksPerInsert,
    denseLimit: v.denseLimit,
    minPriorQueries: v.minPriorQueries,
  };
}

export function compileAnalysisOptions(v: AnalysisSettingValues): AnalysisOptions {
  return {
    redis: { url: v.redisUrl, prefix: v.prefix },
    intervalMs: v.intervalMs,
    runAtStart: !v.delayFirstRun,
    lockTtlMs: v.lockTtlMs,
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    estimator: compileEstimatorOptions(v),
  };
}

function defaults<S extends Record<string, { default: unknown }>>(specs: S): { [K in keyof S]: S[K]['default'] } {
  return Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.default])) as {
    [K in keyof S]: S[K]['default'];
  };
}

/** Options for tests and tools: the defaults, with overrides. */
export function analysisOptions(overrides: Partial<AnalysisSettingValues> = {}): AnalysisOptions {
  return compileAnalysisOptions({ ...(defaults(analysisSettings) as AnalysisSettingValues), ...overrides });
}

export function estimatorOptions(overrides: Partial<EstimatorSettingValues> = {}): EstimatorOptions {
  return compileEstimatorOptions({ ...(defaults(estimatorSettings) as EstimatorSettingValues), ...overrides });
}

/**
 * Every option of the analysis component, declared once (flag, environment variable, default,
 * rule) and compiled into `AnalysisOptions`: no optional fields, durations in milliseconds.
 *
 * Defaults and why:
 *  - every 30 s: the estimates settle within minutes (a query needs a few dozen windows), and a run
 *    costs the rows that arrived since the last one plus the live block, whatever the history;
 *  - settle 10 s: a window is used once the newest stored execution is 10 s past its end, well
 *    beyond the ingest's 200 ms flush, so its executions have all arrived (late ones are found by
 *    the insertion watermark anyway);
 *  - insert margin 5 s: the ingest's inserts are synchronous, visible when they return, milliseconds
 *    after their inserted_at; kept below the settle time so that a block's rows, inserted at least
 *    that long before the run that seals it, are not looked at again by the next run (which would
 *    recompute the block a second time);
 *  - blocks of 120 windows (2 min at 1 s): the live block, recomputed every run, is what a run
 *    costs besides the new rows, so it is kept small; sealed blocks are summed in estimate_totals,
 *    so their number costs a run nothing but one entry each in the state row (720 a day);
 *  - `bounds` reconstruction: the window's min/max narrow the total's interval where they can, and
 *    never widen it (measured: equal to `midpoint` at default load, better at light load);
 *  - dense solve up to 1 200 queries (Cholesky, exact posterior sd's; ≈ 6 s of time-sliced CPU per
 *    run at 1 000 queries, growing as n³); above, while the windows W are fewer than ¾ of the
 *    queries, the same solve through the rank of XᵀX (at most W), growing as n·W²;
 *  - lock 60 s time to live, renewed every 20 s while a run is going.
 */
import { redisSettings } from '../common/redis-settings.js';
import { integer, oneOf, text, toggle, type SettingValues } from '../common/settings.js';
import type { EstimatorOptions } from './estimator/estimate.js';
import { TOTAL_METHODS, type TotalMethod } from './estimator/sql.js';
import { redisKeyPrefix } from '../common/redis-url.js';

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
    default: 120,
    min: 1,
    max: 10_000_000,
    doc: 'Windows per stored block of regression statistics; only changed blocks are recomputed.',
  }),
  settleMs: integer({
    flag: '--estimator-settle-ms',
    env: 'ANALYSIS_SETTLE_MS',
    // Ingest stores within tens of ms and retries a failed insert at most 2 s apart: 3 s covers a
    // batch stored behind a retried one. Was 10 s; the cold start is shorter by the difference (SOLUTION.md).
    default: 3_000,
    min: 0,
    max: 86_400_000,
    doc: 'A window is used once the newest stored execution is this far past its end (its executions have arrived).',
  }),
  insertMarginMs: integer({
    flag: '--estimator-insert-margin-ms',
    env: 'ANALYSIS_INSERT_MARGIN_MS',
    default: 5_000,
    min: 0,
    max: 86_400_000,
    doc: 'Each run also looks again at rows inserted this long before the previous run started (an insert visible that late after its inserted_at is still seen).',
  }),
  blocksPerInsert: integer({
    flag: '--blocks-per-insert',
    env: 'ANALYSIS_BLOCKS_PER_INSERT',
    // Peak RSS of a catch-up over 1 h at probability scale 10 (bench:history): 546 MB at 2, 651 at
    // 4, 929 at 8, 1 467 at 16; the catch-up took no longer at 4 on a quiet machine (SOLUTION.md).
    default: 4,
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
    doc: 'Largest number of queries always solved with n×n matrices; above it, while the windows used are fewer than ¾ of the queries, the same solve through the rank of XᵀX (at most the windows): the same exact sd and prior, at less cost.',
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
  earlySolveUntilMs: integer({
    flag: '--analysis-early-until-ms',
    env: 'ANALYSIS_EARLY_UNTIL_MS',
    default: 90_000,
    min: 0,
    max: 86_400_000,
    doc: 'For this long after the job starts, it also runs every --analysis-early-every-ms (0: never): the cold start, when each solve adds much, is cut short.',
  }),
  earlySolveEveryMs: integer({
    flag: '--analysis-early-every-ms',
    env: 'ANALYSIS_EARLY_EVERY_MS',
    default: 2_000,
    min: 100,
    max: 86_400_000,
    doc: 'Period of the early runs (see --analysis-early-until-ms).',
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
  /** Extra one-off runs this long after start (ms, ascending): the cold start's early solves. */
  earlySolvesMs: number[];
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
    insertMarginMs: v.insertMarginMs,
    blocksPerInsert: v.blocksPerInsert,
    denseLimit: v.denseLimit,
  };
}

export function compileAnalysisOptions(v: AnalysisSettingValues): AnalysisOptions {
  return {
    redis: { url: v.redisUrl, prefix: redisKeyPrefix(v.redisUrl, v.prefix) },
    intervalMs: v.intervalMs,
    earlySolvesMs: earlySolves(v.earlySolveEveryMs, v.earlySolveUntilMs),
    runAtStart: !v.delayFirstRun,
    lockTtlMs: v.lockTtlMs,
    shutdownTimeoutMs: v.shutdownTimeoutMs,
    estimator: compileEstimatorOptions(v),
  };
}

/** The early runs' delays after start: every `everyMs` up to `untilMs`. */
export function earlySolves(everyMs: number, untilMs: number): number[] {
  const delays: number[] = [];
  for (let d = everyMs; d <= untilMs; d += everyMs) delays.push(d);
  return delays;
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

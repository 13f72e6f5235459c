/**
 * Settings of `npm run bench:ingest`: the offered rates and durations, the simulated load's shape,
 * the reference measurement. Declared like every other component's settings (flag, default, rule),
 * so a bad value stops the benchmark with exit code 2 before it touches Redis.
 */
import { ConfigError } from '../../common/errors.js';
import { integer, text, toggle, type SettingValues } from '../../common/settings.js';

export const benchSettings = {
  rates: text({
    flag: '--rates',
    default: '5000,10000,20000,40000',
    pattern: /^\d{1,7}(,\d{1,7}){0,19}$/,
    rule: 'must be a comma-separated list of executions per second, e.g. 5000,10000,20000',
    doc: 'Offered rates, executions per second, one step each, in this order.',
  }),
  seconds: integer({ flag: '--seconds', default: 15, min: 2, max: 3600, doc: 'Length of each step, in seconds.' }),
  repeat: integer({
    flag: '--repeat',
    default: 1,
    min: 1,
    max: 20,
    doc: 'Runs per rate; the medians are reported (the machine is shared and noisy).',
  }),
  tickMs: integer({
    flag: '--tick-ms',
    default: 20,
    min: 1,
    max: 1000,
    doc: 'Tick length of the steps (virtual time = real time); the executions of a busy tick travel as one job.',
  }),
  queryCount: integer({
    flag: '--query-count',
    default: 0,
    min: 0,
    max: 1_000_000,
    doc: 'Queries in the catalog of the steps; each runs at most once per tick, so it bounds executions per tick. 0: 2.5 × the largest step’s executions per tick (at least 1000).',
  }),
  defaultSeconds: integer({
    flag: '--default-seconds',
    default: 15,
    min: 2,
    max: 3600,
    doc: 'Length of the run at the default load (probability scale 1, 100 ms ticks, real time) for freshness.',
  }),
  behindSeconds: integer({
    flag: '--max-behind-seconds',
    default: 2,
    min: 0,
    max: 600,
    doc: 'A step is sustained when, at its end, the executions not yet queryable are at most this many seconds of its rate (and completeness is 1).',
  }),
  referenceJobs: integer({
    flag: '--reference-jobs',
    default: 20_000,
    min: 1000,
    max: 10_000_000,
    doc: 'Jobs per raw addBulk reference run.',
  }),
  referenceRuns: integer({
    flag: '--reference-runs',
    default: 2,
    min: 1,
    max: 20,
    doc: 'Reference measurements at the start; one more is taken right before every trial (the median of all is reported).',
  }),
  referenceChunk: integer({
    flag: '--reference-chunk',
    default: 1000,
    min: 1,
    max: 100_000,
    doc: 'Jobs per addBulk call in the reference.',
  }),
  drainTimeoutSeconds: integer({
    flag: '--drain-timeout-seconds',
    default: 180,
    min: 1,
    max: 3600,
    doc: 'After a step, how long to wait for the outbox and the queues to empty before giving up on it.',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print only the JSON result on stdout.' }),
};

export type BenchSettingValues = SettingValues<typeof benchSettings>;

/** The catalog size for the steps: large enough that few queries hit the one-per-tick cap. */
export function stepQueryCount(v: BenchSettingValues, rates: readonly number[]): number {
  if (v.queryCount > 0) return v.queryCount;
  const perTick = (Math.max(...rates) * v.tickMs) / 1000;
  return Math.max(1000, Math.ceil(2.5 * perTick));
}

export function parseRates(v: BenchSettingValues): number[] {
  const rates = v.rates.split(',').map(Number);
  const bad = rates.find((r) => !Number.isSafeInteger(r) || r < 1);
  if (bad !== undefined) throw new ConfigError('rates', v.rates, 'every rate must be a positive integer', '--rates');
  return rates;
}

/** Settings of `npm run chaos` (system/chaos.ts), declared once: flag, default, rule, documentation. */
import { decimal, integer, text, toggle, type SettingValues } from '../../common/settings.js';
import { FAULT_KINDS, type FaultKind } from './schedule.js';

const KIND = `(${FAULT_KINDS.join('|')})`;

export const chaosSettings = {
  minutes: decimal({
    flag: '--minutes',
    default: 5,
    min: 0.25,
    max: 1440,
    doc: 'Length of the run before the drain: the first and last fifth without faults, faults in between.',
  }),
  seed: text({
    flag: '--seed',
    default: 'chaos',
    maxLength: 200,
    doc: 'Seed of the fault schedule and of the simulated database (the same seed, the same faults at the same times).',
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print the report as one JSON object.' }),
  tickMs: integer({
    flag: '--tick-ms',
    default: 100,
    min: 10,
    max: 1000,
    doc: 'Tick length of the database (shorter than 100 ms runs more ticks and windows per second).',
  }),
  probabilityScale: decimal({
    flag: '--probability-scale',
    default: 1,
    min: 0,
    max: 100,
    doc: 'Load of the database (SIM_PROBABILITY_SCALE).',
  }),
  faultIntervalS: decimal({
    flag: '--fault-interval-s',
    default: 10,
    min: 1,
    max: 3600,
    doc: 'Mean time between fault starts (at least one fault of each kind whatever the run length).',
  }),
  faults: text({
    flag: '--faults',
    default: 'all',
    pattern: new RegExp(`^(all|${KIND}(,${KIND})*)$`),
    rule: `must be all or a comma-separated list of ${FAULT_KINDS.join(', ')}`,
    doc: `Fault kinds to inject: all, or some of ${FAULT_KINDS.join(', ')}.`,
  }),
  drainTimeoutS: integer({
    flag: '--drain-timeout-s',
    default: 180,
    min: 1,
    max: 86_400,
    doc: 'How long to wait at the end for every execution and window of the run to be stored.',
  }),
  analysisIntervalS: integer({
    flag: '--analysis-interval-s',
    default: 5,
    min: 1,
    max: 3600,
    doc: 'Interval of the analysis job during the run (ANALYSIS_INTERVAL_MS).',
  }),
  workDir: text({
    flag: '--work-dir',
    default: undefined,
    maxLength: 4096,
    doc: 'Directory for Redis, ClickHouse, the outbox and every process log (default: a temporary one, removed after a successful run).',
  }),
  keepWorkDir: toggle({
    flag: '--keep-work-dir',
    default: false,
    doc: 'Keep the temporary work directory after a successful run (a failed run always keeps it).',
  }),
};

export type ChaosSettingValues = SettingValues<typeof chaosSettings>;

export function faultKinds(list: string): FaultKind[] {
  return list === 'all' ? [...FAULT_KINDS] : [...new Set(list.split(',') as FaultKind[])];
}

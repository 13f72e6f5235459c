/**
 * The lab's command-line settings: the simulation's own parameters (server/options.ts, minus the
 * seed, which the lab fixes by default so runs are reproducible, and minus `--truth`, which the
 * lab always needs), the policy's settings (../options.ts), and the lab's own.
 */
import { ConfigError } from '../../common/errors.js';
import { integer, oneOf, text, toggle, type SettingValues } from '../../common/settings.js';
import { simulationSettings } from '../../server/options.js';
import {
  ESTIMATOR_NAMES,
  productEstimatorProvider,
  windowRegressionProvider,
  type CostModelProvider,
  type EstimatorName,
} from './cost-model-provider.js';
import { POLICY_NAMES, type PolicyName } from './lab.js';
import { FRONTIER_KNOB_NAMES, FRONTIER_KNOBS, type FrontierKnob } from './frontier.js';
import type { PolicyOptions } from '../options.js';
import { DEFAULT_PRODUCT_ESTIMATOR } from './product-estimator.js';

/** The simulation's settings without `seed` and `exposeTruth` (see above). */
export const labSimulationSettings = Object.fromEntries(
  Object.entries(simulationSettings).filter(([key]) => key !== 'seed' && key !== 'exposeTruth'),
) as Omit<typeof simulationSettings, 'seed' | 'exposeTruth'>;

const LIST = /^[^,\s]+(,[^,\s]+)*$/;

export const labSettings = {
  seed: text({ flag: '--seed', default: '1', doc: 'Simulation seed (same seed ⇒ same arrivals).', maxLength: 200 }),
  seeds: text({
    flag: '--seeds',
    default: undefined,
    doc: 'Comma-separated seeds, pooled in the results (overrides --seed), e.g. 1,2,3.',
    pattern: LIST,
    rule: 'must be a comma-separated list of seeds without spaces',
    maxLength: 2000,
  }),
  seconds: integer({
    flag: '--seconds',
    default: 1800,
    min: 1,
    max: 10_000_000,
    doc: 'Simulated seconds per run (1800 = 30 minutes).',
  }),
  warmupWindows: integer({
    flag: '--warmup-windows',
    default: 1,
    min: 0,
    max: 1_000_000,
    doc: 'Windows skipped at the start of each run (window 0 always contains tick 0, when nothing can run yet).',
  }),
  policies: text({
    flag: '--policies',
    default: POLICY_NAMES.join(','),
    doc: `Policies to run, comma-separated, among ${POLICY_NAMES.join(', ')}.`,
    pattern: LIST,
    rule: `must be a comma-separated list of ${POLICY_NAMES.join(', ')}`,
  }),
  sweep: text({
    flag: '--sweep',
    default: undefined,
    doc: 'Comma-separated latency budgets (ticks) for the trade-off curve, e.g. 0,2,4,8,16.',
    pattern: /^\d+(,\d+)*$/,
    rule: 'must be a comma-separated list of non-negative integers',
  }),
  sweepLatency: text({
    flag: '--sweep-latency',
    default: undefined,
    doc: 'Comma-separated target latencies (ticks) for a second trade-off curve of the policy at the fixed budget, e.g. 1,2,3,5,8.',
    pattern: /^(\d+(\.\d+)?)(,\d+(\.\d+)?)*$/,
    rule: 'must be a comma-separated list of non-negative numbers',
  }),
  vegaOut: text({
    flag: '--vega-out',
    default: undefined,
    doc: 'Also write a Vega-Lite spec of the sweep (data inlined) to this file.',
    maxLength: 4096,
  }),
  estimator: oneOf<EstimatorName>({
    flag: '--estimator',
    default: 'product',
    values: ESTIMATOR_NAMES,
    doc: "Where policy-estimated gets its costs: the product's estimator (product: the analysis job's statistics and solve, run on the run's own events) or the lab's online Kalman filter (window-regression).",
  }),
  estimatorIntervalWindows: integer({
    flag: '--estimator-interval-windows',
    default: DEFAULT_PRODUCT_ESTIMATOR.intervalWindows,
    min: 1,
    max: 1_000_000,
    doc: "--estimator product: windows of the default length (1 s) between solves, converted to the run's window length (default: the analysis job's 30 s interval).",
  }),
  estimatorSettleWindows: integer({
    flag: '--estimator-settle-windows',
    default: DEFAULT_PRODUCT_ESTIMATOR.settleWindows,
    min: 0,
    max: 1_000_000,
    doc: "--estimator product: a window is used once the newest execution is this many default-length (1 s) windows past its end (default: the analysis job's 3 s settle horizon).",
  }),
  json: toggle({ flag: '--json', default: false, doc: 'Print the results as one JSON object.' }),
  frontier: toggle({
    flag: '--frontier',
    default: false,
    doc: 'Measure the frontier instead: policy-estimated and policy-oracle over --frontier-settings of --frontier-knob, with the proven count-only bound; writes its Vega-Lite chart to --vega-out (default reports/frontier.vl.json).',
  }),
  frontierKnob: oneOf<FrontierKnob>({
    flag: '--frontier-knob',
    default: 'latency-budget',
    values: FRONTIER_KNOB_NAMES,
    doc: 'What the frontier varies: the latency budget (target capped at it), the target latency at the fixed budget, or the target with a budget of 4× or 10× it.',
  }),
  frontierSettings: text({
    flag: '--frontier-settings',
    default: '2,4,6,10,20',
    doc: 'Comma-separated values of the frontier knob (ticks).',
    pattern: /^(\d+(\.\d+)?)(,\d+(\.\d+)?)*$/,
    rule: 'must be a comma-separated list of non-negative numbers',
  }),
};

export type LabValues = SettingValues<typeof labSettings>;

export function parsePolicies(list: string): PolicyName[] {
  const names = list.split(',');
  for (const n of names) {
    if (!(POLICY_NAMES as readonly string[]).includes(n)) {
      throw new ConfigError('policies', list, `unknown policy ${n}: use ${POLICY_NAMES.join(', ')}`, '--policies');
    }
  }
  return [...new Set(names)] as PolicyName[];
}

export function parseSweep(list: string | undefined, maxDelay: number): number[] {
  if (list === undefined) return [];
  const budgets = list.split(',').map(Number);
  for (const b of budgets) {
    if (!Number.isSafeInteger(b) || b > maxDelay) {
      throw new ConfigError('sweep', list, `each budget must be an integer between 0 and ${maxDelay}`, '--sweep');
    }
  }
  return budgets;
}

export function parseLatencies(list: string | undefined, budget: number): number[] {
  if (list === undefined) return [];
  const targets = list.split(',').map(Number);
  for (const t of targets) {
    if (!Number.isFinite(t) || t > budget) {
      throw new ConfigError(
        'sweepLatency',
        list,
        `each target must be between 0 and the latency budget (${budget})`,
        '--sweep-latency',
      );
    }
  }
  return targets;
}

/** The cost model provider the estimator flags select. */
export function estimatorProvider(
  v: Pick<LabValues, 'estimator' | 'estimatorIntervalWindows' | 'estimatorSettleWindows'>,
): CostModelProvider {
  return v.estimator === 'window-regression'
    ? windowRegressionProvider
    : productEstimatorProvider({
        intervalWindows: v.estimatorIntervalWindows,
        settleWindows: v.estimatorSettleWindows,
      });
}

/** The frontier's settings, checked against the database's maximum delay once mapped to options. */
export function parseFrontierSettings(
  list: string,
  knob: FrontierKnob,
  base: PolicyOptions,
  maxDelay: number,
): number[] {
  const settings = list.split(',').map(Number);
  for (const s of settings) {
    const o = FRONTIER_KNOBS[knob](base, s);
    if (!Number.isFinite(s) || o.latencyBudget > maxDelay || o.targetLatency > o.latencyBudget) {
      throw new ConfigError(
        'frontierSettings',
        list,
        `setting ${s} gives budget ${o.latencyBudget} and target ${o.targetLatency}: the budget must be ≤ ${maxDelay} and the target ≤ the budget`,
        '--frontier-settings',
      );
    }
  }
  return settings;
}

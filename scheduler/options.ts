/**
 * The policy's settings, declared once (flag, environment variable, default, rule) so the lab and
 * the live service share them, and `compilePolicyOptions`, which adds the database parameters the
 * policy must agree with (window length, default delay) and yields a type with no optional fields.
 */
import { ConfigError } from '../common/errors.js';
import { decimal, integer, type SettingValues } from '../common/settings.js';
import type { CostVector } from './cost-model.js';

export const policySettings = {
  latencyBudget: integer({
    flag: '--latency-budget',
    env: 'SCHEDULER_LATENCY_BUDGET',
    default: 10,
    min: 0,
    max: 100_000,
    doc: 'Most ticks the scheduler may add to an execution (added latency = executed tick − queued tick − default delay). 0 disables scheduling.',
  }),
  targetLatency: decimal({
    flag: '--target-latency',
    env: 'SCHEDULER_TARGET_LATENCY',
    default: 2.5,
    min: 0,
    max: 100_000,
    doc: 'Mean added latency (ticks) the scheduler aims for; it holds back as much load as gives that latency. More: more choice per tick, flatter windows. From one window up, whole windows are planned from a held reserve (SOLUTION.md, “Window plans”).',
  }),
  levelGain: decimal({
    flag: '--level-gain',
    env: 'SCHEDULER_LEVEL_GAIN',
    default: 0.7,
    min: 0,
    max: 10,
    doc: 'Share of the excess held load a window plans to absorb (feedback that keeps latency near the target wait).',
  }),
  trafficShift: decimal({
    flag: '--traffic-shift',
    env: 'SCHEDULER_TRAFFIC_SHIFT',
    default: 1,
    min: 0,
    max: 4,
    doc: 'How much of the latency target moves from busy to light traffic: each window aims at target × (long-run ÷ recent arrivals)^this, within ×0.5…×2, so the target holds as a mean over a traffic period, not minute by minute. 0: the target everywhere.',
  }),
  rateHalfLife: decimal({
    flag: '--rate-half-life',
    env: 'SCHEDULER_RATE_HALF_LIFE',
    default: 100,
    above: 0,
    max: 1e9,
    doc: 'Half-life, in ticks, of the arrival-rate average that sets each window’s level.',
  }),
  uncertaintyWeight: decimal({
    flag: '--uncertainty-weight',
    env: 'SCHEDULER_UNCERTAINTY_WEIGHT',
    default: 1,
    min: 0,
    max: 1000,
    doc: 'Weight of cost-estimate variance in the per-tick fit (0 trusts estimates blindly).',
  }),
  agePriority: decimal({
    flag: '--age-priority',
    env: 'SCHEDULER_AGE_PRIORITY',
    default: 0.3,
    min: 0,
    max: 1000,
    doc: 'Preference for executions near their deadline, growing with the square of the budget used (1 ≈ one typical execution’s weight at the deadline): they are placed where they fit before they are forced in.',
  }),
  priorCost: decimal({
    flag: '--prior-cost',
    env: 'SCHEDULER_PRIOR_COST',
    default: 47,
    min: 0,
    max: 1e9,
    doc: 'Cost per resource assumed for a query never seen, until known queries give a better mean.',
  }),
  priorSd: decimal({
    flag: '--prior-sd',
    env: 'SCHEDULER_PRIOR_SD',
    default: 12,
    min: 0,
    max: 1e9,
    doc: 'Standard deviation per resource of that prior (the spread of costs across queries).',
  }),
  maxCandidates: integer({
    flag: '--max-candidates',
    env: 'SCHEDULER_MAX_CANDIDATES',
    default: 120,
    min: 1,
    max: 1_000_000,
    doc: 'Most executions considered per tick (the oldest first); bounds decision time at extreme loads.',
  }),
};

export interface PolicyOptions {
  /** From the database: ticks per metrics window, and the delay of an execution nobody moves. */
  metricsWindowTicks: number;
  defaultDelay: number;
  latencyBudget: number;
  targetLatency: number;
  /** Integral gain of the hold controller (ticks of hold per tick of latency error, per window). */
  holdGain: number;
  /** Exponent of long-run ÷ recent arrivals in each window's latency setpoint (0: the target everywhere; hold-controller.ts). */
  trafficShift: number;
  levelGain: number;
  rateHalfLife: number;
  uncertaintyWeight: number;
  agePriority: number;
  prior: CostVector;
  priorSd: number;
  maxCandidates: number;
  /** Local-search rounds per tick (each applies the best add/remove/swap); bounds decision time. */
  maxRounds: number;
  /** Restarts of the local search per selection, each from the best subset with two random swaps (select.ts). */
  searchRestarts: number;
  /**
   * Tick-by-tick windows of one count: when the best subset of that count misses its target by more
   * than this (summed squared relative miss plus the summed variance of its executions, select.ts
   * `missOf`; 0.002 is about 2.6 % on each resource), one execution fewer and one more are tried
   * too (Infinity: never).
   */
  countMiss: number;
  /** Window plans: largest miss of a tick from the template (fraction), and the weight of its sd. */
  planTolerance: number;
  planZ: number;
  /** Window plans: share of the backlog above the reserve a window runs, and the reserve's rate half-life (ticks). */
  reserveGain: number;
  reserveHalfLife: number;
  /** Window plans: partner evaluations allowed per window (bounds decision time at any load). */
  planWork: number;
  /** Window plans: most executions per tick planned in groups; above it, ticks are filled one by one. */
  planMaxCount: number;
  /** Tick-by-tick windows: most executions per tick run at one fixed count per window (0: never; window-level.ts). */
  fixedCountMax: number;
  /** Window plans: a query with this many executions held is banked for windows of its own repeats (0: never). */
  bankMin: number;
}

export const DEFAULT_POLICY: Omit<PolicyOptions, 'metricsWindowTicks' | 'defaultDelay'> = {
  latencyBudget: policySettings.latencyBudget.default,
  targetLatency: policySettings.targetLatency.default,
  holdGain: 0.05,
  trafficShift: policySettings.trafficShift.default,
  levelGain: policySettings.levelGain.default,
  rateHalfLife: policySettings.rateHalfLife.default,
  uncertaintyWeight: policySettings.uncertaintyWeight.default,
  agePriority: policySettings.agePriority.default,
  prior: {
    cpu: policySettings.priorCost.default,
    io: policySettings.priorCost.default,
    memory: policySettings.priorCost.default,
  },
  priorSd: policySettings.priorSd.default,
  maxCandidates: policySettings.maxCandidates.default,
  maxRounds: 200,
  searchRestarts: 30,
  countMiss: 0.002,
  planTolerance: 0.08,
  planZ: 1,
  reserveGain: 0.2,
  reserveHalfLife: 100_000,
  planWork: 30_000,
  planMaxCount: 4,
  bankMin: 8,
  fixedCountMax: 8,
};

export interface DatabaseShape {
  metricsWindowTicks: number;
  defaultDelay: number;
  /** Largest |delay| one request may ask for: the budget must fit in it. */
  maxDelay: number;
}

export function compilePolicyOptions(v: SettingValues<typeof policySettings>, db: DatabaseShape): PolicyOptions {
  if (v.latencyBudget > db.maxDelay) {
    throw new ConfigError('latencyBudget', v.latencyBudget, `must be ≤ the database's maximum delay (${db.maxDelay})`);
  }
  return {
    metricsWindowTicks: db.metricsWindowTicks,
    defaultDelay: db.defaultDelay,
    latencyBudget: v.latencyBudget,
    targetLatency: v.targetLatency,
    holdGain: DEFAULT_POLICY.holdGain,
    trafficShift: v.trafficShift,
    levelGain: v.levelGain,
    rateHalfLife: v.rateHalfLife,
    uncertaintyWeight: v.uncertaintyWeight,
    agePriority: v.agePriority,
    prior: { cpu: v.priorCost, io: v.priorCost, memory: v.priorCost },
    priorSd: v.priorSd,
    maxCandidates: v.maxCandidates,
    maxRounds: DEFAULT_POLICY.maxRounds,
    searchRestarts: DEFAULT_POLICY.searchRestarts,
    countMiss: DEFAULT_POLICY.countMiss,
    planTolerance: DEFAULT_POLICY.planTolerance,
    planZ: DEFAULT_POLICY.planZ,
    reserveGain: DEFAULT_POLICY.reserveGain,
    reserveHalfLife: DEFAULT_POLICY.reserveHalfLife,
    planWork: DEFAULT_POLICY.planWork,
    planMaxCount: DEFAULT_POLICY.planMaxCount,
    bankMin: DEFAULT_POLICY.bankMin,
    fixedCountMax: DEFAULT_POLICY.fixedCountMax,
  };
}

/** Options for tests and tools: defaults, the database's shape, then `overrides`. */
export function policyOptions(
  db: Pick<DatabaseShape, 'metricsWindowTicks' | 'defaultDelay'>,
  overrides: Partial<PolicyOptions> = {},
): PolicyOptions {
  return { ...DEFAULT_POLICY, metricsWindowTicks: db.metricsWindowTicks, defaultDelay: db.defaultDelay, ...overrides };
}

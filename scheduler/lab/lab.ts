/**
 * The scheduling lab: runs every policy on its own simulated database in virtual time, on the same
 * arrivals (same seed and options), for one or more seeds, and scores them the same way. Pure
 * computation: the CLI (../lab-cli.ts) parses flags and prints.
 *
 * Scoring choices, stated once:
 * - resources are pooled per window by the worst of cpu, io and memory (metrics.ts);
 * - windows are pooled across seeds before taking percentiles (each seed weighs by its windows);
 * - the first `warmupWindows` windows are skipped, and always those containing a tick before
 *   `defaultDelay`: nothing can run then (nothing was queued before tick 0), so they measure the
 *   simulator's start, not a policy. The estimator's cold start is NOT skipped: it is scored.
 */
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';
import { oracleCostModel } from '../cost-model.js';
import type { PolicyOptions } from '../options.js';
import { Policy } from '../policy.js';
import type { CostModelProvider } from './cost-model-provider.js';
import { GreedyScheduler } from './greedy.js';
import { BAND, mean, percentile, summarizeWindows, type SpreadSummary, type WindowScore } from './metrics.js';
import { NoScheduling } from './none.js';
import { offlineWindow } from './offline-window.js';
import { pairCompatibility } from './pair-compatibility.js';
import { runPolicyAsync, type RunRecord } from './run.js';

export const POLICY_NAMES = ['none', 'greedy-oracle', 'policy-oracle', 'policy-estimated', 'offline-window'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface LabConfig {
  /** Simulation options except the seed (ground truth must be exposed: the oracles need it). */
  simulation: Omit<SimulationOptions, 'seed'>;
  seeds: readonly string[];
  ticks: number;
  warmupWindows: number;
  policy: PolicyOptions;
  policies: readonly PolicyName[];
  /** Latency budgets for the trade-off sweep; empty for none. */
  sweep: readonly number[];
  /** Target latencies for a second sweep (the policy's own knob, budget fixed); empty for none. */
  sweepLatency: readonly number[];
  costModelProvider: CostModelProvider;
}

/** The JSON row the brief fixes, plus extras. Ratios are fractions. */
export interface PolicyResult {
  name: string;
  inBandRate: number;
  maxAvgP50: number;
  maxAvgP95: number;
  minAvgP5: number;
  minAvgP50: number;
  addedLatencyMean: number;
  addedLatencyP99: number;
  /** The longest any execution waited: rare queries are not starved beyond the budget. */
  addedLatencyMax: number;
  latencyBudget: number;
  windows: number;
  executions: number;
  /** Windows in which nothing ran at all (scored as not in band, no ratio). */
  emptyWindows: number;
  decisionsPerExecution: number;
  rejectedDecisions: number;
  /** Executions that ran more than the budget late: must be 0 for every scheduling policy. */
  budgetViolations: number;
  /** Wall time inside the policy per queued event, and the 99th percentile of one tick's policy work. */
  decisionMicrosPerEvent: number;
  tickMicrosP99: number;
  /** CPU time of one `beforeTick` (where the work is), 99th percentile: not inflated by other processes. */
  beforeTickCpuMicrosP99: number;
  perResource: SpreadSummary['perResource'];
  perSeed: SeedSummary[];
}

export interface SweepRow {
  /** Which knob this row varies: the latency budget (all policies), or the policy's target latency. */
  sweep: 'latency-budget' | 'target-latency';
  latencyBudget: number;
  targetLatency: number;
  name: string;
  inBandRate: number;
  maxAvgP50: number;
  maxAvgP95: number;
  minAvgP50: number;
  addedLatencyMean: number;
  addedLatencyP99: number;
}

export interface LabReport {
  config: {
    seeds: string[];
    ticks: number;
    seconds: number;
    probabilityScale: number;
    queryCount: number;
    defaultDelay: number;
    metricsWindowTicks: number;
    latencyBudget: number;
    targetLatency: number;
    warmupWindows: number;
    estimator: string;
    pooling: string;
  };
  policies: PolicyResult[];
  sweep: SweepRow[];
  /** The work itself, before scheduling: what quantisation the load allows. */
  load: {
    executionsPerTick: number;
    /** Share of windows that receive fewer executions than they have ticks (an empty tick unless work moves across windows). */
    windowsBelowOnePerTick: number;
    executionsPerWindowP5: number;
    executionsPerWindowP50: number;
    executionsPerWindowP95: number;
    /** Per seed: share of traffic-weighted pairs of executions within (1 + b)/(1 − b) on every resource (pair-compatibility.ts). */
    pairCompatibility: number[];
  };
}

/** Windows left out of the scores (see the header). */
export function labWarmup(config: Pick<LabConfig, 'warmupWindows' | 'simulation'>): number {
  return Math.max(
    config.warmupWindows,
    Math.ceil(config.simulation.defaultDelay / config.simulation.metricsWindowTicks),
  );
}

export async function runLab(config: LabConfig): Promise<LabReport> {
  const warmup = labWarmup(config);
  const offline = config.seeds.map((seed) => {
    // The search is only worth its time when the reference is asked for; the counts always are.
    const iterations = config.policies.includes('offline-window') ? 30 : 0;
    const r = offlineWindow({ ...config.simulation, seed }, config.ticks, iterations);
    return { scores: r.scores.filter((w) => w.windowId >= warmup), counts: r.executionsPerWindow.slice(warmup) };
  });
  const policies: PolicyResult[] = [];
  for (const name of config.policies) {
    policies.push(
      name === 'offline-window'
        ? offlineResult(offline.map((o, i) => ({ seed: config.seeds[i]!, scores: o.scores })))
        : await evaluate(config, name, config.policy, warmup),
    );
  }
  const counts = offline.flatMap((o) => o.counts);
  const W = config.simulation.metricsWindowTicks;
  const sweep: SweepRow[] = [];
  const row = async (kind: SweepRow['sweep'], name: PolicyName, options: PolicyOptions): Promise<SweepRow> => {
    const r = await evaluate(config, name as Exclude<PolicyName, 'offline-window'>, options, warmup);
    return {
      sweep: kind,
      latencyBudget: options.latencyBudget,
      targetLatency: options.targetLatency,
      name,
      inBandRate: r.inBandRate,
      maxAvgP50: r.maxAvgP50,
      maxAvgP95: r.maxAvgP95,
      minAvgP50: r.minAvgP50,
      addedLatencyMean: r.addedLatencyMean,
      addedLatencyP99: r.addedLatencyP99,
    };
  };
  for (const budget of config.sweep) {
    for (const name of config.policies) {
      if (name === 'none' || name === 'offline-window') continue;
      sweep.push(await row('latency-budget', name, { ...config.policy, latencyBudget: budget }));
    }
  }
  for (const target of config.sweepLatency) {
    for (const name of config.policies) {
      if (name !== 'policy-oracle' && name !== 'policy-estimated') continue;
      sweep.push(await row('target-latency', name, { ...config.policy, targetLatency: target }));
    }
  }
  const estimatorName = config.costModelProvider({ simulation: { ...config.simulation, seed: 'name' } }).name;
  return {
    config: {
      seeds: [...config.seeds],
      ticks: config.ticks,
      seconds: (config.ticks * config.simulation.tickMs) / 1000,
      probabilityScale: config.simulation.probabilityScale,
      queryCount: config.simulation.queryCount,
      defaultDelay: config.simulation.defaultDelay,
      metricsWindowTicks: config.simulation.metricsWindowTicks,
      latencyBudget: config.policy.latencyBudget,
      targetLatency: config.policy.targetLatency,
      warmupWindows: warmup,
      estimator: estimatorName,
      pooling: 'per window, the worst of cpu, io and memory; windows pooled across seeds',
    },
    policies,
    sweep,
    load: {
      executionsPerTick: mean(counts) / W,
      windowsBelowOnePerTick: counts.filter((c) => c < W).length / Math.max(1, counts.length),
      executionsPerWindowP5: percentile(counts, 0.05),
      executionsPerWindowP50: percentile(counts, 0.5),
      executionsPerWindowP95: percentile(counts, 0.95),
      pairCompatibility: config.seeds.map((seed) =>
        pairCompatibility(new Database({ ...config.simulation, seed, exposeTruth: true }).groundTruth(), BAND),
      ),
    },
  };
}

/** The offline-window reference as a result row: spread only, no latency or decisions. */
function offlineResult(records: { seed: string; scores: WindowScore[] }[]): PolicyResult {
  const windows = records.flatMap((r) => r.scores);
  const s = summarizeWindows(windows);
  return {
    name: 'offline-window',
    inBandRate: s.inBandRate,
    maxAvgP50: s.maxAvgP50,
    maxAvgP95: s.maxAvgP95,
    minAvgP5: s.minAvgP5,
    minAvgP50: s.minAvgP50,
    addedLatencyMean: Number.NaN,
    addedLatencyP99: Number.NaN,
    addedLatencyMax: Number.NaN,
    latencyBudget: Number.NaN,
    windows: s.windows,
    executions: Number.NaN,
    emptyWindows: windows.filter((w) => w.maxAvg === undefined).length,
    decisionsPerExecution: Number.NaN,
    rejectedDecisions: 0,
    budgetViolations: 0,
    decisionMicrosPerEvent: Number.NaN,
    tickMicrosP99: Number.NaN,
    beforeTickCpuMicrosP99: Number.NaN,
    perResource: s.perResource,
    perSeed: records.map((r) => seedSummary(r.seed, r.scores, Number.NaN)),
  };
}

/** Runs one policy on every seed and pools the results. */
export async function evaluate(
  config: LabConfig,
  name: Exclude<PolicyName, 'offline-window'>,
  options: PolicyOptions,
  warmup: number,
): Promise<PolicyResult> {
  const records: { seed: string; run: RunRecord; windows: WindowScore[] }[] = [];
  for (const seed of config.seeds) {
    const simulation: SimulationOptions = { ...config.simulation, seed, exposeTruth: true };
    const run = await runPolicyAsync({
      simulation,
      ticks: config.ticks,
      policy: (db) => {
        switch (name) {
          case 'none':
            return { policy: new NoScheduling(), observers: [] };
          case 'greedy-oracle':
            return {
              policy: new GreedyScheduler(
                { latencyBudget: options.latencyBudget, rateHalfLife: options.rateHalfLife },
                oracleCostModel(db.groundTruth()),
              ),
              observers: [],
            };
          case 'policy-oracle':
            return { policy: new Policy(options, oracleCostModel(db.groundTruth()), name), observers: [] };
          case 'policy-estimated': {
            const model = config.costModelProvider({ simulation });
            return { policy: new Policy(options, model, name), observers: [model] };
          }
        }
      },
    });
    records.push({ seed, run, windows: run.windows.filter((w) => w.windowId >= warmup) });
  }
  const windows = records.flatMap((r) => r.windows);
  const latency = records.flatMap((r) => Array.from(r.run.addedLatency));
  const spread = summarizeWindows(windows);
  const sum = (f: (r: RunRecord) => number) => records.reduce((a, r) => a + f(r.run), 0);
  const budget = name === 'none' ? 0 : options.latencyBudget;
  const tickMs = records.flatMap((r) => Array.from(r.run.tickMs));
  return {
    name,
    inBandRate: spread.inBandRate,
    maxAvgP50: spread.maxAvgP50,
    maxAvgP95: spread.maxAvgP95,
    minAvgP5: spread.minAvgP5,
    minAvgP50: spread.minAvgP50,
    addedLatencyMean: mean(latency),
    addedLatencyP99: percentile(latency, 0.99),
    addedLatencyMax: latency.reduce((a, b) => Math.max(a, b), 0),
    latencyBudget: budget,
    windows: spread.windows,
    executions: latency.length,
    emptyWindows: windows.filter((w) => w.maxAvg === undefined).length,
    decisionsPerExecution: sum((r) => r.decisions) / Math.max(1, latency.length),
    rejectedDecisions: sum((r) => r.rejectedDecisions),
    budgetViolations: latency.filter((l) => l > budget).length,
    decisionMicrosPerEvent:
      (1000 * sum((r) => r.policyMs)) /
      Math.max(
        1,
        sum((r) => r.queuedEvents),
      ),
    tickMicrosP99: 1000 * percentile(tickMs, 0.99),
    beforeTickCpuMicrosP99:
      1000 *
      percentile(
        records.flatMap((r) => Array.from(r.run.tickCpuMs)),
        0.99,
      ),
    perResource: spread.perResource,
    perSeed: records.map((r) => seedSummary(r.seed, r.windows, mean(Array.from(r.run.addedLatency)))),
  };
}

interface SeedSummary {
  seed: string;
  inBandRate: number;
  maxAvgP95: number;
  minAvgP50: number;
  addedLatencyMean: number;
}

/** One seed's headline figures (the JSON's `perSeed`). */
function seedSummary(seed: string, windows: readonly WindowScore[], addedLatencyMean: number): SeedSummary {
  const s = summarizeWindows(windows);
  return { seed, inBandRate: s.inBandRate, maxAvgP95: s.maxAvgP95, minAvgP50: s.minAvgP50, addedLatencyMean };
}

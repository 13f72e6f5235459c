/**
 * The scheduling frontier: for one load, how flat the windows get against how much latency is
 * added, over a range of latency settings, for `policy-estimated` and `policy-oracle` (measured),
 * with the count-only bound (count-bound.ts, proven) beside them.
 *
 * Which knob moves along the frontier is one function (`FRONTIER_KNOBS`): the latency budget, the
 * policy's target latency at a fixed budget, or both together. The bound depends only on the
 * budget and the mean latency, so it is computed at each setting's budget and at each policy's
 * measured mean latency: every bound figure is a proven ceiling for the point next to it.
 */
import { Database } from '../../server/database.js';
import type { SimulationOptions } from '../../server/options.js';
import type { PolicyOptions } from '../options.js';
import { budgetProblem, PooledBound, type BoundRun } from './count-bound.js';
import { countRatio } from './count-ratio.js';
import { evaluate, type LabConfig } from './lab.js';
import { BAND } from './metrics.js';

/** How a setting s maps to the policy's options: the one place the swept knob is chosen. */
export const FRONTIER_KNOBS = {
  /** Budget s; the target latency as configured, capped at s. */
  'latency-budget': (base: PolicyOptions, s: number): PolicyOptions => ({
    ...base,
    latencyBudget: Math.round(s),
    targetLatency: Math.min(base.targetLatency, s),
  }),
  /** Target latency s at the configured budget. */
  'target-latency': (base: PolicyOptions, s: number): PolicyOptions => ({ ...base, targetLatency: s }),
  /** Target latency s with a budget of 4·s (at least 1), as in the pairings 20/5, 12/3, 10/2.5. */
  'target-and-budget': (base: PolicyOptions, s: number): PolicyOptions => ({
    ...base,
    targetLatency: s,
    latencyBudget: Math.max(1, Math.ceil(4 * s)),
  }),
  /** Target latency s with a budget of 10·s, as in the pairings 600/60 and 200/20 at the defaults. */
  'target-and-budget-10x': (base: PolicyOptions, s: number): PolicyOptions => ({
    ...base,
    targetLatency: s,
    latencyBudget: Math.max(1, Math.ceil(10 * s)),
  }),
} as const;

export type FrontierKnob = keyof typeof FRONTIER_KNOBS;

/** Largest budget the bound's curve against the mean is drawn at (its cost grows with the budget). */
export const CURVE_MAX_BUDGET = 60;
export const FRONTIER_KNOB_NAMES = Object.keys(FRONTIER_KNOBS) as FrontierKnob[];
export const FRONTIER_POLICIES = ['policy-estimated', 'policy-oracle'] as const;

export interface FrontierRow {
  setting: number;
  latencyBudget: number;
  targetLatency: number;
  name: (typeof FRONTIER_POLICIES)[number];
  inBandRate: number;
  maxAvgP95: number;
  minAvgP50: number;
  addedLatencyMean: number;
  addedLatencyP99: number;
  addedLatencyMax: number;
  /** Proven: no schedule with this budget puts more windows in band (share of scored windows). */
  boundAtBudget: number;
  /** Proven: no schedule with this budget and at most this row's mean added latency puts more windows in band. */
  boundAtMeanLatency: number;
}

export interface FrontierReport {
  config: {
    seeds: string[];
    seconds: number;
    probabilityScale: number;
    queryCount: number;
    defaultDelay: number;
    metricsWindowTicks: number;
    knob: FrontierKnob;
    settings: number[];
    estimator: string;
    warmupWindows: number;
  };
  rows: FrontierRow[];
  bound: {
    /** The count ratio λ per seed (count-ratio.ts): an in-band window's ticks hold k_min ≥ 1 to ⌊λ·k_min⌋ executions. */
    countRatio: (number | null)[];
    /** The bound at budget 0 and at each budget of the sweep, the mean latency free. */
    byBudget: { latencyBudget: number; inBandRate: number }[];
    /** The bound against mean added latency at the sweep's largest budget up to CURVE_MAX_BUDGET (valid for every row up to it). */
    curve: { latencyBudget: number; meanLatency: number; inBandRate: number }[];
    windows: number;
  };
}

/** The run's arrivals per tick and the costs of the queries that arrived (ground truth: evaluation only). */
export function boundRun(simulation: SimulationOptions, ticks: number, firstScoredWindow: number): BoundRun {
  const db = new Database({ ...simulation, exposeTruth: true });
  const truth = new Map(db.groundTruth().map((q) => [q.id, [q.cpu, q.io, q.memory]]));
  const arrivals = new Int32Array(ticks);
  const seen = new Set<string>();
  db.hooks.queued.add((q) => {
    arrivals[q.tick]!++;
    seen.add(q.queryId);
  });
  db.run(ticks);
  return {
    arrivals,
    windowTicks: simulation.metricsWindowTicks,
    defaultDelay: simulation.defaultDelay,
    firstScoredWindow,
    ratio: countRatio(
      [...seen].map((id) => truth.get(id)!),
      BAND,
    ).ratio,
  };
}

export async function runFrontier(
  config: LabConfig,
  knob: FrontierKnob,
  settings: readonly number[],
  warmup: number,
): Promise<FrontierReport> {
  const runs = config.seeds.map((seed) => boundRun({ ...config.simulation, seed }, config.ticks, warmup));
  const bounds = new Map<number, PooledBound>();
  const boundAt = (budget: number) => {
    let b = bounds.get(budget);
    if (!b) {
      b = new PooledBound(runs.map((r) => budgetProblem(r, budget)));
      bounds.set(budget, b);
    }
    return b;
  };
  const rows: FrontierRow[] = [];
  for (const s of settings) {
    const options = FRONTIER_KNOBS[knob](config.policy, s);
    const bound = boundAt(options.latencyBudget);
    const share = (windows: number) => windows / Math.max(1, bound.windows);
    for (const name of FRONTIER_POLICIES) {
      const r = await evaluate(config, name, options, warmup);
      rows.push({
        setting: s,
        latencyBudget: options.latencyBudget,
        targetLatency: options.targetLatency,
        name,
        inBandRate: r.inBandRate,
        maxAvgP95: r.maxAvgP95,
        minAvgP50: r.minAvgP50,
        addedLatencyMean: r.addedLatencyMean,
        addedLatencyP99: r.addedLatencyP99,
        addedLatencyMax: r.addedLatencyMax,
        boundAtBudget: share(bound.atBudget()),
        boundAtMeanLatency: share(bound.atMeanLatency(r.addedLatencyMean)),
      });
    }
  }
  const budgets = [...new Set(rows.map((r) => r.latencyBudget))].sort((a, b) => a - b);
  // The curve costs a programme per μ tried at every point, and the programme grows with the
  // budget: it is drawn at the largest budget up to CURVE_MAX_BUDGET (valid for rows up to it).
  const curveBudgets = budgets.filter((b) => b <= CURVE_MAX_BUDGET);
  const largest = curveBudgets.at(-1) ?? budgets[0] ?? config.policy.latencyBudget;
  const top = boundAt(largest);
  const most = Math.max(1, ...rows.map((r) => r.addedLatencyMean).filter(Number.isFinite));
  const curve = curveLatencies(1.25 * most).map((l) => ({
    latencyBudget: largest,
    meanLatency: l,
    inBandRate: top.atMeanLatency(l) / Math.max(1, top.windows),
  }));
  const estimator = config.costModelProvider({ simulation: { ...config.simulation, seed: 'name' } }).name;
  return {
    config: {
      seeds: [...config.seeds],
      seconds: (config.ticks * config.simulation.tickMs) / 1000,
      probabilityScale: config.simulation.probabilityScale,
      queryCount: config.simulation.queryCount,
      defaultDelay: config.simulation.defaultDelay,
      metricsWindowTicks: config.simulation.metricsWindowTicks,
      knob,
      settings: [...settings],
      estimator,
      warmupWindows: warmup,
    },
    rows,
    bound: {
      countRatio: runs.map((r) => r.ratio),
      // Budget 0 too: nothing moves, so it is the arrivals' own counts (and, with a default delay of 1, mean latency 0).
      byBudget: [...new Set([0, ...budgets])].map((b) => ({
        latencyBudget: b,
        inBandRate: boundAt(b).atBudget() / Math.max(1, boundAt(b).windows),
      })),
      curve,
      windows: top.windows,
    },
  };
}

/** Mean latencies for the bound's curve: dense near 0, where it rises steeply, then doubling, up to `most`. */
export function curveLatencies(most: number): number[] {
  const points = [0, 0.1, 0.25, 0.5, 0.75, 1, 1.5];
  for (let l = 2; l < most; l *= 2) points.push(l);
  return [...points.filter((l) => l < most), most];
}

/**
 * The product's own estimator inside the lab (`product`): the costs `policy-estimated` schedules
 * with come from exactly the computation the analysis job runs — the same sufficient statistics
 * (analysis/estimator/window-stats.ts computes in memory what the job's SQL computes in ClickHouse;
 * a test proves them equal), the same solve (`solveCosts`: ridge toward an empirical-Bayes prior,
 * non-negative, with sd's) and the same prior rows for queries that ran after the settle horizon
 * (estimate.ts) — fed from the run's own executed and window events, never ground truth.
 *
 * It also behaves like the live job in time: it re-solves every `intervalWindows` windows (the
 * job's period) and, during the cold start, at the job's early runs (`earlySolves`), from the windows that ended at least `settleWindows` windows before the newest
 * execution (the job's settle horizon), and until the first solve that has data every query gets
 * the policy's prior (`cost` returns undefined): the cold start is scored. A query first seen after
 * the latest solve is unknown until the next one, as it is to the live scheduler.
 *
 * The solve is async (the live job slices it to keep the event loop free); here it runs with
 * `noPause` and the lab awaits it between ticks (`flush`), so the estimates it produces are in use
 * from the next tick's decisions on. Its wall time is counted in `solveMs`.
 */
import type { ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import { priorEstimate } from '../../analysis/estimator/estimate.js';
import { noPause } from '../../analysis/estimator/pause.js';
import {
  solveCosts,
  type CostSolution,
  type QueryEstimate,
  type SolveOptions,
} from '../../analysis/estimator/solve.js';
import type { TotalMethod } from '../../analysis/estimator/sql.js';
import { WindowStatsAccumulator } from '../../analysis/estimator/window-stats.js';
import { earlySolves, estimatorSettings, analysisSettings } from '../../analysis/options.js';
import { DEFAULT_SIMULATION } from '../../server/options.js';
import type { CostEstimate, CostModel } from '../cost-model.js';
import type { EventObserver } from './run.js';

/**
 * The durations below count windows of the default length (1 s, `DEFAULT_SIMULATION`), as the
 * job's are durations in time: a run with shorter windows solves after more of its own windows
 * (30 s is 60 windows of 5 ticks), not more often in time than the job would.
 */
export interface ProductEstimatorOptions {
  method: TotalMethod;
  /** Default windows between solves (the analysis job's interval). */
  intervalWindows: number;
  /** Extra solves at these default-window counts from the start, before the first interval ends (cold start). */
  earlySolves: readonly number[];
  /** A window is used once the newest execution is this many default windows past its end (the settle horizon). */
  settleWindows: number;
  /** Ticks per metrics window of the run (converts the default windows above to its own). */
  windowTicks: number;
  solve: SolveOptions;
}

/** The analysis job's defaults, its durations in default (1 s) windows: every 30 (every 2 for the first 90), settle 3. */
const DEFAULT_WINDOW_MS = DEFAULT_SIMULATION.tickMs * DEFAULT_SIMULATION.metricsWindowTicks;
export const DEFAULT_PRODUCT_ESTIMATOR: Omit<ProductEstimatorOptions, 'windowTicks'> = {
  method: estimatorSettings.totalMethod.default,
  intervalWindows: Math.max(1, Math.round(analysisSettings.intervalMs.default / DEFAULT_WINDOW_MS)),
  earlySolves: earlySolves(analysisSettings.earlySolveEveryMs.default, analysisSettings.earlySolveUntilMs.default).map(
    (ms) => Math.round(ms / DEFAULT_WINDOW_MS),
  ),
  settleWindows: Math.round(estimatorSettings.settleMs.default / DEFAULT_WINDOW_MS),
  solve: {
    denseLimit: estimatorSettings.denseLimit.default,
  },
};

export class ProductEstimator implements CostModel, EventObserver {
  readonly name: string;
  private readonly stats: WindowStatsAccumulator;
  /** Closed windows not folded into the statistics yet (not settled at the last solve). */
  private readonly unsettled: WindowEvent[] = [];
  private estimates = new Map<string, CostEstimate>();
  private windowsSinceSolve = 0;
  private windowsSeen = 0;
  private newestTick = Number.NEGATIVE_INFINITY;
  private solving: Promise<void> | undefined;
  /** The latest solve that had data (its prior, noise, counts), and the last tick of the windows it used. */
  latest: { solution: CostSolution; horizonTick: number } | undefined;
  /** Solves run, solves that had data, and their total wall time (ms). */
  solves = 0;
  solvesWithData = 0;
  solveMs = 0;
  /** The options' durations in the run's own windows (interval, early solves) and ticks (settle). */
  private readonly interval: number;
  private readonly early: ReadonlySet<number>;
  private readonly settleTicks: number;

  constructor(private readonly options: ProductEstimatorOptions) {
    const perDefault = DEFAULT_SIMULATION.metricsWindowTicks / options.windowTicks;
    this.interval = Math.max(1, Math.round(options.intervalWindows * perDefault));
    this.early = new Set(options.earlySolves.map((w) => Math.max(1, Math.round(w * perDefault))));
    this.settleTicks = options.settleWindows * DEFAULT_SIMULATION.metricsWindowTicks;
    this.stats = new WindowStatsAccumulator(options.method);
    // In the run's own windows (the defaults: every 30, settle 3 with 1 s windows).
    const settle = Math.round(options.settleWindows * perDefault);
    this.name = `product (ridge-eb/${options.method}, every ${this.interval} windows, settle ${settle})`;
  }

  cost(queryId: string): CostEstimate | undefined {
    return this.estimates.get(queryId);
  }

  observe(event: ExecutedEvent | WindowEvent): void {
    if (event.type === 'executed') {
      this.stats.addExecution(event.queryId, event.executedTick);
      if (event.executedTick > this.newestTick) this.newestTick = event.executedTick;
      return;
    }
    this.unsettled.push(event);
    const early = this.early.has(++this.windowsSeen);
    if (++this.windowsSinceSolve < this.interval && !early) return;
    this.windowsSinceSolve = 0;
    const previous = this.solving;
    this.solving = previous ? previous.then(() => this.solve()) : this.solve();
  }

  /** The solve started by the events so far, if any: the lab awaits it before the next tick. */
  flush(): Promise<void> | undefined {
    const p = this.solving;
    this.solving = undefined;
    return p;
  }

  private async solve(): Promise<void> {
    const started = performance.now();
    this.solves++;
    // The settle horizon (blocks.ts / horizonSql): windows that ended settleWindows before the newest execution.
    const horizon = this.newestTick - this.settleTicks;
    let settled = 0;
    while (settled < this.unsettled.length && this.unsettled[settled]!.lastTick <= horizon) {
      this.stats.addWindow(this.unsettled[settled++]!);
    }
    this.unsettled.splice(0, settled);
    const stats = this.stats.stats();
    const solution = await solveCosts(stats, this.options.solve, noPause);
    if (solution.estimates.length > 0) {
      this.solvesWithData++;
      const estimates = new Map(solution.estimates.map((e) => [e.queryId, toCostEstimate(e)]));
      // Queries that ran after the horizon only: an explicit prior with 0 observations (estimate.ts).
      for (const queryId of this.stats.waitingQueries().keys()) {
        if (!estimates.has(queryId)) estimates.set(queryId, toCostEstimate(priorEstimate(queryId, solution.prior)));
      }
      this.estimates = estimates;
      this.latest = { solution, horizonTick: this.stats.lastTick };
    }
    this.solveMs += performance.now() - started;
  }
}

function toCostEstimate(e: QueryEstimate): CostEstimate {
  return {
    cpu: e.mean[0],
    io: e.mean[1],
    memory: e.mean[2],
    sd: { cpu: e.sd[0], io: e.sd[1], memory: e.sd[2] },
    observations: e.observations,
  };
}

/**
 * The lab's own online cost estimator (`window-regression`): learns each query's cost vector from
 * the run's executed events and window totals only, never from ground truth. Each closed window is
 * one linear observation per resource: total = Σ_q count_q · cost_q, where the counts come from the
 * executed events since the previous window and the total from the window's (truncated) average.
 * It is Bayesian linear regression updated one window at a time (a Kalman filter on a constant
 * state): every query starts at the prior (mean, sd) when first seen; the posterior covariance gives
 * each estimate's uncertainty, which the policy uses to be cautious. A few hundred windows pin
 * down the common queries exactly (the observation noise is only the average's truncation).
 *
 * Cost: O(k·n + n²) per window for n queries seen and k distinct queries in the window.
 */
import type { ExecutedEvent, WindowEvent } from '../../common/contracts.js';
import type { CostEstimate, CostModel } from '../cost-model.js';
import type { EventObserver } from './run.js';

export interface WindowRegressionOptions {
  /** Prior mean and standard deviation of each resource's cost for a newly seen query. */
  priorMean: number;
  priorSd: number;
}

export class WindowRegression implements CostModel, EventObserver {
  readonly name = 'window-regression';
  private readonly column = new Map<string, number>();
  private size = 0;
  private capacity = 0;
  /** Posterior means per resource, and the shared posterior covariance (row-major, capacity²). */
  private theta: [Float64Array, Float64Array, Float64Array] = [
    new Float64Array(0),
    new Float64Array(0),
    new Float64Array(0),
  ];
  private cov = new Float64Array(0);
  private executions = new Float64Array(0);
  /** Executions per column since the last window closed. */
  private readonly pending = new Map<number, number>();

  constructor(private readonly options: WindowRegressionOptions) {}

  cost(queryId: string): CostEstimate | undefined {
    const j = this.column.get(queryId);
    if (j === undefined) return undefined;
    const sd = Math.sqrt(Math.max(0, this.cov[j * this.capacity + j]!));
    return {
      cpu: this.theta[0][j]!,
      io: this.theta[1][j]!,
      memory: this.theta[2][j]!,
      sd: { cpu: sd, io: sd, memory: sd },
      observations: this.executions[j]!,
    };
  }

  observe(event: ExecutedEvent | WindowEvent): void {
    if (event.type === 'executed') {
      const j = this.columnOf(event.queryId);
      this.pending.set(j, (this.pending.get(j) ?? 0) + 1);
      this.executions[j]!++;
    } else {
      this.update(event);
    }
  }

  private update(w: WindowEvent): void {
    const xs = [...this.pending.entries()];
    this.pending.clear();
    if (xs.length === 0 || w.samples === 0) return;
    const n = this.size;
    const cap = this.capacity;
    const cov = this.cov;
    // g = Σ·x (x is sparse), s = xᵀΣx + noise.
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      const row = i * cap;
      for (const [j, c] of xs) acc += cov[row + j]! * c;
      g[i] = acc;
    }
    let s = 0;
    for (const [j, c] of xs) s += g[j]! * c;
    // The total is avg·samples plus the truncated remainder, uniform on [0, samples − 1].
    s += (w.samples * w.samples - 1) / 12 + 1;
    const totals = [w.cpu, w.io, w.memory].map((r) => r.average * w.samples + (w.samples - 1) / 2);
    for (let r = 0; r < 3; r++) {
      const th = this.theta[r]!;
      let predicted = 0;
      for (const [j, c] of xs) predicted += th[j]! * c;
      const k = (totals[r]! - predicted) / s;
      for (let i = 0; i < n; i++) th[i]! += g[i]! * k;
    }
    for (let i = 0; i < n; i++) {
      const gi = g[i]! / s;
      if (gi === 0) continue;
      const row = i * cap;
      for (let j = 0; j < n; j++) cov[row + j]! -= gi * g[j]!;
    }
  }

  private columnOf(queryId: string): number {
    const known = this.column.get(queryId);
    if (known !== undefined) return known;
    if (this.size === this.capacity) this.grow(Math.max(16, this.capacity * 2));
    const j = this.size++;
    this.column.set(queryId, j);
    for (let r = 0; r < 3; r++) this.theta[r]![j] = this.options.priorMean;
    this.cov[j * this.capacity + j] = this.options.priorSd ** 2;
    return j;
  }

  private grow(capacity: number): void {
    const cov = new Float64Array(capacity * capacity);
    for (let i = 0; i < this.size; i++)
      cov.set(this.cov.subarray(i * this.capacity, i * this.capacity + this.size), i * capacity);
    this.cov = cov;
    this.theta = this.theta.map((t) => {
      const next = new Float64Array(capacity);
      next.set(t);
      return next;
    }) as [Float64Array, Float64Array, Float64Array];
    const executions = new Float64Array(capacity);
    executions.set(this.executions);
    this.executions = executions;
    this.capacity = capacity;
  }
}

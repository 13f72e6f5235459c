/**
 * How much load the policy holds back, in ticks of arrivals (`wait`), steered so that the mean
 * added latency of what it schedules meets the target. The relation between the two depends on
 * the load: at about 14 executions per tick the pool turns over quickly and latency runs below the
 * held ticks; at 1–2 per tick, executions that fit badly wait longer and latency runs above. A slow
 * integral controller, updated once per window, finds the hold that gives the target latency at
 * any load without a table of cases. The hold stays within [0, latency budget]: holding more than
 * the budget only forces executions out at their deadlines.
 *
 * Latency is spent where traffic is light. The target is a mean over executions, and a window of
 * few executions per tick needs a larger pool (more latency) to come out flat than a busy one, while
 * it weighs little in that mean. So each window's setpoint is the target × `ratio` (the policy
 * passes long-run arrivals ÷ recent arrivals: above 1 in the trough, below at the peak), and the
 * controller weighs each window's error by its executions, so that what it holds to the setpoint is
 * the execution-weighted mean. Online, the long-run rate is the past's, which makes the shift
 * overspend when a trough follows a peak; a guard scales the setpoint down as soon as the mean
 * latency so far (execution-weighted, over about one traffic period) rises above the target.
 */
export interface HoldState {
  wait: number;
  /** Added latency summed, and executions counted, since the last update. */
  sum: number;
  count: number;
  /** Decayed latency and executions over the long run (the guard's mean), and the mean executions per window. */
  spent?: number;
  scheduled?: number;
  perWindow?: number;
}

/** Windows over which the guard's mean latency decays by half (about one traffic period at the defaults). */
const GUARD_HALF_LIFE_WINDOWS = 2000;
/** Setpoint lost per unit of relative excess of that mean over the target (3: 10 % over → × 0.7). */
const GUARD_GAIN = 3;
/** Most a single window's error weighs, in windows of average size. */
const MAX_WEIGHT = 3;

export class HoldController {
  private sum = 0;
  private count = 0;
  private spent = 0;
  private scheduled = 0;
  private perWindow = 0;
  private readonly decay = Math.pow(0.5, 1 / GUARD_HALF_LIFE_WINDOWS);
  wait: number;

  constructor(
    private readonly targetLatency: number,
    private readonly budget: number,
    /** Ticks of hold per tick of latency error, per window. Small: the loop must be slower than the noise. */
    private readonly gain = 0.05,
  ) {
    this.wait = Math.min(targetLatency, budget);
  }

  /** An execution was scheduled with this added latency. */
  record(addedLatency: number): void {
    this.sum += addedLatency;
    this.count++;
  }

  /**
   * Called when a window starts: moves the hold by the latency error of the window just planned,
   * against the target × `ratio` (1: the target itself), less the guard's cut.
   */
  update(ratio = 1): number {
    this.spent = this.spent * this.decay + this.sum;
    this.scheduled = this.scheduled * this.decay + this.count;
    if (this.count > 0) {
      this.perWindow = this.perWindow === 0 ? this.count : 0.99 * this.perWindow + 0.01 * this.count;
      const weight = Math.min(MAX_WEIGHT, this.count / this.perWindow);
      const error = this.setpoint(ratio) - this.sum / this.count;
      this.wait = Math.min(this.budget, Math.max(0, this.wait + this.gain * weight * error));
    }
    this.sum = 0;
    this.count = 0;
    return this.wait;
  }

  /** The window's latency setpoint: the target × ratio, cut while the long-run mean is above the target. */
  setpoint(ratio = 1): number {
    const mean = this.scheduled > 0 ? this.spent / this.scheduled : 0;
    const excess = this.targetLatency > 0 ? Math.max(0, mean / this.targetLatency - 1) : 0;
    return this.targetLatency * ratio * Math.max(0.5, 1 - GUARD_GAIN * excess);
  }

  state(): HoldState {
    return {
      wait: this.wait,
      sum: this.sum,
      count: this.count,
      spent: this.spent,
      scheduled: this.scheduled,
      perWindow: this.perWindow,
    };
  }

  restore(state: HoldState): void {
    this.wait = Math.min(this.budget, Math.max(0, state.wait));
    this.sum = state.sum;
    this.count = state.count;
    this.spent = state.spent ?? 0;
    this.scheduled = state.scheduled ?? 0;
    this.perWindow = state.perWindow ?? 0;
  }
}

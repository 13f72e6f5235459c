/**
 * How much load the policy holds back, in ticks of arrivals (`wait`), steered so that the mean
 * added latency of what it schedules meets the target. The relation between the two depends on
 * the load: at about 14 executions per tick the pool turns over quickly and latency runs below the
 * held ticks; at 1–2 per tick, executions that fit badly wait longer and latency runs above. A slow
 * integral controller, updated once per window, finds the hold that gives the target latency at
 * any load without a table of cases. The hold stays within [0, latency budget]: holding more than
 * the budget only forces executions out at their deadlines.
 */
export interface HoldState {
  wait: number;
  /** Added latency summed, and executions counted, since the last update. */
  sum: number;
  count: number;
}

export class HoldController {
  private sum = 0;
  private count = 0;
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

  /** Called when a window starts: moves the hold by the latency error of the window just planned. */
  update(): number {
    if (this.count > 0) {
      const error = this.targetLatency - this.sum / this.count;
      this.wait = Math.min(this.budget, Math.max(0, this.wait + this.gain * error));
    }
    this.sum = 0;
    this.count = 0;
    return this.wait;
  }

  state(): HoldState {
    return { wait: this.wait, sum: this.sum, count: this.count };
  }

  restore(state: HoldState): void {
    this.wait = Math.min(this.budget, Math.max(0, state.wait));
    this.sum = state.sum;
    this.count = state.count;
  }
}

/**
 * What arrives per tick: the expected load per resource and the number of executions, as
 * exponentially weighted means over recent ticks, with the usual start-up bias correction (divide
 * by the weight accumulated so far) so the first ticks are not read as "nothing arrives". Ticks
 * with no arrivals count as zeros. The traffic curve moves slowly (a period of 20 000 ticks by
 * default), so a half-life of about a hundred ticks follows it without lag while averaging out
 * per-tick noise.
 */
export type Vec3 = [number, number, number];

export interface ArrivalEstimate {
  /** Expected load arriving per tick (cpu, io, memory). */
  load: Vec3;
  /** Expected executions arriving per tick. */
  count: number;
}

/** Accumulators: cpu, io, memory, count. */
type Vec4 = [number, number, number, number];

export class ArrivalRate {
  private readonly decay: number;
  private readonly sum: Vec4 = [0, 0, 0, 0];
  private weight = 0;
  private readonly open: Vec4 = [0, 0, 0, 0];
  /** The tick whose arrivals are being accumulated in `open`; undefined before the first. */
  private openTick: number | undefined;

  constructor(halfLifeTicks: number) {
    this.decay = Math.pow(0.5, 1 / halfLifeTicks);
  }

  /** Adds one arrival's expected cost to tick `tick` (ticks must not go backwards). */
  add(tick: number, cost: Readonly<Vec3>): void {
    this.closeBefore(tick);
    if (this.openTick === undefined) this.openTick = tick;
    for (let r = 0; r < 3; r++) this.open[r]! += cost[r]!;
    this.open[3] += 1;
  }

  /** Closes every tick before `tick` (a tick with no arrivals closes as zero). */
  closeBefore(tick: number): void {
    if (this.openTick === undefined || tick <= this.openTick) return;
    for (let r = 0; r < 4; r++) this.sum[r] = this.sum[r]! * this.decay + this.open[r]!;
    this.weight = this.weight * this.decay + 1;
    this.open.fill(0);
    // The ticks strictly between the open one and `tick` had no arrivals.
    const gap = tick - this.openTick - 1;
    if (gap > 0) {
      const d = Math.pow(this.decay, gap);
      for (let r = 0; r < 4; r++) this.sum[r]! *= d;
      this.weight = this.weight * d + (1 - d) / (1 - this.decay);
    }
    this.openTick = tick;
  }

  /** Mean arrivals per tick over the closed ticks, or undefined before any tick closed. */
  perTick(): ArrivalEstimate | undefined {
    if (this.weight === 0) return undefined;
    const w = this.weight;
    return { load: [this.sum[0] / w, this.sum[1] / w, this.sum[2] / w], count: this.sum[3] / w };
  }

  /** For restart: the estimator's state as plain numbers (JSON-safe), and restoring it. */
  state(): ArrivalRateState {
    return { sum: [...this.sum], weight: this.weight, open: [...this.open], openTick: this.openTick ?? null };
  }

  restore(state: ArrivalRateState): void {
    this.sum.splice(0, 4, ...state.sum);
    this.weight = state.weight;
    this.open.splice(0, 4, ...state.open);
    this.openTick = state.openTick ?? undefined;
  }
}

export interface ArrivalRateState {
  sum: Vec4;
  weight: number;
  open: Vec4;
  openTick: number | null;
}

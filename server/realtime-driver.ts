/**
 * Runs a step function once per tick length in real time, without drift: tick n is due at
 * `t0 + n·tickMs` on the clock, and each timer is set for the next due time (not "tickMs from now"),
 * so timer lateness never accumulates. When the process falls behind (a long GC, a busy event loop)
 * the missing ticks run back to back, in slices that yield to I/O between them.
 */
export type DriverState = 'idle' | 'running' | 'stopped' | 'failed';

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RealtimeDriverOptions {
  tickMs: number;
  /** Most ticks run back to back before yielding to I/O when catching up. Default 50. */
  maxCatchUpTicks?: number;
  clock?: Clock;
  /** Called when the step throws; the driver stops (fail-stop: a record must never be skipped). */
  onError?: (error: unknown) => void;
}

export class RealtimeDriver {
  private _state: DriverState = 'idle';
  private t0 = 0;
  private done = 0;
  private timer: unknown;
  private readonly clock: Clock;
  private readonly maxCatchUp: number;
  private maxLagMs = 0;

  constructor(
    private readonly step: () => void,
    private readonly options: RealtimeDriverOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxCatchUp = options.maxCatchUpTicks ?? 50;
  }

  get state(): DriverState {
    return this._state;
  }

  /** Ticks run since start. */
  get ticksRun(): number {
    return this.done;
  }

  /** Ticks that should have run by now minus ticks run (0 or 1 when keeping up). */
  lag(): number {
    return this.expected() - this.done;
  }

  /** The worst lag seen, in ms behind the tick's due time. */
  get worstLagMs(): number {
    return this.maxLagMs;
  }

  /** Starts ticking; the first tick runs immediately. `t0` may be given to align ticks to a grid. */
  start(t0 = this.clock.now()): void {
    if (this._state !== 'idle') throw new Error(`driver cannot start from state ${this._state}`);
    this._state = 'running';
    this.t0 = t0;
    this.loop();
  }

  stop(): void {
    if (this._state === 'running') this._state = 'stopped';
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Ticks due by now: tick n is due at t0 + n·tickMs, so floor(elapsed / tickMs) + 1 are due. */
  private expected(): number {
    return Math.floor((this.clock.now() - this.t0) / this.options.tickMs) + 1;
  }

  private loop(): void {
    this.timer = undefined;
    if (this._state !== 'running') return;
    const due = this.expected();
    let ran = 0;
    while (this.done < due && ran < this.maxCatchUp) {
      const lateBy = this.clock.now() - (this.t0 + this.done * this.options.tickMs);
      if (lateBy > this.maxLagMs) this.maxLagMs = lateBy;
      try {
        this.step();
      } catch (error) {
        this._state = 'failed';
        this.options.onError?.(error);
        return;
      }
      this.done++;
      ran++;
    }
    // Still behind after a slice: yield to I/O, then continue at once.
    const wait = this.done < due ? 0 : Math.max(0, this.t0 + this.done * this.options.tickMs - this.clock.now());
    this.timer = this.clock.setTimer(() => this.loop(), wait);
  }
}

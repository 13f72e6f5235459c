import { describe, expect, it } from 'vitest';
import { RealtimeDriver, type Clock } from '../../server/realtime-driver.js';

/** A manual clock: time moves only when the test says so, and timers fire in order. */
class ManualClock implements Clock {
  time = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;
  now = () => this.time;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return id;
  };
  clearTimer = (h: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== h);
  };
  /** Advances time, firing due timers; `lateness` delays every firing like a busy event loop. */
  advance(ms: number, lateness = 0) {
    const end = this.time + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at + lateness > end) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at + lateness);
      next.fn();
    }
    this.time = end;
  }
}

describe('RealtimeDriver', () => {
  it('runs one tick per tick length on the clock, starting at once', () => {
    const clock = new ManualClock();
    let ticks = 0;
    const d = new RealtimeDriver(() => ticks++, { tickMs: 100, clock });
    d.start();
    expect(ticks).toBe(1);
    clock.advance(60_000);
    expect(ticks).toBe(601);
    expect(d.lag()).toBe(0);
  });

  it('does not accumulate timer lateness: every timer firing 7 ms late still gives the exact count', () => {
    const clock = new ManualClock();
    let ticks = 0;
    const d = new RealtimeDriver(() => ticks++, { tickMs: 100, clock });
    d.start();
    for (let s = 1; s <= 60; s++) {
      clock.advance(1000, 7);
      // Within one tick of the ideal at every second, not drifting further each second.
      expect(Math.abs(ticks - (s * 10 + 1))).toBeLessThanOrEqual(1);
    }
  });

  it('catches up after a stall, in slices, and records how late it was', () => {
    const clock = new ManualClock();
    let ticks = 0;
    const d = new RealtimeDriver(() => ticks++, { tickMs: 100, clock, maxCatchUpTicks: 5 });
    d.start();
    clock.time += 2_000; // the event loop was blocked for 2 s: no timer fired
    clock.advance(0);
    expect(ticks).toBe(21); // ticks 0..20 are due at 2 000 ms, run in slices of 5 that yield between them
    expect(d.worstLagMs).toBeGreaterThanOrEqual(1_900);
    expect(d.lag()).toBe(0);
  });

  it('stops on an error in the step (fail-stop) and reports it', () => {
    const clock = new ManualClock();
    const errors: unknown[] = [];
    let n = 0;
    const d = new RealtimeDriver(
      () => {
        if (++n === 3) throw new Error('disk full');
      },
      { tickMs: 10, clock, onError: (e) => errors.push(e) },
    );
    d.start();
    clock.advance(1000);
    expect(d.state).toBe('failed');
    expect(n).toBe(3);
    expect(errors).toHaveLength(1);
  });

  it('keeps real time within 1 % on the system clock', async () => {
    let ticks = 0;
    const tickMs = 5;
    const d = new RealtimeDriver(() => ticks++, { tickMs });
    const t0 = performance.timeOrigin + performance.now();
    d.start(t0);
    const errors: number[] = [];
    for (let i = 1; i <= 3; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const expected = Math.floor((performance.timeOrigin + performance.now() - t0) / tickMs) + 1;
      errors.push(ticks - expected);
    }
    d.stop();
    expect(d.state).toBe('stopped');
    // 3 s at 5 ms = 600 ticks: within 1 % (6 ticks) at every check, so the error did not grow.
    for (const e of errors) expect(Math.abs(e)).toBeLessThanOrEqual(6);
  });
});

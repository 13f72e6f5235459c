/**
 * The database's own count of what it executed, per tick, kept so that completeness can be checked
 * for any tick range: "executions the database performed in ticks [from, to]" against what the
 * pipeline stored. A ring of the last `retainTicks` ticks (default 1 000 000: 27.8 hours at 100 ms,
 * 4 MB) — older ranges are refused rather than answered wrongly.
 */
import { InvalidArgumentError } from '../common/errors.js';

export interface LedgerRange {
  from: number;
  to: number;
  /** Executions the database ran in [from, to]. */
  executed: number;
  /** Metrics windows the database closed in [from, to] (whose last tick is in the range). */
  windows: number;
}

export class ExecutionLedger {
  private readonly counts: Uint32Array;
  private next: number;

  constructor(
    private readonly firstTick: number,
    private readonly windowTicks: number,
    private readonly retainTicks = 1_000_000,
  ) {
    this.counts = new Uint32Array(retainTicks);
    this.next = firstTick;
  }

  /** Records that tick `tick` (the next one) ran `executed` executions. */
  record(tick: number, executed: number): void {
    if (tick !== this.next) throw new Error(`ledger expected tick ${this.next}, got ${tick}`);
    this.counts[tick % this.retainTicks] = executed;
    this.next = tick + 1;
  }

  /** Oldest tick still answerable. */
  get oldestTick(): number {
    return Math.max(this.firstTick, this.next - this.retainTicks);
  }

  /** Counts for [from, to], clipped to the ticks this run has processed. */
  range(from: number, to: number): LedgerRange {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from > to) {
      throw new InvalidArgumentError('from', 'from and to must be integers with from ≤ to');
    }
    const lo = Math.max(from, this.firstTick);
    const hi = Math.min(to, this.next - 1);
    if (lo <= hi && lo < this.oldestTick) {
      throw new InvalidArgumentError('from', `ticks before ${this.oldestTick} are no longer retained`);
    }
    let executed = 0;
    for (let t = lo; t <= hi; t++) executed += this.counts[t % this.retainTicks]!;
    return { from, to, executed, windows: windowsClosedIn(lo, hi, this.windowTicks) };
  }
}

/** Metrics windows that close in ticks [lo, hi]: a window closes at the ticks t with (t + 1) % W === 0. */
export function windowsClosedIn(lo: number, hi: number, windowTicks: number): number {
  const closesUpTo = (t: number) => Math.floor((t + 1) / windowTicks);
  return lo <= hi ? closesUpTo(hi) - closesUpTo(lo - 1) : 0;
}

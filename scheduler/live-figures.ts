/**
 * The live scheduler's own figures: its decision hit rate and decision latency (from the server
 * publishing the tick's queued events to `/delay` acknowledged), over all decisions and over the
 * most recent ones.
 *
 * Hit rate (docs/architecture.md, "Definitions") = decisions applied at the intended tick ÷
 * decisions the scheduler intended. A decision is intended when the policy produces it for the tick the scheduler is deciding, whether or not it
 * is sent: one skipped because its tick-end was stale (the tick has most likely run) is a miss, as
 * is every other outcome than "the database now runs the execution at the tick the policy chose".
 * `misses` says why, so a falling rate points at its cause.
 */
export type Miss =
  /** Not sent: its tick-end was superseded in the same read, or published more than a tick ago. */
  | 'stale'
  /** Applied, but at another tick: it arrived after the intended tick had run (the one-tick floor). */
  | 'late'
  /** 409: another client had moved the execution before the request arrived; it is theirs now. */
  | 'contested'
  /** 404: the execution had already run. */
  | 'notQueued'
  /** Another 4xx: the database refused the request; nothing is ever asked for that execution again. */
  | 'refused'
  /** No answer, or a 5xx: whether it applied is unknown, so the plan is rebuilt. */
  | 'failed';

export type DecisionOutcome = 'hit' | Miss;

export const MISSES: readonly Miss[] = ['stale', 'late', 'contested', 'notQueued', 'refused', 'failed'];

export interface DecisionFigures {
  /** Decisions intended (sent, or skipped as stale) and of those applied at the intended tick. */
  decisions: number;
  hits: number;
  hitRate: number | null;
  misses: Record<Miss, number>;
  /** Over the most recent decisions (at most the capacity); latency over the sent ones. */
  recent: { decisions: number; hitRate: number | null; latencyP50Ms: number | null; latencyP99Ms: number | null };
  /** Of that latency, the part before the decision: tick published → tick-end read by the scheduler. */
  readLagP50Ms: number | null;
  readLagP99Ms: number | null;
}

export class LiveFigures {
  private decisions = 0;
  private hits = 0;
  private readonly misses = Object.fromEntries(MISSES.map((m) => [m, 0])) as Record<Miss, number>;
  private readonly hit: Uint8Array;
  private sent = 0;
  private readonly latency: Float64Array;

  private ticks = 0;
  private readonly readLag: Float64Array;

  constructor(
    private readonly capacity = 10_000,
    /** Told every sent decision's outcome and latency (the metrics' histogram). */
    private readonly onSent?: (outcome: DecisionOutcome, latencyMs: number) => void,
  ) {
    this.hit = new Uint8Array(capacity);
    this.latency = new Float64Array(capacity);
    this.readLag = new Float64Array(capacity);
  }

  recordTick(readLagMs: number): void {
    this.readLag[this.ticks++ % this.capacity] = readLagMs;
  }

  /** The outcome of a sent decision, with its latency. */
  record(outcome: DecisionOutcome, latencyMs: number): void {
    this.latency[this.sent++ % this.capacity] = latencyMs;
    this.count(outcome);
    this.onSent?.(outcome, latencyMs);
  }

  /** Decisions the policy made for a stale tick-end and that were not sent. */
  recordStale(decisions: number): void {
    for (let i = 0; i < decisions; i++) this.count('stale');
  }

  figures(): DecisionFigures {
    const n = Math.min(this.decisions, this.capacity);
    let recentHits = 0;
    for (let i = 0; i < n; i++) recentHits += this.hit[i]!;
    const q = quantiles(this.latency.subarray(0, Math.min(this.sent, this.capacity)));
    const lag = quantiles(this.readLag.subarray(0, Math.min(this.ticks, this.capacity)));
    return {
      decisions: this.decisions,
      hits: this.hits,
      hitRate: this.decisions ? this.hits / this.decisions : null,
      misses: { ...this.misses },
      recent: { decisions: n, hitRate: n ? recentHits / n : null, latencyP50Ms: q(0.5), latencyP99Ms: q(0.99) },
      readLagP50Ms: lag(0.5),
      readLagP99Ms: lag(0.99),
    };
  }

  private count(outcome: DecisionOutcome): void {
    const hit = outcome === 'hit';
    this.hit[this.decisions++ % this.capacity] = hit ? 1 : 0;
    if (hit) this.hits++;
    else this.misses[outcome]++;
  }
}

function quantiles(values: Float64Array): (p: number) => number | null {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return (p) => (n ? Math.round(sorted[Math.min(n - 1, Math.ceil(p * n) - 1)]! * 10) / 10 : null);
}
